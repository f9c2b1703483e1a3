"""Modules circushttpd does without when it serves plain HTTP: it is started ~20 times by the
test suite, and each import costs CPU at every start. OpenSSL comes only with ``--certfile``
(test_security's TLS test serves https; test_console checks a serving circushttpd's memory
map). Each case runs in a fresh interpreter."""

import subprocess
import sys
import textwrap

import pytest
from support import imported_by

pytestmark = pytest.mark.timeout(30)

#: module -> what needs it
NOT_IMPORTED = {
    "ssl": "TLS (--certfile): asyncio's and tornado's modules get a stand-in (no_openssl)",
    "_ssl": "TLS (--certfile)",
    "argparse": "--help, --version and command lines that are not plain (papa_kernel.cmdline)",
    "shutil": "argparse's terminal width (and bz2, lzma)",
    "getpass": "--add-user at a terminal",
    "colorama": "tornado's own coloured log formatter, which circushttpd does not use",
    "curses": "tornado's own coloured log formatter",
    "ctypes": "colorama",
    "circus.web.discovery": "--discover",
    "circus.wire.discovery": "--discover",
    "circus.util.netif": "--discover-interface",
}


def test_a_plain_http_start_imports_no_openssl_nor_argparse():
    """What a start without TLS imports before it listens: the command line, its checks,
    tornado, the application and its handlers."""
    loaded = imported_by("""
        from circus.cli import circushttpd
        args = circushttpd.parse_args(["--port", "0", "--token-file", "/nonexistent/t"])
        circushttpd.check_args(args)
        assert circushttpd.tls_context(args.certfile, args.keyfile) is None
        circushttpd.import_tornado()
        import tornado.httpserver
        from circus.web.app import make_app, WebState
        from circus.web.circusd import CircusdLink
    """)
    assert "tornado.websocket" in loaded and "circus.web.ws" in loaded
    assert not {name: why for name, why in NOT_IMPORTED.items() if name in loaded}


def test_tls_replaces_the_stand_in_and_its_placeholders_everywhere():
    """tornado imported with the stand-in took ``ssl`` and ``from ssl import SSLError`` from
    it; once TLS is configured (load_ssl), every module holds the real module and class."""
    code = textwrap.dedent("""
        import sys
        from circus.util import no_openssl
        no_openssl.import_deferring_ssl("tornado.httpserver", "tornado.websocket")
        import tornado.httputil, tornado.iostream, tornado.netutil
        print("ssl" in sys.modules, tornado.httputil.SSLError.__module__,
              issubclass(tornado.httputil.SSLError, OSError),
              type(tornado.netutil.ssl).__name__)
        ssl = no_openssl.load_ssl()
        print(tornado.httputil.SSLError is ssl.SSLError, tornado.netutil.ssl is ssl,
              tornado.iostream.ssl is ssl, sys.modules["asyncio.sslproto"].ssl is ssl)
        context = tornado.netutil.ssl_options_to_context({}, server_side=True)
        print(type(context) is ssl.SSLContext)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=20)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == [
        "False circus.util.no_openssl True DeferredSsl",
        "True True True True",
        "True",
    ]
