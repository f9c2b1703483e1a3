"""Modules circusd-stats does without: circusd starts it with every circusd that has
``statsd = true`` (and again at each restart), and each import costs CPU at every start."""

import pytest
from support import imported_by

pytestmark = pytest.mark.timeout(30)

#: module -> what needs it
NOT_IMPORTED = {
    "ssl": "TLS, which circusd-stats does not use (asyncio's is a stand-in until used)",
    "_ssl": "ssl",
    "psutil": "nothing: the boot time, the RAM and whether circusd runs are read from /proc "
    "(circus.procinfo), as psutil reads them (~15 ms of CPU)",
    "dataclasses": "nothing: its few record classes are plain classes with __slots__",
    "inspect": "dataclasses (asyncio's is a stand-in until used): ~8 ms with ast, dis, tokenize",
    "circus.hosts.kernel_client": "sockets papa-kernel holds (circus.stats.socket_sources)",
    "shutil": "argparse's terminal width (papa_kernel.helpwidth finds it without; bz2, lzma)",
}


def test_circusd_stats_imports_only_what_it_runs(tmp_path):
    """circusd-stats' main, serving (circusd absent: it tries again every --interval) until a
    SIGTERM ends it."""
    loaded = imported_by(f"""
        import os, signal, threading
        from circus.cli.circusd_stats import main
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        code = main(["--endpoint", "ipc://{tmp_path}/c.sock", "--pubsub", "ipc://{tmp_path}/p.sock",
                     "--statspoint", "ipc://{tmp_path}/s.sock", "--interval", "0.1",
                     "--log-output", "{tmp_path}/log"])
        assert code == 0, code
    """)
    assert "circus.stats.streamer" in loaded and "circus.stats.procstat" in loaded
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in loaded}
