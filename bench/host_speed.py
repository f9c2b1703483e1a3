"""How fast this machine runs Python right now: ``python bench/host_speed.py [ROUNDS]``.

A fixed loop of pure-Python arithmetic (one million multiplications and additions) is timed in
CPU time, ``ROUNDS`` times (default 10) with a short sleep between rounds, and the minimum,
median and maximum are printed in milliseconds. The loop does no I/O and allocates nothing
that grows, so on a given machine its CPU time should not move; when it does, the host is
giving this machine less of its processors (a virtual machine whose host is busy, a core shared
with a hyperthread sibling, a lowered clock).

Run it just before and after a test-suite or benchmark run to tell "the code got slower" from
"the machine did": on the 2-core test VM the median moved from 67 ms to over 120 ms within
minutes with nothing else running, and the suite's time moved with it
(docs/dev/test-suite.md).
"""

from __future__ import annotations

import statistics
import sys
import time

LOOP = 1_000_000
PAUSE = 0.2


def one_round() -> float:
    """CPU seconds of one pass of the fixed loop."""
    start = time.process_time()
    total = 0
    for i in range(LOOP):
        total += i * i
    return time.process_time() - start


def main(argv: list[str]) -> int:
    try:
        rounds = int(argv[0]) if argv else 10
    except ValueError:
        rounds = 0
    if rounds < 1 or len(argv) > 1:
        print(
            f"usage: host_speed.py [ROUNDS]  (ROUNDS: a whole number >= 1, got {argv})",
            file=sys.stderr,
        )
        return 2
    times = []
    for n in range(rounds):
        if n:
            time.sleep(PAUSE)
        times.append(one_round() * 1000)
    print(
        f"host speed: {LOOP:,} iterations in min {min(times):.0f} ms, "
        f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms ({rounds} rounds)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
