"""Real network namespaces for tests (imported as ``netns``; tests/ is on sys.path).

``Namespaces(count)`` makes ``count`` network namespaces, each joined to the root namespace by
a veth pair whose root end is a port of a private bridge, on a /24 test subnet of its own::

    root namespace: bridge ctn<tag>w  10.A.B.1/24 (``ns.gateway``)
        |-- ctn<tag>r0 == veth == ctn<tag>n0  in ctn-<tag>-0: 10.A.B.10 (``ns[0].address``)
        |-- ctn<tag>r1 == veth == ctn<tag>n1  in ctn-<tag>-1: 10.A.B.11
        ...

Usage (a test, not a fixture, owns the namespaces; nothing survives the ``with``)::

    import netns

    def test_something(tmp_path):
        netns.require()                       # skips with the reason if namespaces are not allowed
        with netns.Namespaces(3) as ns:
            proc = ns.popen(0, ["python", "-m", "http.server", "--bind", ns[0].address, "8000"])
            ...                               # reach ns[0].address:8000 from this (root) namespace
            ns.link_down(1)                   # namespace 1 is cut off (packets dropped, no RST)
            ns.link_up(1)
            ns.run(2, ["ip", "addr"])         # subprocess.run inside namespace 2

- Unique names per run and per xdist worker: ``<tag>`` is this process's pid (hex) and a
  counter, and the subnet is picked, under a lock file shared by all workers, among the
  10.64.0.0/24 .. 10.254.255.0/24 networks that overlap nothing ``ip addr``/``ip route`` show.
- Every namespace has ``lo`` up. There is no default route: traffic stays on the test subnet
  and loopback.
- ``linked=True`` lets the namespaces reach each other through the bridge (by default the bridge
  ports are isolated: each namespace talks to the root namespace only).
- ``multicast=True`` turns multicast on for ``lo``, routes 224.0.0.0/4 to the veth inside each
  namespace and turns off the bridge's multicast snooping, so a datagram to a group floods to
  every port. The root namespace gets no multicast route (it would be shared with the rest of
  the machine): a sender there picks the bridge with ``IP_MULTICAST_IF`` = ``ns.gateway``, or
  runs inside one of the namespaces (with ``linked=True``).
- Processes: ``argv(i, cmd)`` is ``ip netns exec <name> cmd``; ``popen``/``run`` start them.
- Code of this process: ``call(i, function, *args)`` runs it in a thread that entered
  namespace ``i`` (``setns``: the sockets it makes are the namespace's), ``start`` in the
  background; no Python start-up (~0.1 s of CPU a ``python -c``). Only the network is the
  namespace's: ``/sys/class/net`` still shows the root namespace's interfaces (``ip netns
  exec`` remounts it), so code that lists interfaces there runs as a process.
- Cleanup (``close()``, called by ``__exit__`` and on a failed set-up): every process it
  started (``popen``, also one that has not entered its namespace yet) and every process still
  inside the namespaces is SIGKILLed (they were all started by this test), then the veth pairs,
  the bridge and the namespaces are deleted; ``leftovers()`` must then be empty, or ``close()``
  raises naming what is left. Leftovers of a run that was SIGKILLed (its pid is gone) are removed
  the next time a ``Namespaces`` is made.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import ipaddress
import itertools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PREFIX = "ctn"  # namespaces ctn-<tag>-<i>; links ctn<tag>r<i>, ctn<tag>n<i>, bridge ctn<tag>w
LOCK_PATH = "/tmp/circus-tests-netns.lock"  # serialises subnet choice across xdist workers
MAX_NAMESPACES = 40  # addresses .10 .. .49 of the /24
FIRST_HOST = 10  # namespace i gets .(10 + i); the bridge (root side) is .1
IP_TIMEOUT = 20  # seconds for one `ip` command (a loaded machine)
CLONE_NEWNET = 0x40000000  # sched.h: setns(2) into a network namespace
NETNS_DIR = "/run/netns"  # where `ip netns add` binds each namespace (its name)

_counter = itertools.count()
_unavailable: list[str | None] = []  # cached answer of unavailable()


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT, check=False
    )
    if check and result.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def _batch(lines: list[str], *options: str, tool: str = "ip", check: bool = True) -> str:
    """``lines`` (commands without the leading ``ip``) run by one ``ip -batch -`` process with
    ``options`` (``-n NAME``: inside that namespace; ``-force``: on past a failed line) instead
    of one process each (~2 ms of CPU a run); its output. ``tool="bridge"`` for ``bridge``."""
    if not lines:
        return ""
    result = subprocess.run(
        [tool, *options, "-batch", "-"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=IP_TIMEOUT,
        check=False,
    )
    if check and result.returncode != 0:  # ip names the line: "Command failed -:3"
        raise OSError(
            f"{tool} {' '.join(options)} -batch: {result.stderr.strip() or result.returncode} "
            f"(lines: {lines})"
        )
    return result.stdout


def unavailable() -> str | None:
    """Why this machine does not allow test network namespaces, or None if it does (the
    answer is cached). Probes by making a namespace with a veth pair in it."""
    if _unavailable:
        return _unavailable[0]
    reason: str | None = None
    if os.geteuid() != 0:
        reason = f"network namespaces need root (running as uid {os.geteuid()})"
    elif shutil.which("ip") is None:
        reason = "the ip command (iproute2) is not installed"
    else:
        probe = f"{PREFIX}-{os.getpid():x}gprobe"  # swept like the others if left
        try:
            made = _ip("netns", "add", probe, check=False)
            if made.returncode != 0:
                reason = f"cannot create a network namespace: {made.stderr.strip()}"
            else:
                veth = _ip(
                    "-n",
                    probe,
                    "link",
                    "add",
                    "name",
                    "a",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "b",
                    check=False,
                )
                if veth.returncode != 0:
                    reason = f"cannot create a veth pair: {veth.stderr.strip()}"
        finally:
            _ip("netns", "del", probe, check=False)
    _unavailable.append(reason)
    return reason


def require() -> None:
    """Skip the calling test, with the reason, where namespaces are not allowed."""
    import pytest

    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)


@dataclass(frozen=True)
class Namespace:
    """One namespace: its name, its address on the test subnet, and its veth pair's ends."""

    name: str
    address: str
    outer: str  # root-namespace end (a bridge port): link_down/link_up act on it
    inner: str  # end inside the namespace


def _pid_of_tag(name: str) -> int | None:
    """The pid encoded in one of our names (``ctn-<pidhex>g<n>-<i>`` or ``ctn<pidhex>g<n>...``)."""
    rest = name[len(PREFIX) :].lstrip("-")
    head = rest.split("g", 1)[0]
    try:
        return int(head, 16) if "g" in rest else None
    except ValueError:
        return None


def _our_namespaces() -> list[str]:
    """The namespaces of these tests (of any process): what ``ip netns list`` shows, read
    from its directory."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if name.startswith(PREFIX + "-"))


def _our_links() -> list[str]:
    """The links of these tests in this (the root) namespace, as /sys/class/net shows them."""
    return [
        name
        for name in os.listdir("/sys/class/net")
        if name.startswith(PREFIX) and _pid_of_tag(name)
    ]


def _pids_inside(name: str) -> list[int]:
    """The processes in namespace ``name`` (what ``ip netns pids`` does: the processes whose
    network namespace is the file ``ip netns add`` bound)."""
    try:
        bound = os.stat(os.path.join(NETNS_DIR, name))
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                inside = os.stat(f"/proc/{entry}/ns/net")
            except OSError:
                continue
            if (inside.st_dev, inside.st_ino) == (bound.st_dev, bound.st_ino):
                pids.append(int(entry))
    return pids


def _stale(name: str) -> bool:
    pid = _pid_of_tag(name)
    return pid is not None and not os.path.exists(f"/proc/{pid}")


def _sweep_stale(links: list[str], namespaces: list[str]) -> None:
    """Remove namespaces and links left by test processes that no longer exist."""
    stale = [name for name in namespaces if _stale(name)]
    for name in stale:
        _kill_inside(name)
    lines = [f"link del {name}" for name in links if _stale(name)]
    _batch([*lines, *(f"netns del {name}" for name in stale)], "-force", check=False)


def _used_networks() -> list[ipaddress.IPv4Network]:
    found = []
    out = _batch(["addr show", "route show table all"], "-4", "-o")
    for word in out.split():
        with contextlib.suppress(ValueError):
            if "/" in word or word.count(".") == 3:
                net = ipaddress.ip_network(word, strict=False)
                if net.version == 4 and net.prefixlen > 0:  # a default route overlaps nothing
                    found.append(net)
    return found


def _free_subnet(seed: int) -> ipaddress.IPv4Network:
    used = _used_networks()
    candidates = 191 * 256  # 10.64.0.0/24 .. 10.254.255.0/24
    for step in range(candidates):
        index = (seed + step) % candidates
        net = ipaddress.ip_network(f"10.{64 + index // 256}.{index % 256}.0/24")
        if not any(net.overlaps(other) for other in used):
            return net
    raise OSError("no free /24 left in 10.64.0.0/10 for a test subnet")


def _kill_inside(name: str) -> None:
    """SIGKILL every process inside namespace ``name`` and wait (bounded) until they are gone."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pids = _pids_inside(name)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:  # reap our own children; others go to their parent / subreaper
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)


class InNamespace(threading.Thread):
    """``function(*args)`` in a thread of this process that first enters network namespace
    ``name`` (``setns``: the calling thread only); :meth:`result` waits for its value or
    raises its exception."""

    def __init__(self, name: str, function: Callable[..., Any], *args: Any) -> None:
        super().__init__(name=f"in {name}", daemon=True)
        self._path = os.path.join(NETNS_DIR, name)
        self._call = (function, args)
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDONLY)
            try:
                if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {self._path}")
            finally:
                os.close(fd)
            function, args = self._call
            self._value = function(*args)
        except BaseException as exc:  # raised again by result(), in the test's thread
            self._error = exc

    def result(self, timeout: float = 60) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"{self._call[0]!r} still running in {self._path} after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


class Namespaces:
    """``count`` network namespaces on a private subnet, joined to this one (see the module)."""

    def __init__(self, count: int, *, multicast: bool = False, linked: bool = False) -> None:
        if not 1 <= count <= MAX_NAMESPACES:
            raise ValueError(f"count must be 1..{MAX_NAMESPACES}, not {count}")
        self.count = count
        self.multicast = multicast
        self.linked = linked
        self.tag = ""
        self.bridge = ""
        self.gateway = ""  # the root namespace's address on the test subnet
        self.subnet = ""  # e.g. "10.71.3.0/24"
        self.namespaces: list[Namespace] = []
        self._procs: list[subprocess.Popen] = []
        self._made_links: list[str] = []
        self._made_namespaces: list[str] = []

    # --- set-up ----------------------------------------------------------------------------

    def __enter__(self) -> Namespaces:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _pick_tag(self, taken: set[str]) -> str:
        while True:
            tag = f"{os.getpid():x}g{next(_counter) % 100:02d}"
            if not any(tag in name for name in taken):
                return tag

    def _create(self) -> None:
        """Four ``ip -batch`` runs (and one ``bridge``) in the root namespace, one in each
        namespace: a run of ``ip`` costs ~2 ms of CPU, and a cluster took 45 of them."""
        with open(LOCK_PATH, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            links, namespaces = _our_links(), _our_namespaces()
            _sweep_stale(links, namespaces)
            self.tag = self._pick_tag(set(links) | set(namespaces))
            subnet = _free_subnet(seed=os.getpid() * 7 + int(self.tag.split("g")[1]))
            self.subnet = str(subnet)
            self.gateway = str(subnet[1])
            self.bridge = f"{PREFIX}{self.tag}w"
            self._made_links.append(self.bridge)
            root = [f"link add {self.bridge} type bridge"]
            root.append(f"addr add {self.gateway}/24 dev {self.bridge}")  # claims the subnet
            if self.multicast:
                root.append(f"link set {self.bridge} type bridge mcast_snooping 0")
            root.append(f"link set {self.bridge} up")
            planned = [self._plan(index, subnet) for index in range(self.count)]
            for namespace in planned:
                self._made_namespaces.append(namespace.name)
                self._made_links.append(namespace.outer)
                root += [
                    f"netns add {namespace.name}",
                    f"link add {namespace.outer} type veth peer name {namespace.inner} "
                    f"netns {namespace.name}",
                    f"link set {namespace.outer} master {self.bridge}",
                ]
            _batch(root)
        if not self.linked:  # isolated before the ports are up
            isolate = [f"link set dev {n.outer} isolated on" for n in planned]
            _batch(isolate, tool="bridge")
        _batch([f"link set {namespace.outer} up" for namespace in planned])
        for namespace in planned:
            inside = [
                "link set lo up",
                f"addr add {namespace.address}/24 dev {namespace.inner}",
                f"link set {namespace.inner} up",
            ]
            if self.multicast:
                inside += [
                    "link set lo multicast on",
                    f"route add 224.0.0.0/4 dev {namespace.inner}",
                ]
            _batch(inside, "-n", namespace.name)
        self.namespaces = planned

    def _plan(self, index: int, subnet: ipaddress.IPv4Network) -> Namespace:
        return Namespace(
            name=f"{PREFIX}-{self.tag}-{index}",
            address=str(subnet[FIRST_HOST + index]),
            outer=f"{PREFIX}{self.tag}r{index}",
            inner=f"{PREFIX}{self.tag}n{index}",
        )

    # --- use ---------------------------------------------------------------------------------

    def __getitem__(self, index: int) -> Namespace:
        return self.namespaces[index]

    def __len__(self) -> int:
        return len(self.namespaces)

    def __iter__(self):
        return iter(self.namespaces)

    def argv(self, index: int, argv: list[str]) -> list[str]:
        """``argv`` run inside namespace ``index`` (``ip netns exec``, which execs: the
        process keeps the pid that Popen reports)."""
        return ["ip", "netns", "exec", self.namespaces[index].name, *argv]

    def popen(self, index: int, argv: list[str], **kwargs) -> subprocess.Popen:
        """Start ``argv`` inside namespace ``index``; it is killed by :meth:`close` at the
        latest (every process left in the namespace is)."""
        proc = subprocess.Popen(self.argv(index, argv), **kwargs)
        self._procs.append(proc)
        return proc

    def run(self, index: int, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        """``subprocess.run`` inside namespace ``index`` (output captured as text, 60 s
        bound, unless given)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.argv(index, argv), **kwargs)

    def start(self, index: int, function: Callable[..., Any], *args: Any) -> InNamespace:
        """``function(*args)`` in a thread of this process inside namespace ``index``, started;
        its ``result()`` waits for it."""
        thread = InNamespace(self.namespaces[index].name, function, *args)
        thread.start()
        return thread

    def call(self, index: int, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` run in a thread of this process inside namespace ``index``:
        its value, or its exception raised here."""
        return self.start(index, function, *args).result()

    def link_down(self, index: int) -> None:
        """Cut namespace ``index`` off: its bridge port goes down, so packets to and from it
        are dropped (a pulled cable, not a refused connection)."""
        _ip("link", "set", self.namespaces[index].outer, "down")

    def link_up(self, index: int) -> None:
        """Reconnect namespace ``index``."""
        _ip("link", "set", self.namespaces[index].outer, "up")

    # --- cleanup -----------------------------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Namespaces and links of this instance that still exist (empty after close())."""
        if not self.tag:
            return []
        links = [n for n in _our_links() if n.startswith(f"{PREFIX}{self.tag}")]
        return links + [n for n in _our_namespaces() if n.startswith(f"{PREFIX}-{self.tag}-")]

    def close(self) -> None:
        """Kill every process inside the namespaces, delete links, bridge and namespaces;
        raise if any of them is left. Safe to call twice."""
        for proc in self._procs:  # also one not inside yet (still `ip netns exec`)
            if proc.poll() is None:
                proc.kill()
        for name in self._made_namespaces:
            _kill_inside(name)
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self._procs.clear()
        # veths first (their peers go too), bridge last, then the namespaces; -force: on past
        # a link already gone (a veth whose namespace a failed set-up never made)
        lines = [f"link del {link}" for link in reversed(self._made_links)]
        _batch([*lines, *(f"netns del {name}" for name in self._made_namespaces)], "-force",
               check=False)  # fmt: skip
        self._made_links.clear()
        self._made_namespaces.clear()
        left = self.leftovers()
        if left:
            raise AssertionError(f"network namespaces/links left after cleanup: {left}")
