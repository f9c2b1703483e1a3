"""Pieces of the side-by-side benchmark harness run by ``bench/run.py``.

- :mod:`harness.procfs`: what the operating system says (children, exec'd command, RSS, CPU),
  child-subreaper set-up, killing and reaping everything a run started.
- :mod:`harness.systems`: one driver per system under test (ours, circus 0.19.0, supervisor
  4.3.0, a raw ``os.posix_spawn`` loop) behind one small interface.
- :mod:`harness.scenarios`: the measurements, written once against that interface.
- :mod:`harness.report`: the table (absolute figures, ratios, goals).
"""
