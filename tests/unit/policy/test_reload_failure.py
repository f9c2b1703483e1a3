"""reloadconfig whose socket cannot be bound once under way (what the up-front address check
cannot foresee: a port taken in between, a unix path refused): the configuration circusd
records is what was applied, so the same reloadconfig, once the cause is gone, applies the
rest. (It recorded the whole new configuration, and the retry said 'no change'.)"""

from __future__ import annotations

import pytest

from circus.config import load_config
from circus.errors import HostError
from circus.hosts.base import SocketInfo, SocketSpec
from circus.reloader import converge
from circus.testing import FakeHost, arbiter_on, start_arbiter, virtual_time


class RefusingHost(FakeHost):
    """A FakeHost that refuses to bind the sockets named in ``refused``."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()

    async def make_socket(self, spec: SocketSpec) -> SocketInfo:
        if spec.name in self.refused:
            raise HostError(f"Bind failed on {spec.path}: No such file or directory")
        return await super().make_socket(spec)


BEFORE = "[watcher:a]\ncmd = prog\n[watcher:b]\ncmd = prog\nnumprocesses = 1\n"
AFTER = (
    "[watcher:a]\ncmd = prog\n"  # unchanged
    "[watcher:b]\ncmd = prog\nnumprocesses = 2\n"  # changed
    "[socket:u]\npath = /run/app/u.sock\n"  # added: its bind fails
    "[watcher:c]\ncmd = prog $(circus.sockets.u)\nuse_sockets = true\n"  # added, uses it
)


@virtual_time
async def test_a_failed_bind_records_only_what_was_applied(tmp_path):
    path = tmp_path / "circus.ini"
    path.write_text(BEFORE)
    host = RefusingHost()
    arbiter = await start_arbiter(arbiter_on(host, load_config(path), config_path=str(path)))
    path.write_text(AFTER)
    host.refused.add("circus.u")
    with pytest.raises(HostError, match=r"\[socket:u\] Bind failed"):
        await converge(arbiter, load_config(path))
    recorded = arbiter.config
    assert [s.name for s in recorded.sockets] == []
    assert sorted(w.name for w in recorded.watchers) == ["a", "b"]
    assert recorded.get_watcher("b").numprocesses == 1  # not applied: b was not reached

    host.refused.clear()  # the cause is gone: the same reload applies the rest
    report = await converge(arbiter, load_config(path))
    assert (report["added"], report["changed"]) == (["c"], ["b"]), report
    assert [s.name for s in arbiter.config.sockets] == ["u"]
    assert len(arbiter.get_watcher("b").processes) == 2
