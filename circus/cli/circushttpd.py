"""``circushttpd``: the web console of a circusd (docs/web.md).

    circushttpd [--host localhost] [--port 8080] [--endpoint E] [--certfile F --keyfile F]
                [--auth-file F | --token-file F]
    circushttpd --auth-file F --add-user NAME      (password from the terminal, or stdin)

Secure by default: it binds localhost; a bind that is not loopback-only refuses to start
without ``--auth-file``. Without an auth file, logging in takes a random token that circushttpd
prints (or keeps in ``--token-file``). Exit codes: 0 stopped cleanly, 1 cannot start, 2 usage.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
from typing import TYPE_CHECKING

from circus import __version__
from circus.util.fast_exit import ends_process
from papa_kernel.cmdline import Option

if TYPE_CHECKING:
    import argparse
    import ssl

    import tornado.httpserver

    from circus.web.app import WebState
    from circus.web.discovery import DiscoveredList

# Everything else is imported when used: main() reads its parent's pid first thing, before
# the imports that take a while (the configuration model: ~0.5 s), so that a circusd killed
# while we start is noticed (see circus.util.parent).

log = logging.getLogger("circus.web")

EXIT_OK = 0
EXIT_CANNOT_START = 1  # bad certificate, unusable auth file, port taken, unsafe bind
EXIT_USAGE = 2
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8080
ENDPOINT_ENV = "CIRCUSHTTPD_ENDPOINT"
TOKEN_BYTES = 24
#: Seconds a stop waits for open connections and feeds to close before exiting anyway.
SHUTDOWN_TIMEOUT = 5.0


class StartError(Exception):
    """circushttpd cannot start; ``str()`` says why."""


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not a port number: {text!r}") from None


#: circushttpd's options, read without argparse from a plain command line (papa_kernel.cmdline)
OPTIONS = (
    Option("--host", "value", default=DEFAULT_HOST, help="address to bind (default localhost)"),
    Option("--port", "value", default=DEFAULT_PORT, convert=_port, help="port (default 8080)"),
    Option("--endpoint", "value",
           help=f"circusd's control endpoint (default ${ENDPOINT_ENV}, else circusd's default)"),
    Option("--curve-secret-key", "value", help="CURVE: this client's certificate file"),
    Option("--curve-server-key", "value", help="CURVE: circusd's public certificate file"),
    Option("--ssh", "value",
           help="SSH Server in the format user@host[:port]: reach circusd through an ssh tunnel "
           "(--endpoint as that host sees it; default: circusd's default there)"),
    Option("--ssh_keyfile", "value", help="path to the keyfile to authorise the user"),
    Option("--certfile", "value", help="TLS certificate (PEM); serve https"),
    Option("--keyfile", "value", help="TLS private key (PEM)"),
    Option("--auth-file", "value", help="users file (made by --add-user): password logins"),
    Option("--token-file", "value",
           help="without --auth-file: keep the login token in this file (0600)"),
    Option("--add-user", "value", metavar="NAME", help="add or replace a user in --auth-file"),
    Option("--allow-origin", "append",
           help="another origin allowed to open the WebSocket (e.g. https://console.example.com)"),
    Option("--xheaders", "flag",
           help="behind a reverse proxy: take the client address from X-Real-IP/X-Forwarded-For"),
    Option("--with-circusd", "flag",
           help="set by circusd for [circus] httpd = true: end when circusd ends (even killed)"),
    Option("--discover", "flag",
           help="list the circusds that answer multicast discovery on the Circusds page "
           "(probes every 30 s; off by default)"),
    Option("--discover-interface", "append", metavar="NAME",
           help="with --discover: probe on this network interface (repeat it; default: every "
           "interface that is up and can multicast)"),
    Option("--multicast", "value",
           help="with --discover: the group (default udp://237.219.251.97:12027, the original's)"),
    Option("--log-level", "value", default="info", help="debug, info, warning, error"),
    Option("--log-output", "value", default="-", help="'-' (stdout), a file path, or syslog://[host[:port]][?facility]"),
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of :data:`OPTIONS`: for ``--help``, ``--version``, errors and any
    command line :func:`parse_args` does not read itself."""
    import argparse  # a plain command line does without it (with gettext and shutil: ~3 ms)

    from papa_kernel.cmdline import add_options
    from papa_kernel.helpwidth import HelpFormatter

    parser = argparse.ArgumentParser(
        prog="circushttpd",
        description="The Circus web console (docs/web.md).",
        formatter_class=HelpFormatter,  # no shutil import
    )
    add_options(parser, OPTIONS)
    parser.add_argument("--version", action="version", version=f"circushttpd {__version__}")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """circushttpd's command line: a plain one (each option and its value separate words) is
    read from :data:`OPTIONS` without importing argparse; anything else by
    :func:`build_parser`'s parser, which reads the plain ones the same way."""
    from types import SimpleNamespace

    from papa_kernel.cmdline import parse_plain

    words = sys.argv[1:] if argv is None else argv
    values = parse_plain(words, OPTIONS)
    if values is None:
        return build_parser().parse_args(words)
    return SimpleNamespace(**values)  # type: ignore[return-value]


def read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the passwords differ")
        return first
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def add_user(args: argparse.Namespace) -> int:
    from circus.web.auth import AuthFileError
    from circus.web.auth import add_user as add

    if not args.auth_file:
        print("circushttpd: --add-user needs --auth-file FILE", file=sys.stderr)
        return EXIT_USAGE
    try:
        replaced = add(args.auth_file, args.add_user, read_password())
    except (ValueError, AuthFileError, OSError) as exc:
        print(f"circushttpd: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    print(f"{'replaced' if replaced else 'added'} user {args.add_user} in {args.auth_file}")
    return EXIT_OK


def _read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            info = os.fstat(f.fileno())
            token = f.read().strip()
    except OSError as exc:
        raise StartError(f"--token-file {path}: {exc.strerror}") from None
    if info.st_uid != os.geteuid():
        raise StartError(f"--token-file {path}: owned by another user (uid {info.st_uid})")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise StartError(f"--token-file {path}: readable by other users; chmod 600 it")
    if len(token) < 16:
        raise StartError(f"--token-file {path}: the token must have 16 characters or more")
    return token


def load_token(path: str | None) -> str:
    """A fresh random token, or the one in ``path`` (created 0600 when missing, in a directory
    private to this user, created 0700 when missing)."""
    import secrets

    if path is None:
        return secrets.token_urlsafe(TOKEN_BYTES)
    from circus.errors import UnsafePathError
    from circus.util.private_dirs import require_private_parent

    try:
        require_private_parent(os.path.abspath(path), f"--token-file {path}")
    except UnsafePathError as exc:
        raise StartError(str(exc)) from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    except OSError as exc:
        raise StartError(f"--token-file {path}: {exc.strerror}") from None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token


def tls_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    if not certfile and not keyfile:
        return None
    from circus.util.no_openssl import load_ssl

    ssl = load_ssl()  # in place of the stand-in of asyncio's and tornado's modules
    if not certfile:
        raise StartError("--keyfile needs --certfile")
    for option, path in (("--certfile", certfile), ("--keyfile", keyfile)):
        if path and not os.path.isfile(path):
            raise StartError(f"{option} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise StartError(f"--certfile/--keyfile: {exc}") from None
    return context


def check_args(args: argparse.Namespace) -> None:
    from circus.util.endpoints import host_is_loopback

    if not 0 <= args.port <= 65535:
        raise StartError(f"--port {args.port}: must be between 0 and 65535")
    if not args.auth_file and not host_is_loopback(args.host):
        raise StartError(
            f"--host {args.host!r} is reachable from other machines: refusing to start without "
            "--auth-file (make one with: circushttpd --auth-file FILE --add-user NAME), or bind "
            "localhost"
        )
    if args.auth_file and args.token_file:
        raise StartError(
            "--token-file is for token logins; with --auth-file users log in with passwords"
        )
    _check_discovery_args(args)


def _check_discovery_args(args: argparse.Namespace) -> None:
    given = [f for f in ("multicast", "discover_interface") if getattr(args, f) not in (None, [])]
    if given and not args.discover:
        raise StartError(f"--{given[0].replace('_', '-')} needs --discover")
    if not given:
        return
    from circus.util.endpoints import parse_multicast
    from circus.util.netif import interface_index

    try:
        if args.multicast is not None:
            parse_multicast(args.multicast)
        for name in args.discover_interface or ():
            interface_index(name)
    except ValueError as exc:
        option = "--multicast" if "udp://" in str(exc) else "--discover-interface"
        raise StartError(f"{option}: {exc}") from None


def import_tornado() -> None:
    """Import the tornado modules that serving uses, without OpenSSL unless TLS is configured
    (tornado's modules ``import ssl``: see :func:`circus.util.no_openssl.import_deferring_ssl`;
    ~6 ms of CPU a start), and without the terminal colours of tornado's own log formatter
    (``colorama``, which imports ``ctypes``, and ``curses``: ~3 ms), which circushttpd does not
    use: it formats its log itself (circus.util.logsetup)."""
    from circus.util.no_openssl import import_deferring_ssl

    blocked = [name for name in ("colorama", "curses") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # tornado.log: "import" fails
    try:
        import_deferring_ssl("tornado.httpserver", "tornado.web", "tornado.websocket")
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


async def serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT (``args`` checked by :func:`check_args` already)."""
    context = tls_context(args.certfile, args.keyfile)
    import_tornado()
    import tornado.httpserver

    from circus.control.defaults import default_endpoint
    from circus.errors import CallError
    from circus.web.app import MAX_BODY, WebState, make_app
    from circus.web.auth import Authenticator, AuthFileError
    from circus.web.circusd import CircusdLink

    token = None if args.auth_file else load_token(args.token_file)
    try:
        authenticator = Authenticator(args.auth_file, token)
    except AuthFileError as exc:
        raise StartError(str(exc)) from None
    endpoint = (
        args.endpoint or os.environ.get(ENDPOINT_ENV) or (None if args.ssh else default_endpoint())
    )
    try:
        link = CircusdLink(
            endpoint,
            curve_secret_key=args.curve_secret_key,
            curve_server_key=args.curve_server_key,
            ssh_server=args.ssh,
            ssh_keyfile=args.ssh_keyfile,
        )
    except CallError as exc:  # the ssh tunnel cannot be made
        raise StartError(str(exc)) from None
    endpoint = link.endpoint
    state = WebState(
        link=link,
        authenticator=authenticator,
        tls=context is not None,
        allowed_origins=frozenset(args.allow_origin),
        discovery=_discovered_list(args) if args.discover else None,
    )
    server = tornado.httpserver.HTTPServer(
        make_app(state), ssl_options=context, xheaders=args.xheaders, max_body_size=MAX_BODY
    )
    try:
        server.listen(args.port, address=args.host)
    except OSError as exc:
        await link.close()
        raise StartError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    link.start()
    if state.discovery is not None:
        state.discovery.start()
    port = next(iter(server._sockets.values())).getsockname()[1]
    scheme = "https" if context else "http"
    host = args.host if ":" not in args.host else f"[{args.host}]"
    url = f"{scheme}://{host}:{port}/"
    log.info("circushttpd %s listening on %s (circusd at %s)", __version__, url, endpoint)
    if token is not None and args.token_file is None:
        print(f"circushttpd: log in at {url}login?token={token}", file=sys.stderr, flush=True)
    elif token is not None:
        log.info("login token in %s (log in at %slogin?token=...)", args.token_file, url)
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("circushttpd stopping")
    server.stop()
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT):
            await _close(server, state)
    except TimeoutError:
        log.warning("connections still open after %.0f s: exiting anyway", SHUTDOWN_TIMEOUT)
    return EXIT_OK


def _discovered_list(args: argparse.Namespace) -> DiscoveredList:
    from circus.util.endpoints import DEFAULT_MULTICAST
    from circus.web.discovery import DiscoveredList

    return DiscoveredList(args.multicast or DEFAULT_MULTICAST, args.discover_interface)


async def _close(server: tornado.httpserver.HTTPServer, state: WebState) -> None:
    await state.close()
    await server.close_all_connections()


@ends_process
def main(argv: list[str] | None = None) -> int:
    """circushttpd's command line; run as the program (``argv`` None) it ends the process
    without the interpreter's teardown (:func:`~circus.util.fast_exit.ends_process`)."""
    parent = os.getppid()
    args = parse_args(argv)
    if args.with_circusd:
        from circus.util.pdeathsig import die_with_parent

        die_with_parent(parent)
    if args.add_user is not None:
        return add_user(args)
    from circus.errors import ConfigError
    from circus.util.logsetup import configure_logging

    try:
        check_args(args)  # before anything is set up: a refusal changes nothing
    except StartError as exc:
        print(f"circushttpd: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    try:
        configure_logging(args.log_level, args.log_output)
    except ConfigError as exc:
        print(f"circushttpd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from circus.util.no_openssl import import_asyncio

        # without OpenSSL: TLS is optional (tls_context loads it)
        return import_asyncio().run(serve(args))
    except StartError as exc:
        print(f"circushttpd: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START


if __name__ == "__main__":
    sys.exit(main())
