"""Output end to end: worker -> papa-kernel -> circusd -> FileStream, against ``worker > file``.

    .venv/bin/python bench/output.py                 # 256 MiB, 100 flooding workers (~3 min)
    .venv/bin/python bench/output.py --mib 1024      # the issue's 1 GiB
    .venv/bin/python bench/output.py --mib 64 --flooders 20 --calls 300 --systems ours
    .venv/bin/python bench/output.py --docs docs/benchmarks.md   # also write the doc section

1. **throughput** (goal: ours >= 50% of raw). One worker writes ``--mib`` MiB of 64-byte
   lines (``yes LINE | head -c BYTES``, the same command both ways):
   - raw: ``sh -c "... > FILE"`` on the same disk, timed from launch to exit;
   - ours: a circusd watcher (``autostart = false``, ``respawn = false``) with
     ``stdout_stream.class = FileStream``; timed from the ``start`` command until the file
     holds every byte (its size polled every 5 ms). The bytes are checked to be the same.
     The CPU time circusd and papa-kernel used for it is printed per MiB.
   Best and median of ``--repeat`` rounds, raw and ours alternating.
2. **control under flood** (goal: ours p99 < 5 ms). ``--flooders`` workers each run
   ``yes LINE`` (as fast as the pipe takes it) into a FileStream on /dev/null (what is measured
   is the kernel and circusd, not the disk). After 2 s, the bytes the workers wrote in 2 s
   (``wchar`` of /proc/PID/io) give the flood's rate and the daemons' CPU in that window is
   read; then ``--calls`` ``numwatchers`` round trips are timed, one client over ipc://, as
   bench/run.py's latency scenario; for ours also ``list values`` round trips straight to
   papa-kernel (its command replies during the flood). The same watcher with ``sleep``
   workers (no output) gives the round trips of the same machine without the flood, so the
   flood's own cost is told apart from the machine's load. Each system (ours, circus 0.19.0
   when ``.venv-circus019`` exists) runs ``--flood-rounds`` times, systems and the idle/flood
   order rotating; the samples of all rounds are pooled and the p99 of each round printed.
   The **floor**: during each flood of ours, the same client also times the same calls
   against a minimal asyncio + pyzmq ROUTER that only echoes (``ECHO_SERVER``, launched like
   circusd in a session of its own): what any asyncio/ZeroMQ server gets from this machine
   under this flood, i.e. the CPU scheduler's share of the figure.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(REPO))

from harness import procfs, report, scenarios  # noqa: E402
from harness.base import WATCHER, Installs  # noqa: E402
from harness.circus_systems import Circus019, CircusSystem, Ours  # noqa: E402
from run import compile_sources  # noqa: E402

LINE = "x" * 63  # + newline: 64-byte lines
FLOOD_SETTLE = 2.0  # seconds of flood before anything is measured
RATE_WINDOW = 2.0  # seconds over which the flood's rate and the daemons' CPU are read
#: The floor's server: what circusd does for ``numwatchers`` minus circusd (module docstring).
ECHO_SERVER = """
import asyncio, json, sys
import zmq, zmq.asyncio

async def serve(endpoint):
    sock = zmq.asyncio.Context.instance().socket(zmq.ROUTER)
    sock.bind(endpoint)
    while True:
        identity, body = await sock.recv_multipart()
        reply = {"id": json.loads(body).get("id"), "status": "ok", "numwatchers": 1}
        await sock.send_multipart([identity, json.dumps(reply).encode()])

asyncio.run(serve(sys.argv[1]))
"""
DOC_BEGIN = "<!-- output:begin -->"
DOC_END = "<!-- output:end -->"
PROMPT = b"\n> "


def writer(nbytes: int) -> str:
    """The shell command of the writing worker (``nbytes`` bytes of 64-byte lines)."""
    return f"yes {LINE} | head -c {nbytes}"


class OutputWatcher:
    """A circus system with one output watcher (mixed into Ours or Circus019)."""

    command = ""
    filename = ""
    autostart = True

    def configure(self, command: str, filename: str, autostart: bool) -> None:
        self.command, self.filename, self.autostart = command, filename, autostart

    def write_config(self) -> None:
        assert isinstance(self, CircusSystem)
        quoted = self.command.replace('"', '\\"')
        self.config_path.write_text(
            self.circus_section()
            + f'\n[watcher:{WATCHER}]\ncmd = /bin/sh\nargs = -c "{quoted}"\n'
            + f"numprocesses = {self.count}\nrespawn = false\n"
            + f"autostart = {'true' if self.autostart else 'false'}\n"
            + f"stdout_stream.class = FileStream\nstdout_stream.filename = {self.filename}\n"
        )


class OutputOurs(OutputWatcher, Ours):
    """Our circusd with one output watcher."""


class OutputCircus019(OutputWatcher, Circus019):
    """circus 0.19.0 with one output watcher."""


SYSTEMS: dict[str, type[OutputWatcher]] = {"ours": OutputOurs, "circus019": OutputCircus019}
LABELS = {"ours": "ours (kernel + circusd)", "circus019": "circus 0.19.0"}


def make_system(key: str, installs: Installs, workdir: Path, count: int, command: str,
                filename: str, autostart: bool) -> CircusSystem:  # fmt: skip
    system = SYSTEMS[key](installs, workdir, count)  # type: ignore[call-arg]
    system.configure(command, filename, autostart)
    assert isinstance(system, CircusSystem)
    return system


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.2f} ms"


# -- throughput -------------------------------------------------------------------------------


def raw_round(workdir: Path, nbytes: int) -> float:
    target = workdir / "raw.out"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", f"{writer(nbytes)} > {target}"], check=True)
    elapsed = time.perf_counter() - started
    if target.stat().st_size != nbytes:
        raise RuntimeError(f"raw wrote {target.stat().st_size} bytes, not {nbytes}")
    target.unlink()
    return elapsed


def ours_round(installs: Installs, workdir: Path, nbytes: int) -> tuple[float, list[float]]:
    """Seconds until the file holds every byte, and the CPU seconds of circusd and the kernel."""
    target = workdir / "ours.out"
    target.unlink(missing_ok=True)
    system = make_system("ours", installs, workdir, 1, writer(nbytes), str(target), False)
    try:
        system.write_config()
        system.launch()
        system.wait_listed(0, time.perf_counter() + 60)  # answers: started, nothing spawned
        cpu_before = [procfs.cpu_seconds(pid) for pid in system.daemon_pids()]
        started = time.perf_counter()
        system.call("start", name=WATCHER, timeout=60)
        deadline = started + 600
        while not target.exists() or target.stat().st_size < nbytes:
            system.check_alive()
            if time.perf_counter() > deadline:
                raise RuntimeError(f"ours: {target.stat().st_size}/{nbytes} bytes after 600 s")
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
        cpu = [procfs.cpu_seconds(pid) - before
               for pid, before in zip(system.daemon_pids(), cpu_before, strict=True)]  # fmt: skip
        if target.stat().st_size != nbytes:
            raise RuntimeError(f"ours wrote {target.stat().st_size} bytes, not {nbytes}")
        with open(target, "rb") as handle:  # the same bytes: lines intact, in order
            head = handle.read(1 << 20)
        if head != ((LINE + "\n").encode() * ((1 << 20) // 64))[: len(head)]:
            raise RuntimeError("ours: the file does not hold the worker's lines")
    finally:
        system.teardown()
        target.unlink(missing_ok=True)
    return elapsed, cpu


# -- control under a flood --------------------------------------------------------------------


@dataclass
class FloodResult:
    """The samples of one system in one mode (``flood`` or ``idle``), pooled over rounds."""

    control: list[float] = field(default_factory=list)
    round_p99: list[float] = field(default_factory=list)
    kernel: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # the echo server's round trips
    rates: list[float] = field(default_factory=list)  # MiB/s the workers wrote
    cpu: list[list[float]] = field(default_factory=list)  # % of one core per daemon


def written_bytes(pids: list[int]) -> int:
    """Bytes the processes wrote so far (``wchar``: every write system call)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/io") as handle:
                for line in handle:
                    if line.startswith("wchar:"):
                        total += int(line.split()[1])
        except OSError:
            continue  # exited
    return total


def kernel_round_trips(path: Path, calls: int) -> list[float]:
    """``list values`` round trips on a connection of our own to papa-kernel."""
    samples = []
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(30)
        conn.connect(str(path))
        _read_reply(conn)  # the greeting
        for _ in range(calls):
            started = time.perf_counter()
            conn.sendall(b"list values\n")
            _read_reply(conn)
            samples.append(time.perf_counter() - started)
    return samples


def _read_reply(conn: socket.socket) -> None:
    data = b""
    while not data.endswith(PROMPT) and data != b"> ":
        chunk = conn.recv(65536)
        if not chunk:
            raise RuntimeError("papa-kernel closed the connection")
        data += chunk


def flood_round(installs: Installs, key: str, workdir: Path, flooders: int, calls: int,
                flood: bool, result: FloodResult) -> None:  # fmt: skip
    command = f"yes {LINE}" if flood else f"{installs.sleep} 100000"
    system = make_system(key, installs, workdir, flooders, command, "/dev/null", True)
    try:
        system.write_config()
        system.launch()
        scenarios.wait_listed(system, flooders, time.perf_counter())
        time.sleep(FLOOD_SETTLE)
        daemons = system.daemon_pids()
        workers = [pid for parent in system.worker_parents() for pid in procfs.descendants(parent)]
        cpu_before = [procfs.cpu_seconds(pid) for pid in daemons]
        wrote_before, started = written_bytes(workers), time.perf_counter()
        time.sleep(RATE_WINDOW)
        elapsed = time.perf_counter() - started
        result.rates.append((written_bytes(workers) - wrote_before) / elapsed / 2**20)
        result.cpu.append([100 * (procfs.cpu_seconds(pid) - before) / elapsed
                           for pid, before in zip(daemons, cpu_before, strict=True)])  # fmt: skip
        samples = scenarios.measure_latency(system, calls)
        result.control.extend(samples)
        result.round_p99.append(scenarios.percentile(samples, 0.99))
        if isinstance(system, Ours):
            result.kernel.extend(kernel_round_trips(system.papa_socket, max(100, calls // 3)))
            result.floor.extend(echo_round_trips(installs, workdir, calls))
    finally:
        system.teardown()


def echo_round_trips(installs: Installs, workdir: Path, calls: int) -> list[float]:
    """The floor (module docstring): ``numwatchers`` round trips to ``ECHO_SERVER``."""
    from circus.client import CircusClient

    endpoint = f"ipc://{workdir}/echo.sock"
    server = subprocess.Popen([str(installs.ours_bin / "python"), "-c", ECHO_SERVER, endpoint],
                              stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    client = CircusClient(endpoint=endpoint, timeout=30)
    try:
        deadline = time.perf_counter() + 30
        while not (workdir / "echo.sock").exists():  # the client wants the socket file
            if server.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("the echo server did not bind")
            time.sleep(0.01)
        samples = []
        for _ in range(50 + calls):
            started = time.perf_counter()
            client.call({"command": "numwatchers", "properties": {}})
            samples.append(time.perf_counter() - started)
        return samples[50:]
    finally:
        client.stop()
        server.kill()
        server.wait()


def flood_rounds(installs: Installs, systems: list[str], tmp: Path, args: argparse.Namespace,
                 ) -> dict[tuple[str, str], FloodResult]:  # fmt: skip
    results: dict[tuple[str, str], FloodResult] = {}
    runs = [(key, mode) for key in systems for mode in ("idle", "flood")]
    for number in range(args.flood_rounds):
        shift = number % len(runs)
        for key, mode in runs[shift:] + runs[:shift]:
            result = results.setdefault((key, mode), FloodResult())
            workdir = tmp / f"flood-{key}-{mode}-{number}"
            workdir.mkdir()
            flood_round(installs, key, workdir, args.flooders, args.calls, mode == "flood",
                        result)  # fmt: skip
            rate = f", workers wrote {result.rates[-1]:.0f} MiB/s" if mode == "flood" else ""
            log(f"{key} {mode}: control p99 {ms(result.round_p99[-1])}{rate}")
    return results


# -- report -----------------------------------------------------------------------------------


def summary(args: argparse.Namespace, raw: list[float], ours: list[float],
            cpu: list[list[float]], flood: dict[tuple[str, str], FloodResult],
            loads: tuple[str, str]) -> str:  # fmt: skip
    lines = [f"Output end to end, {report.timestamp()}; {report.machine_description()}; "
             f"load average before: {loads[0]}, after: {loads[1]}.", ""]  # fmt: skip
    if raw and ours:
        mib = args.mib
        best_raw, best_ours = min(raw), min(ours)
        med_raw, med_ours = statistics.median(raw), statistics.median(ours)
        lines += [
            f"One worker writes {mib} MiB of 64-byte lines, {args.repeat} rounds alternating:",
            "",
            "| | best | median |",
            "|---|---|---|",
            f"| raw `worker > file` | {best_raw:.2f} s ({mib / best_raw:.0f} MiB/s) | "
            f"{med_raw:.2f} s ({mib / med_raw:.0f} MiB/s) |",
            f"| ours (kernel + circusd + FileStream) | {best_ours:.2f} s ({mib / best_ours:.0f} "
            f"MiB/s) | {med_ours:.2f} s ({mib / med_ours:.0f} MiB/s) |",
            f"| ours / raw (goal >= 50%) | **{100 * best_raw / best_ours:.0f}%** | "
            f"**{100 * med_raw / med_ours:.0f}%** |",
            "",
            f"CPU per MiB (median of the rounds): circusd "
            f"{1000 * statistics.median(c[0] for c in cpu) / mib:.2f} ms, papa-kernel "
            f"{1000 * statistics.median(c[1] for c in cpu) / mib:.2f} ms.",
            "",
        ]
    if flood:
        lines += [
            f"Control round trips (`numwatchers`, {args.calls} per round, "
            f"{args.flood_rounds} round(s) pooled) with {args.flooders} workers running "
            "`yes` into a FileStream on /dev/null, and with the same watcher running `sleep` "
            "(no output) on the same machine:",
            "",
            "| system | workers | output they wrote | daemons' CPU (% of a core) | control p50 "
            "| control p99 (each round) | papa-kernel `list values` p50 / p99 "
            "| floor: echo server p50 / p99 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for (key, mode), result in flood.items():
            cpu_text = " + ".join(f"{statistics.median(c[i] for c in result.cpu):.0f}"
                                  for i in range(len(result.cpu[0])))  # fmt: skip
            rate = f"{statistics.median(result.rates):.0f} MiB/s" if mode == "flood" else "-"
            rounds = ", ".join(f"{1000 * p:.1f}" for p in result.round_p99)
            kernel, floor = pair(result.kernel), pair(result.floor)
            lines.append(
                f"| {LABELS[key]} | {mode} "
                f"| {rate} | {cpu_text} | {ms(scenarios.percentile(result.control, 0.5))} "
                f"| **{ms(scenarios.percentile(result.control, 0.99))}** ({rounds}) | {kernel} "
                f"| {floor} |"
            )
        lines += ["", "Goal: ours p99 < 5 ms during the flood. Daemons' CPU: circusd + "
                  "papa-kernel for ours, circusd for circus 0.19.0, over the 2 s the rate is "
                  "read. Floor: the same calls to an asyncio + pyzmq server that only echoes, "
                  "during the same runs (the machine's scheduling under that load)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def pair(samples: list[float]) -> str:
    """``p50 / p99`` of ``samples``, or ``-``."""
    if not samples:
        return "-"
    return f"{ms(scenarios.percentile(samples, 0.5))} / {ms(scenarios.percentile(samples, 0.99))}"


def write_docs(path: Path, text: str) -> None:
    """Replace the text between the output markers of ``path`` (appended if missing)."""
    report.write_section(path, DOC_BEGIN, DOC_END, "## Output end to end: latest run", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="MiB the writing worker writes")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of raw and ours")
    parser.add_argument("--flooders", type=int, default=100, help="workers flooding output")
    parser.add_argument("--calls", type=int, default=1000, help="timed control calls per round")
    parser.add_argument("--flood-rounds", type=int, default=2, help="rounds of each flood run")
    parser.add_argument("--systems", default="ours,circus019",
                        help="systems of the flood scenario (ours, circus019)")  # fmt: skip
    parser.add_argument("--scenarios", default="throughput,flood",
                        help="throughput, flood or both")  # fmt: skip
    parser.add_argument("--docs", type=Path, help="also write the results into this file")
    parser.add_argument("--ours-source", type=Path, metavar="DIR",
                        help="run circusd and papa-kernel from DIR (a patched copy)")  # fmt: skip
    args = parser.parse_args(argv)
    installs = Installs.find(REPO, args.ours_source)
    compile_sources(args.ours_source or REPO)  # as bench/run.py: no compiling at each launch
    if reason := installs.missing("ours"):
        log(reason)
        return 2
    systems = [key for key in args.systems.split(",") if key]
    for key in list(systems):
        if key not in SYSTEMS or (reason := installs.missing(key)):
            log(f"skipping {key}: {reason or 'unknown system'}")
            systems.remove(key)
    wanted = set(args.scenarios.split(","))
    procfs.become_subreaper()
    procfs.raise_nofile_limit()
    nbytes = args.mib << 20
    load_before = report.load_average()
    raw: list[float] = []
    ours: list[float] = []
    cpu: list[list[float]] = []
    flood: dict[tuple[str, str], FloodResult] = {}
    with tempfile.TemporaryDirectory(prefix="circus-bench-out-") as tmp:
        try:
            for number in range(args.repeat if "throughput" in wanted else 0):
                workdir = Path(tmp) / f"round{number}"
                workdir.mkdir()
                for key in ("raw", "ours") if number % 2 == 0 else ("ours", "raw"):
                    if key == "raw":
                        raw.append(raw_round(workdir, nbytes))
                        log(f"raw  {args.mib} MiB in {raw[-1]:.2f} s")
                    else:
                        elapsed, used = ours_round(installs, workdir / "ours", nbytes)
                        ours.append(elapsed)
                        cpu.append(used)
                        log(f"ours {args.mib} MiB in {elapsed:.2f} s (CPU: circusd "
                            f"{used[0]:.2f} s, papa-kernel {used[1]:.2f} s)")  # fmt: skip
            if "flood" in wanted:
                flood = flood_rounds(installs, systems, Path(tmp), args)
        finally:
            procfs.kill_and_reap_children()
    text = summary(args, raw, ours, cpu, flood, (load_before, report.load_average()))
    print("\n" + text)
    if args.docs is not None:
        write_docs(args.docs, text)
        log(f"written to {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
