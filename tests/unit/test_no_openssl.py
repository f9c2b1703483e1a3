"""circus.util.no_openssl: asyncio imported without ssl still does TLS when asked; the sha256
without OpenSSL gives hashlib's digests. Each case runs in a fresh interpreter (this one has
ssl and asyncio imported already)."""

import hashlib
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(30)


def run_fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            capture_output=True, text=True, timeout=20)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_asyncio_is_imported_without_ssl_and_unix_sockets_do_not_load_it():
    out = run_fresh("""
        import socket, sys
        from circus.util.no_openssl import import_asyncio
        asyncio = import_asyncio()
        print("ssl" in sys.modules, "_ssl" in sys.modules, "_hashlib" in sys.modules)

        async def main():
            loop = asyncio.get_running_loop()
            left, right = socket.socketpair()
            left.setblocking(False)
            await loop.sock_sendall(left, b"x")  # asyncio checks isinstance(sock, SSLSocket)
            print(right.recv(1), "ssl" in sys.modules)

        asyncio.run(main())
    """)
    assert out.split("\n")[:2] == ["False False False", "b'x' False"]


@pytest.mark.parametrize("how", ["ssl=True", "an SSLContext"])
def test_tls_through_asyncio_still_works(how):
    """The first use loads ssl and puts it in asyncio's place: the client sends its TLS hello
    (a record of type 22, handshake) to a plain server that reads it and hangs up."""
    client_ssl = "True" if how == "ssl=True" else "__import__('ssl').create_default_context()"
    out = run_fresh(f"""
        import sys
        from circus.util.no_openssl import import_asyncio
        asyncio = import_asyncio()

        async def main():
            seen = asyncio.get_running_loop().create_future()

            async def serve(reader, writer):
                seen.set_result(await reader.read(1))
                writer.close()

            server = await asyncio.start_server(serve, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            try:
                await asyncio.open_connection("127.0.0.1", port, ssl={client_ssl},
                                              server_hostname="localhost")
            except (ConnectionError, OSError) as exc:  # the server hung up mid-handshake
                print("client:", type(exc).__name__)
            print("first byte:", (await seen)[0], "ssl loaded:", "ssl" in sys.modules)
            server.close()

        asyncio.run(main())
    """)
    assert "first byte: 22 ssl loaded: True" in out


def test_sha256_matches_hashlib_without_loading_openssl():
    data = "watcher é \udcff".encode("utf-8", "surrogateescape")
    out = run_fresh(f"""
        import sys
        from circus.util.no_openssl import sha256
        print(sha256({data!r}).hexdigest(), "_hashlib" in sys.modules)
    """)
    assert out.split() == [hashlib.sha256(data).hexdigest(), "False"]


def test_asyncio_is_imported_without_inspect_which_it_gets_on_first_use():
    """asyncio's inspect is a stand-in: what asyncio asks on circusd's paths (whether a signal
    handler is a coroutine function, a task's repr) is answered without importing it, as the
    real module answers; anything else imports it and puts it in asyncio's globals."""
    out = run_fresh("""
        import functools, signal, sys
        from circus.util.no_openssl import import_asyncio
        asyncio = import_asyncio()
        loaded = lambda: [name in sys.modules for name in ("inspect", "ast", "dis")]
        print(loaded())

        async def main():
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, lambda: None)
            try:
                loop.add_signal_handler(signal.SIGUSR2, main)
            except TypeError:
                print("refused")
            repr(asyncio.current_task()), repr(loop.create_future())
            print(asyncio.iscoroutinefunction(main), asyncio.iscoroutinefunction(print), loaded())
            print(asyncio.iscoroutinefunction(functools.partial(main)), loaded())
            print(type(sys.modules["asyncio.coroutines"].inspect) is type(sys))

        asyncio.run(main())
    """)
    assert out.split("\n")[:5] == [
        "[False, False, False]",
        "refused",
        "True False [False, False, False]",
        "True [True, True, True]",  # a partial: asked of the real inspect, now imported
        "True",
    ]


def test_the_stand_in_answers_as_inspect():
    import asyncio
    import functools
    import inspect
    import types

    from circus.util.no_openssl import DeferredInspect, isawaitable

    async def coroutine_function():
        pass

    @types.coroutine
    def generator_coroutine():
        yield

    def plain_generator():
        yield

    stand_in = DeferredInspect()
    for value in (coroutine_function, print, plain_generator, asyncio.sleep, int, None,
                  asyncio.Queue().get, functools.partial(coroutine_function)):  # fmt: skip
        assert stand_in.iscoroutinefunction(value) == inspect.iscoroutinefunction(value)
        assert stand_in.isfunction(value) == inspect.isfunction(value)
        assert stand_in.unwrap(value) is inspect.unwrap(value)
    wrapped = functools.wraps(plain_generator)(lambda: None)
    assert stand_in.unwrap(wrapped) is plain_generator
    assert stand_in.signature is inspect.signature  # anything else: the real one's
    coroutine, generator = coroutine_function(), generator_coroutine()
    loop = asyncio.new_event_loop()
    try:
        for value in (coroutine, generator, plain_generator(), loop.create_future(), 1, None):
            assert isawaitable(value) == inspect.isawaitable(value), value
    finally:
        coroutine.close()
        loop.close()


def test_tornado_imported_without_inspect_gets_it_when_used():
    """circus-plugin imports tornado's loop with inspect deferred: ``from inspect import
    isawaitable`` (tornado.ioloop, tornado.gen) and ``getfullargspec`` (tornado.util) are
    stand-ins that answer as the real ones, importing inspect only for what needs it."""
    out = run_fresh("""
        import sys
        from circus.util.no_openssl import import_asyncio, import_without_inspect
        import_asyncio()
        import_without_inspect("tornado.ioloop", "tornado.platform.asyncio")
        assert "inspect" not in sys.modules
        import asyncio, tornado.gen, tornado.ioloop, tornado.util

        async def coroutine():
            return 1

        pending = coroutine()
        assert tornado.ioloop.isawaitable(pending) and tornado.gen.isawaitable(pending)
        assert not tornado.gen.isawaitable(1)
        pending.close()
        assert tornado.ioloop.IOLoop(make_current=False).run_sync(coroutine) == 1
        assert "inspect" not in sys.modules
        def f(a, b=2):
            pass
        assert tornado.util.ArgReplacer(f, "b").get_old_value((1, 5), {}) == 5
        print("inspect" in sys.modules)  # getfullargspec was asked of the real one
    """)
    assert out == "True\n"
