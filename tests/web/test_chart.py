"""The SVG chart module (static/js/chart.js) in a real browser, without a server of circus:
its static files are served by a bare tornado in a thread."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
import support
from browser import TIMEOUT_MS, launched

STATIC = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "circus", "web", "static")
PAGE = b"""<!DOCTYPE html><html><body>
<svg id="small" width="120" height="30"></svg>
<svg id="big" width="600" height="140"></svg>
</body></html>"""


class StaticServer(threading.Thread):
    """``/`` is a page with two empty <svg>; ``/static/...`` the console's static files."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.port = support.free_port()
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> None:
        import tornado.web

        class Page(tornado.web.RequestHandler):
            def get(self) -> None:
                self.write(PAGE)

        async def serve() -> None:
            app = tornado.web.Application(
                [(r"/", Page), (r"/static/(.*)", tornado.web.StaticFileHandler, {"path": STATIC})]
            )
            server = app.listen(self.port, address="127.0.0.1")
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            self.ready.set()
            await self.stop_event.wait()
            server.stop()

        asyncio.run(serve())

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.join(timeout=10)


@pytest.fixture(scope="module")
def page():
    server = StaticServer()
    server.start()
    assert server.ready.wait(10)
    try:
        with launched() as browser:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://127.0.0.1:{server.port}/")
            page.evaluate("async () => { window.chart = await import('/static/js/chart.js'); }")
            yield page
    finally:
        server.stop()


def test_nice_ceiling(page):
    values = page.evaluate("[0, 0.3, 1, 1.2, 7, 20, 101].map((v) => chart.niceCeiling(v))")
    assert values == [1, 1, 1, 2, 10, 20, 200]


def test_chart_draws_a_line_per_series_and_moves(page):
    """Samples become polyline points; a newer sample changes the line (the chart moves)."""
    first = page.evaluate(
        """async () => {
            const c = new chart.Chart(document.getElementById('small'));
            window.small = c;
            const now = Date.now() / 1000;
            c.load([[now - 60, 10, 5], [now - 30, 20, 6], [now - 1, 15, 7]]);
            await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            const lines = document.querySelectorAll('#small polyline');
            return [...lines].map((p) => p.getAttribute('points'));
        }"""
    )
    assert len(first) == 2
    assert all(len(points.split()) == 3 for points in first)
    second = page.evaluate(
        """async () => {
            window.small.push(Date.now() / 1000, [80, 9]);
            await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            const lines = document.querySelectorAll('#small polyline');
            return [...lines].map((p) => p.getAttribute('points'));
        }"""
    )
    assert all(len(points.split()) == 4 for points in second)
    assert second != first
    # every point lies inside the drawing (x in 0..120, y in 0..30)
    for points in second:
        for pair in points.split():
            x, y = (float(v) for v in pair.split(","))
            assert 0 <= x <= 120 and 0 <= y <= 30


def test_chart_forgets_samples_older_than_its_window(page):
    count = page.evaluate(
        """async () => {
            const c = new chart.Chart(document.getElementById('big'), {window: 60, axes: true});
            const now = Date.now() / 1000;
            c.load([[now - 600, 1, 1], [now - 300, 2, 2], [now - 30, 3, 3], [now - 10, 4, 4]]);
            await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            return {
                points: document.querySelector('#big polyline').getAttribute('points').split(' ')
                    .length,
                scale: document.querySelector('#big .scale').textContent,
            };
        }"""
    )
    assert count["points"] == 2
    assert count["scale"] == "5% · last 60 s"


def test_a_young_chart_spans_since_its_first_sample(page):
    """Ten minutes of data fill a 5-minute window; 30 s of data fill the first half of the
    shortest span (60 s) instead of a sliver at the right edge."""
    xs = page.evaluate(
        """async () => {
            const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
            svg.setAttribute('width', '300'); svg.setAttribute('height', '20');
            document.body.appendChild(svg);
            const c = new chart.Chart(svg);
            const now = Date.now() / 1000;
            c.load([[now - 30, 1, 1], [now, 2, 2]]);
            await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
            const pts = svg.querySelector('polyline').getAttribute('points').split(' ');
            return pts.map((p) => Number(p.split(',')[0]));
        }"""
    )
    assert 140 <= xs[0] <= 160 and 295 <= xs[1] <= 300


def test_empty_chart_says_no_data(page):
    shown = page.evaluate(
        """async () => {
            const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
            svg.setAttribute('width', '100'); svg.setAttribute('height', '20');
            document.body.appendChild(svg);
            const c = new chart.Chart(svg);
            c.draw();
            return [svg.classList.contains('has-data'), svg.querySelector('.empty').textContent];
        }"""
    )
    assert shown == [False, "no data"]
