"""circusd-stats: the stats streamer (a support process of circusd) and its collectors.

- :mod:`circus.stats.streamer` follows circusd's processes through its events and publishes
  their stats every second on the stats endpoint;
- :mod:`circus.stats.procstat` samples a process cheaply from /proc;
- :mod:`circus.stats.sockets` counts hits and reads the backlog of circusd's sockets;
- :mod:`circus.stats.publisher` is the stats endpoint (XPUB: samples only what is subscribed);
- :mod:`circus.stats.client` is ``StatsClient``, the original's subscriber API.

``from circus import stats; stats.main()`` runs circusd-stats, as in the original.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run circusd-stats (the command line of :mod:`circus.cli.circusd_stats`)."""
    from circus.cli.circusd_stats import main as cli_main

    return cli_main(argv)
