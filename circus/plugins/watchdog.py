"""``WatchDog``: kill processes that stop sending UDP heartbeats.

The plugin binds a UDP socket (``ip``:``port``, default 127.0.0.1:1664). Each monitored
process sends, at least every ``loop_rate`` seconds, a datagram that ``msg_regex`` decodes
(default ``^(?P<pid>.*);(?P<timestamp>.*)$``: ``"<pid>;<timestamp>"``); the ``pid`` group is
required. Every ``loop_rate`` seconds the plugin kills (the ``kill`` command, with the
watcher's ``stop_signal`` and ``graceful_timeout`` unless ``watchers_stop_signal`` /
``watchers_graceful_timeout`` say otherwise) each monitored process that sent nothing for
``loop_rate * max_count`` seconds; circusd respawns it like any process that died.

Monitored: the processes of the watchers whose name matches ``watchers_regex`` (default
``.*``), except plugin watchers (``plugin:*``: they send no heartbeats, and the watchdog must
not kill itself). They are listed on the first look, then followed through circusd's
``spawn`` and ``reap`` events; a new process counts as active from its spawn.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from typing import TYPE_CHECKING, Any, ClassVar

from circus.config.converters import to_signum
from circus.plugins.base import CircusPlugin
from circus.plugins.statsd import periodic

if TYPE_CHECKING:
    from tornado.ioloop import PeriodicCallback

log = logging.getLogger(__name__)

DEFAULT_MSG_REGEX = "^(?P<pid>.*);(?P<timestamp>.*)$"
#: Longest heartbeat datagram read (bytes); longer ones are truncated by the kernel.
MAX_DATAGRAM = 1024


class WatchDog(CircusPlugin):
    """Kills the monitored processes that miss ``max_count`` heartbeat periods."""

    name = "watchdog"
    config_options: ClassVar[dict[str, str]] = {
        "loop_rate": "seconds", "watchers_regex": "regex", "msg_regex": "regex",
        "max_count": "count", "ip": "str", "port": "port", "watchers_stop_signal": "signal",
        "watchers_graceful_timeout": "number",
    }  # fmt: skip

    def __init__(
        self,
        endpoint: str,
        pubsub_endpoint: str,
        check_delay: float,
        ssh_server: str | None = None,
        **config: Any,
    ):
        super().__init__(endpoint, pubsub_endpoint, check_delay, ssh_server=ssh_server, **config)
        self.loop_rate = float(config.get("loop_rate", 60))  # seconds
        if self.loop_rate <= 0:
            raise ValueError(f"loop_rate must be > 0 seconds, got {self.loop_rate}")
        self.watchers_regex = re.compile(config.get("watchers_regex", ".*"))
        self.msg_regex = re.compile(config.get("msg_regex", DEFAULT_MSG_REGEX))
        if "pid" not in self.msg_regex.groupindex:
            raise ValueError(f"msg_regex {self.msg_regex.pattern!r} has no (?P<pid>...) group")
        self.max_count = int(config.get("max_count", 3))
        self.watchdog_ip = config.get("ip", "127.0.0.1")
        self.watchdog_port = int(config.get("port", 1664))
        signal_name = config.get("watchers_stop_signal")
        self.stop_signal = to_signum(signal_name) if signal_name else None
        timeout = config.get("watchers_graceful_timeout")
        self.graceful_timeout = float(timeout) if timeout else None
        #: pid (text) -> {"watcher": name, "last_activity": time.time() of its last sign}
        self.pid_status: dict[str, dict[str, Any]] = {}
        self.period: PeriodicCallback | None = None
        self.sock: socket.socket | None = None
        self.starting = True

    # --- lifecycle ---------------------------------------------------------------------------

    def handle_init(self) -> None:
        """Bind the UDP socket (an error ends the plugin: it could watch nothing) and start the
        periodic check."""
        self._bind_socket()
        self.period = periodic(self.look_after, self.loop_rate)

    def handle_stop(self) -> None:
        if self.period is not None:
            self.period.stop()
        if self.sock is not None:
            self.loop.remove_handler(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def _bind_socket(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.watchdog_ip, self.watchdog_port))
        except OSError as exc:
            sock.close()
            raise OSError(
                exc.errno, f"watchdog cannot bind {self.watchdog_ip}:{self.watchdog_port}: {exc}"
            ) from None
        sock.setblocking(False)
        self.sock = sock
        self.loop.add_handler(sock.fileno(), self.receive_udp_socket, self.loop.READ)
        log.info("Watchdog listening UDP on %s:%s", self.watchdog_ip, self.watchdog_port)

    # --- circusd's events --------------------------------------------------------------------

    def _match_watcher_name(self, name: str) -> bool:
        return not name.startswith("plugin:") and self.watchers_regex.match(name) is not None

    def handle_recv(self, data: Any) -> None:
        """``spawn`` adds the new pid, ``reap`` removes it (monitored watchers only)."""
        watcher_name, action, msg = self.split_data(data)
        if action not in ("spawn", "reap") or not self._match_watcher_name(watcher_name):
            return
        try:
            message = self.load_message(msg)
        except ValueError:
            log.error("Error while decoding json for message: %s", msg)
            return
        if not isinstance(message, dict) or "process_pid" not in message:
            log.warning("no process_pid in message %r", message)
            return
        pid = str(message["process_pid"])
        if action == "spawn":
            self.pid_status[pid] = {"watcher": watcher_name, "last_activity": time.time()}
            log.info("added new monitored pid for %s:%s", watcher_name, pid)
        elif self.pid_status.pop(pid, None) is not None:
            log.info("removed monitored pid for %s:%s", watcher_name, pid)

    def _discover_monitored_pids(self) -> None:
        """Every pid of the monitored watchers, active as of now (the first look only: the
        events keep the list current afterwards)."""
        self.pid_status = {}
        for watcher_name in self.call("list").get("watchers", []):
            if not self._match_watcher_name(watcher_name):
                continue
            for pid in self.call("list", name=watcher_name).get("pids", []):
                self.pid_status[str(pid)] = {"watcher": watcher_name, "last_activity": time.time()}
                log.info("discovered: %s, pid:%s", watcher_name, pid)

    # --- heartbeats --------------------------------------------------------------------------

    def _decode_received_udp_message(self, data: bytes) -> dict[str, Any] | None:
        match = self.msg_regex.match(data.decode("utf-8", "replace").strip())
        return match.groupdict() if match is not None else None

    def receive_udp_socket(self, fd: int, events: int) -> None:
        """Read every datagram waiting; each decoded heartbeat refreshes its pid."""
        while self.sock is not None:
            try:
                data, _addr = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("watchdog socket: %s", exc)
                return
            heartbeat = self._decode_received_udp_message(data)
            pid = heartbeat.get("pid") if heartbeat else None
            if pid is None:
                log.warning("undecodable watchdog message: %r", data[:80])
            elif pid in self.pid_status:
                self.pid_status[pid]["last_activity"] = time.time()
            else:
                log.warning("received watchdog for a non monitored process:%s", heartbeat)
            log.debug("watchdog message: %s", heartbeat)

    def look_after(self) -> None:
        """Kill each monitored process silent for ``loop_rate * max_count`` seconds."""
        if self.starting:
            self._discover_monitored_pids()
            self.starting = False
        too_old = time.time() - self.loop_rate * self.max_count
        for pid, detail in list(self.pid_status.items()):
            if detail["last_activity"] >= too_old:
                continue
            log.info("watcher:%s, pid:%s is not responding. Kill it !", detail["watcher"], pid)
            props: dict[str, Any] = {"name": detail["watcher"], "pid": int(pid)}
            if self.stop_signal is not None:
                props["signum"] = self.stop_signal
            if self.graceful_timeout is not None:
                props["graceful_timeout"] = self.graceful_timeout
            self.cast("kill", **props)
            # the watcher stops it (graceful_timeout, then SIGKILL) and respawns it
            del self.pid_status[pid]
