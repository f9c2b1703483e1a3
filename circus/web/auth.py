"""circushttpd's authentication: the users file, login tokens, sessions and the login rate limit.

Users file (``--auth-file``, made by ``circushttpd --add-user NAME``): one user per line,
``NAME:scrypt$N$r$p$SALT$HASH`` (salt and hash in URL-safe base64), lines starting with ``#``
ignored. Passwords are never stored: only the salted scrypt hash; checking one costs ~50 ms of
CPU and 16 MiB, which with the rate limit makes guessing slow. The file must not be readable by
other users (it is refused otherwise).

Without a users file (loopback binds only) circushttpd uses a login **token**: a random secret
printed at start (or read from ``--token-file``), as Jupyter does.

Sessions live in memory (a restart logs everybody out): a random id in an HttpOnly,
SameSite=Strict cookie (+ Secure under TLS), and a per-session CSRF secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import stat
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

#: scrypt cost: N=2**14, r=8, p=1 (16 MiB, ~50 ms), the parameters the Python docs suggest.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
#: User names: letters, digits and ``._@-``, 1 to 64 characters (they are written in a file).
USER_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MAX_PASSWORD = 1024  # characters; longer is refused (hashing is the slow part, not storing)
#: Session lifetime without a request, and the most sessions kept (oldest ended first).
SESSION_IDLE = 12 * 3600.0
MAX_SESSIONS = 1000
#: Wrong logins allowed per address per window, and over all addresses per window.
MAX_FAILURES = 5
MAX_FAILURES_ALL = 50
FAILURE_WINDOW = 60.0


class AuthFileError(Exception):
    """The users file cannot be used; ``str()`` says which file and why."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$SALT$HASH`` for ``password``."""
    salt = salt or secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=HASH_BYTES,
        maxmem=64 * 1024 * 1024,
    )
    b64 = base64.urlsafe_b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored`` (a :func:`hash_password` string)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_user_name(name: str) -> str:
    if not USER_NAME.match(name):
        raise ValueError(
            f"invalid user name {name[:70]!r}: use 1 to 64 letters, digits, '.', '_', '@' or '-'"
        )
    return name


def read_users(path: str) -> dict[str, str]:
    """``{name: hash}`` from the users file; :class:`AuthFileError` if it cannot be used."""
    try:
        with open(path, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode
            text = f.read()
    except OSError as exc:
        raise AuthFileError(f"auth file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise AuthFileError(f"auth file {path}: not UTF-8 text") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthFileError(
            f"auth file {path}: readable or writable by other users (mode {stat.S_IMODE(mode):o});"
            f" run chmod 600 {path}"
        )
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, hashed = line.partition(":")
        if not sep or not USER_NAME.match(name) or not hashed.startswith("scrypt$"):
            raise AuthFileError(
                f"auth file {path}:{number}: expected NAME:scrypt$..., got {line[:40]!r}"
            )
        users[name] = hashed
    return users


def add_user(path: str, name: str, password: str) -> bool:
    """Add or replace ``name`` in the users file (created 0600); True if it was replaced."""
    check_user_name(name)
    if not password:
        raise ValueError("empty password refused")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"password longer than {MAX_PASSWORD} characters refused")
    users = read_users(path) if os.path.exists(path) else {}
    replaced = name in users
    users[name] = hash_password(password)
    body = "".join(f"{user}:{hashed}\n" for user, hashed in users.items())
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        with _suppress_oserror():
            os.unlink(tmp)
        raise
    return replaced


class _suppress_oserror:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)


@dataclass
class Session:
    sid: str
    user: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class SessionStore:
    """Sessions by id, ended after :data:`SESSION_IDLE` without a request."""

    def __init__(self, idle: float = SESSION_IDLE, limit: int = MAX_SESSIONS):
        self.idle = idle
        self.limit = limit
        self._sessions: dict[str, Session] = {}
        self._on_end: list[Callable[[Session], object]] = []

    def on_end(self, callback: Callable[[Session], object]) -> None:
        """``callback(session)`` when a session ends (logout, expiry, eviction)."""
        self._on_end.append(callback)

    def create(self, user: str) -> Session:
        while len(self._sessions) >= self.limit:
            oldest = min(self._sessions.values(), key=lambda s: s.seen)
            self.end(oldest.sid)
        session = Session(secrets.token_urlsafe(32), user)
        self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.seen > self.idle:
            self.end(sid)
            return None
        session.seen = now
        return session

    def end(self, sid: str) -> None:
        session = self._sessions.pop(sid, None)
        if session is not None:
            for callback in self._on_end:
                callback(session)

    def __len__(self) -> int:
        return len(self._sessions)


class RateLimiter:
    """Counts wrong logins per address (and over all addresses) in a sliding window."""

    def __init__(
        self,
        per_address: int = MAX_FAILURES,
        overall: int = MAX_FAILURES_ALL,
        window: float = FAILURE_WINDOW,
    ):
        self.per_address = per_address
        self.overall = overall
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _trim(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()

    def retry_after(self, address: str) -> float:
        """0 if ``address`` may try now, else the seconds to wait."""
        now = time.monotonic()
        self._trim(self._all, now)
        waits = []
        if len(self._all) >= self.overall:
            waits.append(self._all[0] + self.window - now)
        times = self._failures.get(address)
        if times is not None:
            self._trim(times, now)
            if not times:
                del self._failures[address]
            elif len(times) >= self.per_address:
                waits.append(times[0] + self.window - now)
        return max(waits, default=0.0)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        if len(self._failures) > 10000:  # bound the table against address floods
            for key in [
                k for k, v in self._failures.items() if not v or v[-1] <= now - self.window
            ]:
                del self._failures[key]
        self._failures.setdefault(address, deque()).append(now)
        self._all.append(now)


class Authenticator:
    """Checks credentials: a users file (passwords) or a token."""

    def __init__(self, auth_file: str | None = None, token: str | None = None):
        if auth_file is None and not token:
            raise ValueError("either an auth file or a token is required")
        self.auth_file = auth_file
        self.token = token
        self.mode = "password" if auth_file else "token"
        if auth_file is not None:
            read_users(auth_file)  # refuse to start on a bad file

    def check_password(self, user: str, password: str) -> bool:
        """True if the users file has ``user`` with ``password`` (re-read each time, so
        ``--add-user`` takes effect without a restart). Slow on purpose: run it off the loop."""
        if self.auth_file is None or len(password) > MAX_PASSWORD:
            return False
        users = read_users(self.auth_file)
        stored = users.get(user)
        if stored is None:
            verify_password(password, hash_password("x"))  # same cost: no user enumeration
            return False
        return verify_password(password, stored)

    def check_token(self, token: str) -> bool:
        return bool(self.token) and hmac.compare_digest(
            token.encode("utf-8", "replace"),
            self.token.encode("utf-8"),  # type: ignore[union-attr]
        )
