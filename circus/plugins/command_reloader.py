"""``CommandReloader``: restart a watcher when the file its ``cmd`` runs changes.

Every ``loop_rate`` seconds (default 1) the plugin lists the watchers (plugins excluded), reads
each one's ``cmd`` and resolves its program (the first word; a bare name is looked up on
``PATH``) to a real path. When that path or its modification time differs from the previous
look, the watcher is restarted. The first look only records. A program that cannot be found is
skipped (logged once per path).
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import TYPE_CHECKING, Any, ClassVar

from circus.config import shellwords
from circus.plugins.base import CircusPlugin
from circus.plugins.statsd import periodic

if TYPE_CHECKING:
    from tornado.ioloop import PeriodicCallback

log = logging.getLogger(__name__)


class CommandReloader(CircusPlugin):
    """Restarts watchers whose command file was modified (``loop_rate`` seconds, default 1)."""

    name = "command_reloader"
    config_options: ClassVar[dict[str, str]] = {"loop_rate": "seconds"}  # fmt: skip

    def __init__(self, *args: Any, **config: Any):
        super().__init__(*args, **config)
        self.loop_rate = float(self.config.get("loop_rate", 1))
        if self.loop_rate <= 0:
            raise ValueError(f"loop_rate must be > 0 seconds, got {self.loop_rate}")
        #: watcher -> {"path": real path, "mtime": modification time} at the last look
        self.cmd_files: dict[str, dict[str, Any]] = {}
        self._missing: set[str] = set()
        self.period: PeriodicCallback | None = None

    def is_modified(self, watcher: str, current_mtime: float, current_path: str) -> bool:
        """Did ``watcher``'s program change since the last look (False if never seen)?"""
        seen = self.cmd_files.get(watcher)
        if seen is None:
            return False
        return seen["mtime"] != current_mtime or seen["path"] != current_path

    def look_after(self) -> None:
        listed = self.call("list")
        watchers = [w for w in listed.get("watchers", []) if not w.startswith("plugin:")]
        for gone in set(self.cmd_files) - set(watchers):
            del self.cmd_files[gone]
        for watcher in watchers:
            reply = self.call("get", name=watcher, keys=["cmd"])
            cmd = reply.get("options", {}).get("cmd")
            path = _program(cmd) if isinstance(cmd, str) else None
            if path is None:
                self._skip(watcher, cmd)
                continue
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                self._skip(watcher, path)
                continue
            if self.is_modified(watcher, mtime, path):
                log.info("%s modified. Restarting %s.", path, watcher)
                self.call("restart", name=watcher)
            elif watcher not in self.cmd_files:
                log.info("watching %s for %s", path, watcher)
            self.cmd_files[watcher] = {"path": path, "mtime": mtime}

    def _skip(self, watcher: str, what: Any) -> None:
        self.cmd_files.pop(watcher, None)
        key = f"{watcher}:{what}"
        if key not in self._missing:
            self._missing.add(key)
            log.warning("%s: cannot find the program of cmd %r: not watched", watcher, what)

    def handle_init(self) -> None:
        self.period = periodic(self.look_after, self.loop_rate)

    def handle_stop(self) -> None:
        if self.period is not None:
            self.period.stop()

    def handle_recv(self, data: Any) -> None:
        pass


def _program(cmd: str) -> str | None:
    """The real path of the program ``cmd`` runs (its first word), or None."""
    try:
        words = shellwords.split(cmd)
    except ValueError:
        return None
    if not words:
        return None
    found = words[0] if os.sep in words[0] else shutil.which(words[0])
    return os.path.realpath(found) if found else None
