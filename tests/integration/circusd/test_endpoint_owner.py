"""[circus] endpoint_owner as docs/security.md tells it: the socket files belong to that user,
who can then use circusd only if it may enter the endpoint's directory; when it may not,
circusd says so in its log (it said nothing, and the user's circusctl found no circusd)."""

import os
import shutil
import tempfile

import pytest
import support

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to serve another user"),
]


@pytest.fixture
def open_dir():
    """A directory under /tmp that nobody may enter (0711), as docs/security.md asks."""
    directory = tempfile.mkdtemp(prefix="circus-owner-")
    os.chmod(directory, 0o711)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def owned_by_nobody(d: support.Circusd, directory: str, worker_cmd: str) -> None:
    d.endpoint = f"ipc://{directory}/ctl.sock"
    d.pubsub = f"ipc://{directory}/pub.sock"
    d.write_config(f"[watcher:w]\ncmd = {worker_cmd} sleep\n", "endpoint_owner = nobody\n")


def nobody_status(endpoint: str) -> tuple[int, str]:
    from circus.cli import circusctl

    return support.as_nobody(lambda: circusctl.main(["--endpoint", endpoint, "status"]))


def test_the_owner_uses_circusd_through_a_directory_it_may_enter(circusd, worker_cmd, open_dir):
    d = circusd("", start=False)
    owned_by_nobody(d, open_dir, worker_cmd)
    d.start()
    code, err = nobody_status(d.endpoint)
    assert code == 0, err
    assert "cannot reach" not in d.log()


def test_a_directory_the_owner_may_not_enter_is_a_warning(circusd, worker_cmd, open_dir):
    closed = os.path.join(open_dir, "run")  # circusd creates it, 0700 and root's
    d = circusd("", start=False)
    owned_by_nobody(d, closed, worker_cmd)
    d.start()
    assert oct(os.stat(closed).st_mode & 0o777) == oct(0o700)
    log = d.log()
    assert (
        f"endpoint_owner nobody cannot reach {closed}/ctl.sock: it may not enter {closed} "
        "(mode 0700); make that directory 0711" in log
    ), log
    code, err = nobody_status(d.endpoint)
    assert code == 1 and "permission denied" in err, err
    os.chmod(closed, 0o711)  # what the warning says to do
    code, err = nobody_status(d.endpoint)
    assert code == 0, err
