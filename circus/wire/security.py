"""Socket security for the control and event channels: ipc file ownership and ZeroMQ CURVE.

* ipc endpoints: the socket file is made 0600 (only circusd's user, or ``endpoint_owner`` when
  set, may connect); the default endpoints also live in a 0700 runtime directory.
* tcp endpoints on a non-loopback address are refused unless CURVE is configured.
* CURVE (``[circus] curve_secret_key`` = the server's zmq certificate file with its secret key,
  ``curve_public_keys`` = a directory of the authorised clients' public certificates): the ROUTER
  and PUB sockets run in CURVE server mode; a ZAP authenticator (``zmq.auth.asyncio``, one per
  ZeroMQ context, held by the control and event sockets and stopped with the last of them, also
  when a bind fails) admits only clients whose public key is in the directory. Clients pass their
  own certificate and the server's public certificate (circusctl ``--curve-secret-key`` /
  ``--curve-server-key``).

Generate certificates with ``python -m zmq.auth`` helpers, e.g.
``zmq.auth.create_certificates(dir, "server")``; see docs/security.md.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from typing import Any

import zmq

from circus.errors import ConfigError
from circus.util.private_dirs import require_private_parent
from papa_kernel.records import frozen_record

IPC_SOCKET_MODE = 0o600  # only the owner may connect to a control/events ipc socket


@frozen_record
class CurveServer:
    """CURVE server settings: our certificate (with secret key) + authorised client keys."""

    secret_key_file: str
    public_keys_dir: str

    @classmethod
    def from_settings(cls, settings: Any) -> CurveServer | None:
        secret = getattr(settings, "curve_secret_key", None)
        public = getattr(settings, "curve_public_keys", None)
        if not secret and not public:
            return None
        if not (secret and public):
            raise ConfigError("curve_secret_key and curve_public_keys must be given together")
        return cls(str(secret), str(public))

    def load(self) -> tuple[bytes, bytes]:
        """(public, secret) of the server certificate; ConfigError naming the file if bad."""
        import zmq.auth

        if not os.path.isdir(self.public_keys_dir):
            raise ConfigError(f"curve_public_keys: {self.public_keys_dir} is not a directory")
        try:
            public, secret = zmq.auth.load_certificate(self.secret_key_file)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"curve_secret_key: cannot load {self.secret_key_file}: {exc}"
            ) from None
        if not secret:
            raise ConfigError(f"curve_secret_key: {self.secret_key_file} holds no secret key")
        return public, secret


ZAP_DOMAIN = "circus"  # the ZAP domain of circusd's server sockets
#: id(context) -> [context, its authenticator, how many users hold it]
_AUTHENTICATORS: dict[int, list[Any]] = {}
#: libzmq frees the inproc address of a closed socket in its reaper thread, a moment after the
#: close: an authenticator started right after the last one stopped (circusd started again in
#: the same process) retries its bind for this long (seconds). A retry took 1 ms at most.
ZAP_REBIND_WAIT = 1.0
_ZAP_REBIND_STEP = 0.001


def ensure_authenticator(context: zmq.Context, curve: CurveServer) -> None:
    """Start the ZAP handler of ``context`` that admits the authorised client keys (its first
    user) or count one more user. Each call is matched by one :func:`release_authenticator`."""
    entry = _AUTHENTICATORS.get(id(context))
    if entry is not None and entry[0] is context:
        entry[2] += 1
        return
    auth = _start_authenticator(context)
    auth.configure_curve(domain=ZAP_DOMAIN, location=curve.public_keys_dir)
    _AUTHENTICATORS[id(context)] = [context, auth, 1]


def release_authenticator(context: zmq.Context) -> None:
    """One user of the ZAP handler of ``context`` fewer; the last one stops it."""
    entry = _AUTHENTICATORS.get(id(context))
    if entry is None or entry[0] is not context:
        return
    entry[2] -= 1
    if entry[2] <= 0:
        del _AUTHENTICATORS[id(context)]
        entry[1].stop()


def _start_authenticator(context: zmq.Context) -> Any:
    import time

    from zmq.auth.asyncio import AsyncioAuthenticator

    deadline = time.monotonic() + ZAP_REBIND_WAIT
    while True:
        auth = AsyncioAuthenticator(context)
        try:
            auth.start()
            return auth
        except zmq.ZMQError as exc:
            auth.stop()  # its half-made ZAP socket
            if exc.errno != zmq.EADDRINUSE or time.monotonic() >= deadline:
                raise
        time.sleep(_ZAP_REBIND_STEP)  # the previous handler's address is about to be free


def secure_server_socket(socket: zmq.Socket, endpoint: str, curve: CurveServer | None) -> None:
    """Apply CURVE server options before bind; refuse an unprotected remote TCP endpoint."""
    if curve is not None:
        public, secret = curve.load()
        socket.curve_secretkey = secret
        socket.curve_publickey = public
        socket.curve_server = True
        socket.zap_domain = ZAP_DOMAIN.encode()
    elif _is_remote_tcp(endpoint):
        raise ConfigError(
            f"endpoint {endpoint}: a non-loopback tcp endpoint needs CURVE keys "
            "(curve_secret_key and curve_public_keys), or use ipc:// or 127.0.0.1"
        )


def secure_client_socket(
    socket: zmq.Socket, secret_key_file: str | None, server_key_file: str | None
) -> None:
    """CURVE client options: our certificate (public+secret) and the server's public one."""
    if not secret_key_file and not server_key_file:
        return
    if not (secret_key_file and server_key_file):
        raise ConfigError("CURVE needs both a client secret key file and the server public key")
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(secret_key_file)
        server_public, _ = zmq.auth.load_certificate(server_key_file)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load CURVE certificate: {exc}") from None
    if not secret:
        raise ConfigError(f"{secret_key_file} holds no secret key")
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_serverkey = server_public


def _is_remote_tcp(endpoint: str) -> bool:
    if not endpoint.startswith("tcp://"):
        return False
    import ipaddress  # here: kept out of circusd's memory until an address is checked

    host = endpoint[len("tcp://") :].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return False
    if not host:
        return True
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name or an interface: may be reachable from elsewhere


def prepare_ipc_path(endpoint: str) -> str | None:
    """Create the parent directory (0700) of an ipc endpoint if missing and check that no
    other user could plant a socket in it (UnsafePathError); return the socket path."""
    if not endpoint.startswith("ipc://"):
        return None
    return require_private_parent(endpoint[len("ipc://") :], f"endpoint {endpoint}")


@frozen_record
class IpcSocketFile:
    """The file of a bound ipc endpoint: ZeroMQ leaves it on disk when the socket closes, so
    its owner removes it, unless another file (a new circusd's socket) took the path since."""

    path: str
    device: int
    inode: int

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            info = os.lstat(self.path)
            if (info.st_dev, info.st_ino) == (self.device, self.inode):
                os.unlink(self.path)


def restrict_ipc_socket(path: str, owner: str | None) -> IpcSocketFile:
    """Make a freshly bound ipc socket 0600, owned by ``owner`` (a user name or uid) if given;
    returns the file, to :meth:`~IpcSocketFile.remove` it when the socket is closed."""
    if owner:
        uid = int(owner) if str(owner).isdigit() else _uid_of(owner)
        os.chown(path, uid, -1)
        closed = _closed_directory(path, uid)
        if closed is not None:
            mode = os.stat(closed).st_mode & 0o7777
            import logging  # here: the client tools (circusctl) import this module without it

            logging.getLogger(__name__).warning(
                "endpoint_owner %s cannot reach %s: it may not enter %s (mode %04o); make that "
                "directory 0711, or put the endpoint in a directory that user can enter",
                owner,
                path,
                closed,
                mode,
            )
    os.chmod(path, IPC_SOCKET_MODE)
    info = os.lstat(path)
    return IpcSocketFile(path, info.st_dev, info.st_ino)


def _closed_directory(path: str, uid: int) -> str | None:
    """The first directory on the way to ``path`` that user ``uid`` may not enter, or None."""
    if uid == 0:
        return None
    try:
        user = pwd.getpwuid(uid)
        groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    except KeyError:  # a uid without a name: its own group only if it is the directory's
        groups = set()
    directory = os.path.dirname(os.path.abspath(path))
    parents = [directory]
    while directory != os.path.dirname(directory):
        directory = os.path.dirname(directory)
        parents.append(directory)
    for directory in reversed(parents):  # from / down
        info = os.stat(directory)
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


def _uid_of(user: str) -> int:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise ConfigError(f"endpoint_owner: unknown user {user!r}") from None
