"""circusd-stats: the stats streamer (a support process of circusd) and its collectors.

- :mod:`circus.stats.streamer` follows circusd's processes through its events and publishes
  their stats every second on the stats endpoint;
- :mod:`circus.stats.procstat` samples a process cheaply from /proc;
- :mod:`circus.stats.sockets` counts hits and reads the backlog of circusd's sockets;
- :mod:`circus.stats.publisher` is the stats endpoint (XPUB: samples only what is subscribed);
- :mod:`circus.stats.client` is ``StatsClient``, the original's subscriber API.

The command line is :mod:`circus.cli.circusd_stats` (``circusd-stats``; the original's
``python -c 'from circus import stats; stats.main()'`` becomes
``python -m circus.cli.circusd_stats``).
"""
