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
