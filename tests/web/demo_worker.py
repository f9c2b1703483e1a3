"""A worker for the screenshots and the benchmark: uses about FRACTION of a core and prints a
line now and then, like a small service.

    python demo_worker.py FRACTION [EVERY]     # print a line every EVERY seconds (default 2)
"""

import os
import sys
import time

fraction = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
every = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
period = 0.1
count = 0
next_line = time.monotonic()
while True:
    start = time.monotonic()
    while time.monotonic() - start < fraction * period:
        pass
    time.sleep(max(0.0, period - (time.monotonic() - start)))
    if time.monotonic() >= next_line:
        count += 1
        stream = sys.stderr if count % 7 == 0 else sys.stdout
        what = "slow request" if stream is sys.stderr else "handled request"
        print(f"[{os.getpid()}] {what} #{count} in {3 + count % 11} ms", file=stream, flush=True)
        next_line += every
