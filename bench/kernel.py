"""papa-kernel benchmarks, each measured side by side with the raw OS operation in one run.

    .venv/bin/python bench/kernel.py [--quick]

1. spawn: N ``sleep`` processes through the kernel (``make process`` lines pipelined on one
   connection, replies read in order, as circusd does) versus a raw ``os.posix_spawn`` loop.
   Goal: kernel time within 1.5x of raw.
2. throughput: one process writes 1 GiB (``dd bs=1M``) to stdout; the kernel captures it and
   streams it to a watching client that acknowledges every batch, versus the same writer read
   straight from a pipe. Goal: at least 50% of the raw rate.
3. idle: the kernel's CPU use while hosting the N processes and a connected follow watcher,
   with nothing happening. Goal: ~0.

Everything started is stopped at the end (hosted processes, raw children, the kernel).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PROMPT = b"\n> "
SLEEP = shutil.which("sleep") or "/bin/sleep"
DD = shutil.which("dd") or "/bin/dd"


class Kernel:
    """A papa-kernel in a private temporary directory."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, "bench.sock")
        argv = [
            sys.executable,
            "-m",
            "papa_kernel.cli",
            "--socket",
            self.path,
            "--log-level",
            "error",
        ]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        line = self.proc.stdout.readline()
        if not line.startswith("papa-kernel ready"):
            raise SystemExit(f"kernel did not start: {line!r}")

    def connect(self) -> Connection:
        return Connection(self.path)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def children(self) -> list[int]:
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as handle:
            return [int(pid) for pid in handle.read().split()]

    def stop(self) -> None:
        for pid in self.children():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


class Connection:
    """A minimal blocking client."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buffer = b""
        self.read_reply()

    def read_reply(self) -> bytes:
        while PROMPT not in self.buffer:
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError
            self.buffer += data
        reply, _, self.buffer = self.buffer.partition(PROMPT)
        return reply

    def command(self, line: str) -> bytes:
        self.sock.sendall(line.encode() + b"\n")
        return self.read_reply()

    def close(self) -> None:
        self.sock.close()


# -- 1. spawn ---------------------------------------------------------------------------
def bench_spawn_raw(count: int) -> float:
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
    pids = []
    start = time.perf_counter()
    for _ in range(count):
        pids.append(os.posix_spawn(SLEEP, [SLEEP, "60"], {}, file_actions=actions, setsid=True))
    elapsed = time.perf_counter() - start
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        os.waitpid(pid, 0)
    os.close(devnull)
    return elapsed


def bench_spawn_kernel(kernel: Kernel, count: int) -> float:
    conn = kernel.connect()
    lines = "".join(f"make process bench.{i} {SLEEP} 60\n" for i in range(count)).encode()
    start = time.perf_counter()
    conn.sock.sendall(lines)
    for _ in range(count):
        reply = conn.read_reply()
        if not reply.startswith(b"bench."):
            raise SystemExit(f"spawn failed: {reply!r}")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


# -- 2. throughput ------------------------------------------------------------------------
def bench_throughput_raw(megabytes: int) -> tuple[float, int]:
    proc = subprocess.Popen(
        [DD, "if=/dev/zero", "bs=1M", f"count={megabytes}", "status=none"], stdout=subprocess.PIPE
    )
    buffer = bytearray(1 << 20)
    total = 0
    fd = proc.stdout.fileno()
    start = time.perf_counter()
    while count := os.readv(fd, [buffer]):
        total += count
    elapsed = time.perf_counter() - start
    proc.wait()
    proc.stdout.close()
    return elapsed, total


def bench_throughput_kernel(kernel: Kernel, megabytes: int) -> tuple[float, int]:
    conn = kernel.connect()
    line = f"make process bench.big watch=1 {DD} if=/dev/zero bs=1M count={megabytes} status=none\n"
    start = time.perf_counter()
    conn.sock.sendall(line.encode())
    total = WatchReader(conn.sock, conn.buffer).run()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, total


class WatchReader:
    """Streams watch batches with ``recv_into`` and counts output bytes; acks every batch."""

    def __init__(self, sock: socket.socket, initial: bytes) -> None:
        self.sock = sock
        self.buffer = bytearray(4 << 20)
        self.view = memoryview(self.buffer)
        self.pending = bytearray(initial)  # bytes of an unfinished header line
        self.skip = 0  # payload bytes (+ the joining newline) still to pass over
        self.total = 0
        self.lines = 0  # header lines seen (the first is the process line)

    def run(self) -> int:
        self._consume(memoryview(bytes(self.pending)), reset=True)
        while True:
            count = self.sock.recv_into(self.view)
            if not count:
                raise EOFError("kernel closed the watch")
            if self._consume(self.view[:count]):
                return self.total

    def _consume(self, data: memoryview, reset: bool = False) -> bool:
        if reset:
            self.pending = bytearray()
        pos, size = 0, len(data)
        while pos < size:
            if self.skip:
                step = min(self.skip, size - pos)
                self.skip -= step
                pos += step
                continue
            end = bytes(data[pos : pos + 200]).find(b"\n")
            if not self.pending and data[pos : pos + 2] == b"] ":
                self.sock.sendall(b"\n")
                pos += 2
                continue
            if end < 0:
                self.pending += data[pos:]
                if self.pending == b"] ":
                    self.sock.sendall(b"\n")
                    self.pending = bytearray()
                return False
            header = bytes(self.pending + data[pos : pos + end])
            self.pending = bytearray()
            pos += end + 1
            if self._header(header):
                return True
        return False

    def _header(self, header: bytes) -> bool:
        self.lines += 1
        kind = header.split(b":", 1)[0]
        if kind in (b"out", b"err"):
            length = int(header.rsplit(b":", 1)[1])
            self.total += length
            self.skip = length + 1
        elif kind == b"closed":
            return True
        return False


# -- 3. idle ------------------------------------------------------------------------------
def bench_idle(kernel: Kernel, seconds: float) -> float:
    watcher = kernel.connect()
    watcher.sock.sendall(b"watch processes follow=1 idle.*\n")
    before = kernel.cpu_seconds()
    time.sleep(seconds)
    used = kernel.cpu_seconds() - before
    watcher.close()
    return used / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (seconds, not minutes)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (best is kept)")
    args = parser.parse_args()
    sizes = {
        "count": 200 if args.quick else 1000,
        "megabytes": 128 if args.quick else 1024,
        "idle_seconds": 1.0 if args.quick else 5.0,
    }
    with tempfile.TemporaryDirectory(prefix="pk-bench-") as directory:
        kernel = Kernel(directory)
        try:
            results = run_all(kernel, args.rounds, **sizes)
        finally:
            kernel.stop()
    report(results, sizes["count"], sizes["megabytes"], args.rounds)
    return 0


def run_all(kernel: Kernel, rounds: int, count: int, megabytes: int, idle_seconds: float) -> dict:
    """Raw and kernel measurements alternate, so both see the same machine load."""
    results: dict[str, list[float]] = {key: [] for key in ("spawn_raw", "spawn_kernel",
                                                           "raw_time", "kernel_time")}  # fmt: skip
    for round_number in range(rounds):
        results["spawn_raw"].append(bench_spawn_raw(count))
        results["spawn_kernel"].append(bench_spawn_kernel(kernel, count))
        if round_number == rounds - 1:
            results["idle"] = [bench_idle(kernel, idle_seconds)]
        clear_processes(kernel, count)
        raw_time, raw_bytes = bench_throughput_raw(megabytes)
        kernel_time, kernel_bytes = bench_throughput_kernel(kernel, megabytes)
        if raw_bytes != kernel_bytes or raw_bytes != megabytes << 20:
            raise SystemExit(f"byte counts differ: raw {raw_bytes}, kernel {kernel_bytes}")
        results["raw_time"].append(raw_time)
        results["kernel_time"].append(kernel_time)
    return results


def clear_processes(kernel: Kernel, count: int) -> None:
    """Kill the spawned sleeps, wait until every one has exited, forget them."""
    conn = kernel.connect()
    conn.command("signal KILL bench.*")
    deadline = time.monotonic() + 60
    while conn.command("list processes bench.*").count(b"running=True"):
        if time.monotonic() > deadline:
            raise SystemExit("hosted processes did not exit")
        time.sleep(0.05)
    conn.command("remove processes bench.*")
    conn.close()


def report(results: dict, count: int, megabytes: int, rounds: int) -> None:
    best = {key: min(values) for key, values in results.items()}
    spawn_ratio = best["spawn_kernel"] / best["spawn_raw"]
    raw_rate = megabytes / best["raw_time"]
    kernel_rate = megabytes / best["kernel_time"]
    rows = [
        (f"spawn {count} sleep: raw posix_spawn", f"{best['spawn_raw']:.3f} s", ""),
        (f"spawn {count} sleep: papa-kernel", f"{best['spawn_kernel']:.3f} s",
         f"{spawn_ratio:.2f}x raw (goal <= 1.5x)"),
        (f"output {megabytes} MiB: raw pipe read", f"{raw_rate:.0f} MiB/s", ""),
        (f"output {megabytes} MiB: papa-kernel watch", f"{kernel_rate:.0f} MiB/s",
         f"{100 * kernel_rate / raw_rate:.0f}% of raw (goal >= 50%)"),
        (f"idle kernel CPU, {count} processes", f"{100 * best['idle']:.2f}% of a core",
         "(goal ~0)"),
    ]  # fmt: skip
    print(f"best of {rounds} alternating rounds; all rounds:")
    for key, values in results.items():
        print(f"  {key}: " + ", ".join(f"{value:.3f}" for value in values))
    width = max(len(row[0]) for row in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    sys.exit(main())
