"""``circushttpd``: the web console of a circusd (docs/web.md).

    circushttpd [--host localhost] [--port 8080] [--endpoint E] [--certfile F --keyfile F]
                [--auth-file F | --token-file F]
    circushttpd --auth-file F --add-user NAME      (password from the terminal, or stdin)

Secure by default: it binds localhost; a bind that is not loopback-only refuses to start
without ``--auth-file``. Without an auth file, logging in takes a random token that circushttpd
prints (or keeps in ``--token-file``). Exit codes: 0 stopped cleanly, 1 cannot start, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import secrets
import signal
import ssl
import stat
import sys
from typing import TYPE_CHECKING

from circus import __version__

if TYPE_CHECKING:
    import tornado.httpserver

    from circus.web.app import WebState

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circushttpd", description="The Circus web console (docs/web.md)."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default localhost)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8080)")
    parser.add_argument(
        "--endpoint",
        default=None,
        help=f"circusd's control endpoint (default ${ENDPOINT_ENV}, else circusd's default)",
    )
    parser.add_argument("--curve-secret-key", help="CURVE: this client's certificate file")
    parser.add_argument("--curve-server-key", help="CURVE: circusd's public certificate file")
    parser.add_argument(
        "--ssh",
        help="SSH Server in the format user@host[:port]: reach circusd through an ssh tunnel "
        "(--endpoint as that host sees it; default: circusd's default there)",
    )
    parser.add_argument("--ssh_keyfile", help="path to the keyfile to authorise the user")
    parser.add_argument("--certfile", help="TLS certificate (PEM); serve https")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")
    parser.add_argument("--auth-file", help="users file (made by --add-user): password logins")
    parser.add_argument(
        "--token-file", help="without --auth-file: keep the login token in this file (0600)"
    )
    parser.add_argument("--add-user", metavar="NAME", help="add or replace a user in --auth-file")
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        help="another origin allowed to open the WebSocket (e.g. https://console.example.com)",
    )
    parser.add_argument(
        "--xheaders",
        action="store_true",
        help="behind a reverse proxy: take the client address from X-Real-IP/X-Forwarded-For",
    )
    parser.add_argument(
        "--with-circusd",
        action="store_true",
        help="set by circusd for [circus] httpd = true: end when circusd ends (even killed)",
    )
    parser.add_argument(
        "--discover",
        action="store_true",
        help="list the circusds that answer multicast discovery on the Circusds page "
        "(probes every 30 s; off by default)",
    )
    parser.add_argument(
        "--discover-interface",
        action="append",
        metavar="NAME",
        help="with --discover: probe on this network interface (repeat it; default: every "
        "interface that is up and can multicast)",
    )
    parser.add_argument(
        "--multicast",
        help="with --discover: the group (default udp://237.219.251.97:12027, the original's)",
    )
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--log-output", default="-")
    parser.add_argument("--version", action="version", version=f"circushttpd {__version__}")
    return parser


def read_password() -> str:
    if sys.stdin.isatty():
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
    from circus.util.endpoints import parse_multicast
    from circus.util.netif import interface_index

    given = [f for f in ("multicast", "discover_interface") if getattr(args, f) is not None]
    if given and not args.discover:
        raise StartError(f"--{given[0].replace('_', '-')} needs --discover")
    try:
        if args.multicast is not None:
            parse_multicast(args.multicast)
        for name in args.discover_interface or ():
            interface_index(name)
    except ValueError as exc:
        option = "--multicast" if "udp://" in str(exc) else "--discover-interface"
        raise StartError(f"{option}: {exc}") from None


async def serve(args: argparse.Namespace) -> int:
    import tornado.httpserver

    from circus.control.defaults import default_endpoint
    from circus.errors import CallError
    from circus.web.app import MAX_BODY, WebState, make_app
    from circus.web.auth import Authenticator, AuthFileError
    from circus.web.circusd import CircusdLink
    from circus.web.discovery import DiscoveredList
    from circus.wire.discovery import DEFAULT_MULTICAST

    check_args(args)
    context = tls_context(args.certfile, args.keyfile)
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
        discovery=DiscoveredList(args.multicast or DEFAULT_MULTICAST, args.discover_interface)
        if args.discover
        else None,
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


async def _close(server: tornado.httpserver.HTTPServer, state: WebState) -> None:
    await state.close()
    await server.close_all_connections()


def main(argv: list[str] | None = None) -> int:
    parent = os.getppid()
    args = build_parser().parse_args(argv)
    if args.with_circusd:
        from circus.util.pdeathsig import die_with_parent

        die_with_parent(parent)
    if args.add_user is not None:
        return add_user(args)
    from circus.errors import ConfigError
    from circus.util.logsetup import configure_logging

    try:
        configure_logging(args.log_level, args.log_output)
    except ConfigError as exc:
        print(f"circushttpd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(serve(args))
    except StartError as exc:
        print(f"circushttpd: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START


if __name__ == "__main__":
    sys.exit(main())
