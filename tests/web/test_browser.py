"""The browser the web tests drive (browser.py) keeps working while the machine's network
configuration changes, as it does when tests/netns.py runs in another xdist worker."""

from __future__ import annotations

import http.server
import threading

import netns
import pytest
import support
from browser import launched

pytestmark = pytest.mark.timeout(120)

#: Requests the page keeps in flight at once (more than a host's six connections: some wait
#: for a connection, the state in which an address change fails them).
IN_FLIGHT = 24
HAMMER = """(n) => {
  window.counts = { ok: 0, failed: 0 };
  window.stop = false;
  const one = () => fetch(`/?${Math.random()}`, { cache: "no-store" })
    .then((r) => r.text())
    .then(() => window.counts.ok++, () => window.counts.failed++);
  window.hammer = (async () => {
    while (!window.stop) await Promise.all(Array.from({ length: n }, one));
  })();
}"""
STOP = "async () => { window.stop = true; await window.hammer; return window.counts; }"


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body>ok</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_requests_survive_address_changes_on_the_machine():
    """Addresses appear and go (twice a namespace made and removed) while the page has requests
    in flight: none fails (chromium failed them with net::ERR_NETWORK_CHANGED)."""
    netns.require()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", support.free_port()), Quiet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with launched() as browser:
            page = browser.new_page()
            failures: list[str] = []
            page.on("requestfailed", lambda r: failures.append(f"{r.url}: {r.failure}"))
            page.goto(f"http://127.0.0.1:{server.server_port}/")
            page.evaluate(HAMMER, IN_FLIGHT)
            for _ in range(2):  # a bridge, a veth pair and their addresses come and go
                with netns.Namespaces(1):
                    pass
            counts = page.evaluate(STOP)
    finally:
        server.shutdown()
        server.server_close()
    assert counts["ok"] > 0
    assert failures == [] and counts["failed"] == 0, (counts, failures[:5])
