"""The web console as a person uses it: a headless chromium on circushttpd in front of a real
circusd (and its kernel and workers); and its chart module alone, in the same browser (a
browser's launch costs ~0.8 s of CPU).

One circusd, one circushttpd, one browser and one page (``tab``) for the whole module: each
test opens what it shows in that page (a new document; logged in again when a test before
ended the session), and routes a test set are removed after it. A page load costs the browser
~0.2 s of CPU, a new page (its renderer process) as much again: a test about what a page does
once shown (not about its load) takes the page the test before left, when it shows the same
path and is still live (:func:`shown`), as a person keeps a page open. The tests run in file
order and each leaves the watchers as it found them. The tests that stop circusd or
circushttpd come near the end, followed only by those that end the page's session.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import netns
import pytest
import support
from browser import TIMEOUT_MS, PageLog, launched, log_of, wait_ready
from console import Console
from support import WORKER_CMD

pytestmark = pytest.mark.timeout(120)

CONFIG = f"""
    [watcher:sleepy]
    cmd = {WORKER_CMD} sleep
    numprocesses = 2

    [watcher:talker]
    cmd = {WORKER_CMD} sleep
    numprocesses = 1
"""


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with support.subreaper():
        console = Console(tmp_path_factory.mktemp("console"), CONFIG, stats=True)
        try:
            console.start()
            yield console
        finally:
            console.cleanup()


@pytest.fixture(scope="module")
def browser(console):
    with launched() as browser:
        yield browser


def new_context(browser):
    """A context of the module's browser; reduced motion: the banner's spinner stands still
    (a turning one costs the browser ~0.1 s of CPU a second while the banner shows)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    context.set_default_timeout(TIMEOUT_MS)
    PageLog(context)  # what its pages did, shown when a test fails
    return context


@pytest.fixture(scope="module")
def shared_context(browser):
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture(scope="module")
def shared_tab(shared_context):
    return shared_context.new_page()


@pytest.fixture
def context(shared_context, request):
    """The module's browser context, its log restarted for this test, its routes removed
    after it."""
    log_of(shared_context).begin(f"test {request.node.name}")
    yield shared_context
    shared_context.unroute_all(behavior="ignoreErrors")


@pytest.fixture
def tab(context, shared_tab):
    """The module's page (it shows what the previous test left: open a path first)."""
    return shared_tab


@pytest.fixture
def page(console, tab):
    """The module's page, logged in on the watcher list, rendered (:func:`shown`)."""
    return shown(console, tab, "/")


#: True when the page is rendered and live: its feed connected to circushttpd and circusd (the
#: banner shows while either is away); then its notices are cleared, as a new page has none.
_LIVE = """() => {
  const live = document.body.dataset.ready === "true" && document.getElementById("banner").hidden;
  if (live) document.getElementById("notices").replaceChildren();
  return live;
}"""


def shown(console, tab, path: str):
    """``tab`` showing ``path``, rendered: the page the test before left if it shows that path
    and is live (no load: it follows the changes as a new one would show them), else loaded."""
    from playwright.sync_api import Error

    try:
        live = tab.url == f"{console.url}{path}" and tab.evaluate(_LIVE)
    except Error:  # a document going away, say
        live = False
    if not live:
        console.visit(tab, path)
    console.ready(tab)
    return tab


def expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    return expect


def row(page, name):
    return page.locator(f'tr[data-watcher="{name}"]')


def numprocesses(console, name) -> int:
    return int(console.circusd.ok("numprocesses", name=name)["numprocesses"])


def watcher_status(console, name) -> str:
    return console.circusd.ok("status", name=name)["status"]


# --- login ----------------------------------------------------------------------------------------


def test_login_form_refuses_a_wrong_token_then_logs_in(console, context, tab):
    context.clear_cookies()  # no session
    page = tab
    page.goto(f"{console.url}/watchers/sleepy")
    assert "/login" in page.url  # not logged in: sent to the form, the page remembered
    page.fill("#f-token", "not-the-token-at-all")
    page.click("#login-submit")
    expect()(page.locator("#login-error")).to_contain_text("wrong token")
    page.fill("#f-token", console.token)
    page.click("#login-submit")
    page.wait_for_url(f"{console.url}/watchers/sleepy")
    expect()(page.locator("h1")).to_have_text("sleepy")


# --- the watcher list -----------------------------------------------------------------------------


def test_home_lists_the_watchers_with_status_and_counts(console, page):
    ex = expect()
    ex(row(page, "sleepy").locator(".toggle")).to_have_text("active")
    ex(row(page, "sleepy").locator(".count")).to_have_text("2")
    ex(row(page, "talker").locator(".count")).to_have_text("1")
    ex(page.locator("#circusd-card [data-field=pid]")).to_have_text(re.compile(r"^\d+$"))
    # circusd-stats (statsd = true) is listed too, as a support watcher
    ex(row(page, "circusd-stats").locator(".tag")).to_have_text("support")
    total = sum(len(console.circusd.pids(w)) for w in console.circusd.ok("list")["watchers"])
    ex(page.locator("#totals-card [data-field=processes]")).to_have_text(str(total))


def test_a_console_serving_plain_http_has_not_loaded_openssl_tls(console, page):
    """circushttpd without --certfile serves this page, its API calls and its feed's
    WebSocket without loading libssl (circus.util.no_openssl; tornado imports ssl)."""
    expect()(row(page, "sleepy").locator(".toggle")).to_have_text("active")
    with open(f"/proc/{console.httpd.pid}/maps") as handle:
        loaded = {line.split()[-1].rsplit("/", 1)[-1] for line in handle if "/" in line}
    assert not {name for name in loaded if "libssl" in name or name.startswith("_ssl.")}, loaded


def test_the_banner_spinner_turns_unless_motion_is_reduced(console, page):
    spinner = page.locator("#banner .spinner")
    animation = "e => getComputedStyle(e).animationName"
    assert spinner.evaluate(animation) == "none"  # the module's contexts reduce motion
    page.emulate_media(reduced_motion="no-preference")
    try:
        assert spinner.evaluate(animation) == "spin"
    finally:
        page.emulate_media(reduced_motion="reduce")


def test_toggle_stops_and_starts_a_watcher(console, page):
    ex = expect()
    toggle = row(page, "sleepy").locator(".toggle")
    toggle.click()
    ex(toggle).to_have_text("stopped")
    support.wait_for(lambda: watcher_status(console, "sleepy") == "stopped", timeout=15)
    ex(row(page, "sleepy").locator(".count")).to_have_text("0 / 2")
    toggle.click()
    ex(toggle).to_have_text("active")
    ex(row(page, "sleepy").locator(".count")).to_have_text("2")
    assert watcher_status(console, "sleepy") == "active"


def test_incr_and_decr_change_the_number_of_processes(console, page):
    ex = expect()
    count = row(page, "talker").locator(".count")
    row(page, "talker").locator(".incr").click()
    ex(count).to_have_text("2")
    assert numprocesses(console, "talker") == 2
    row(page, "talker").locator(".decr").click()
    ex(count).to_have_text("1")
    assert numprocesses(console, "talker") == 1


def test_set_numprocesses_from_the_list(console, page):
    ex = expect()
    line = row(page, "talker")
    line.locator(".numprocesses-input").fill("3")
    line.locator(".set-numprocesses").click()
    ex(line.locator(".count")).to_have_text("3")
    assert numprocesses(console, "talker") == 3
    line.locator(".numprocesses-input").fill("1")
    line.locator(".set-numprocesses").click()
    ex(line.locator(".count")).to_have_text("1")


def test_a_count_being_typed_survives_refreshes_of_the_list(console, page):
    """The list refreshes on every event; a number typed in a row's box stays until it is set.
    (Before, each refresh moved every row out of the page and back, which took the focus from
    the box, so the next refresh put the count back: a clean-clone run set 1 instead of 3.)"""
    ex = expect()
    box = row(page, "talker").locator(".numprocesses-input")
    box.fill("3")
    for count in ("3", "4"):  # two changes made elsewhere: two refreshes
        console.circusd.ok("incr", name="sleepy")
        ex(row(page, "sleepy").locator(".count")).to_have_text(count)
    try:
        assert box.input_value() == "3"
    finally:
        console.circusd.ok("decr", name="sleepy", nb=2)
        ex(row(page, "sleepy").locator(".count")).to_have_text("2")
        box.fill("1")


def test_the_list_follows_changes_made_elsewhere(console, page):
    """A change made with circusctl (not in this page) shows without a reload: events."""
    ex = expect()
    console.circusd.ok("incr", name="talker")
    ex(row(page, "talker").locator(".count")).to_have_text("2")
    console.circusd.ok("decr", name="talker")
    ex(row(page, "talker").locator(".count")).to_have_text("1")


def test_an_older_answer_shown_last_does_not_stay(console, context, page):
    """Two refreshes of the list overlap and the older answer comes last (a loaded machine):
    the list still ends on the newer state. (Before, the older answer stayed: a count showed
    "2" for good after a decr.)"""
    held: list = []
    asked: list = []  # the requests the route let through
    answered: list = []

    def finished(request) -> None:
        answered.append(request)

    def hold_the_first(route) -> None:
        if held:
            asked.append(route.request)
            route.continue_()
        else:
            held.append((route, route.fetch()))  # answered as it is now, shown later

    context.route(re.compile(f"^{re.escape(console.url)}/api/watchers$"), hold_the_first)
    count = row(page, "talker").locator(".count")
    page.on("requestfinished", finished)
    try:
        console.circusd.ok("incr", name="talker")  # its events make the page ask: held
        support.wait_for(lambda: page.wait_for_timeout(20) or held, timeout=15, message="ask")
        before = len(asked)
        console.circusd.ok("decr", name="talker")  # and ask again
        # a page that asks again before the first answer came gets its answer now, shows it...
        with contextlib.suppress(AssertionError):  # (one that waits for the first: no more)
            support.wait_for(
                lambda: page.wait_for_timeout(20) or any(r in answered for r in asked[before:]),
                timeout=1.5,
            )
        route, answer = held[0]
        with page.expect_event("requestfinished", lambda r: r == route.request):
            route.fulfill(response=answer)  # ...then the older answer
    finally:
        page.remove_listener("requestfinished", finished)
    expect()(count).to_have_text("1")
    expect()(count).to_have_attribute("title", "1 running, 1 wanted")
    assert numprocesses(console, "talker") == 1


# --- charts -------------------------------------------------------------------------------------


def points(page, selector: str) -> str:
    return page.locator(selector).first.get_attribute("points") or ""


#: Whether the first element of a selector has a ``points`` attribute with at least ``n``
#: points, or one other than ``old`` (checked in the page every 0.1 s: no round trip each).
_POINTS = """([selector, n, old]) => {
  const node = document.querySelector(selector);
  const points = (node && node.getAttribute("points")) || "";
  return old === null ? points.split(" ").filter(Boolean).length >= n : points !== old;
}"""


def wait_points(page, selector: str, n: int = 2, other_than: str | None = None) -> None:
    """Wait until the chart line ``selector`` has ``n`` points (or points other than
    ``other_than``)."""
    page.wait_for_function(_POINTS, arg=[selector, n, other_than], polling=100, timeout=20_000)


def test_charts_move_with_the_stats_stream(console, page):
    """circusd-stats' figures reach the page over the WebSocket: the watcher's memory line
    gains points and keeps changing, and the figures show in the row."""
    line = 'tr[data-watcher="sleepy"] svg.chart polyline.line.series-mem'
    wait_points(page, line)
    wait_points(page, line, other_than=points(page, line))  # the line moves
    expect()(row(page, "sleepy").locator("td.mem")).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect()(page.locator("#stats-card")).to_contain_text("streaming")


def test_watcher_page_charts_each_process(console, tab):
    page = shown(console, tab, "/watchers/sleepy")
    for pid in console.circusd.pids("sleepy"):
        line = f'tr[data-pid="{pid}"] svg.chart polyline.line.series-mem'
        wait_points(page, line)
    big = "#watcher-chart polyline.line.series-mem"
    wait_points(page, big)


# --- the watcher page -----------------------------------------------------------------------------
# (right after the charts test, which leaves the page on /watchers/sleepy: one load for the four)


def test_watcher_page_lists_processes_and_kills_one(console, tab):
    ex = expect()
    page = shown(console, tab, "/watchers/sleepy")
    pids = console.circusd.pids("sleepy")
    for pid in pids:
        ex(page.locator(f'tr[data-pid="{pid}"] .pstatus')).to_have_text("running")
    victim = pids[0]
    page.locator(f'tr[data-pid="{victim}"] .kill').click()
    ex(page.locator(f'tr[data-pid="{victim}"]')).to_have_count(0)
    support.wait_for(lambda: not support.pid_alive(victim), timeout=15, message="victim gone")
    # circusd replaces it; the page shows the replacement
    support.wait_for(lambda: len(set(console.circusd.pids("sleepy")) - {victim}) == 2, timeout=15)
    ex(page.locator("#process-rows tr[data-pid]")).to_have_count(2)


def test_watcher_page_sends_a_signal(console, tab):
    """The signal form of a process: circusd reports it sent; the process is still there."""
    ex = expect()
    page = shown(console, tab, "/watchers/sleepy")
    pid = console.circusd.pids("sleepy")[0]
    line = page.locator(f'tr[data-pid="{pid}"]')
    line.locator("select").select_option("CONT")
    line.locator(".send-signal").click()
    ex(page.locator(".notice-ok")).to_contain_text("signal sent")
    assert support.pid_alive(pid)


# --- the chart module alone (static/js/chart.js) -------------------------------------------------

#: A page of two empty <svg> on circushttpd's origin, answered by the browser's route (not by
#: circushttpd), where the chart module (from circushttpd's /static/) is tried alone.
CHART_PAGE = """<!DOCTYPE html><html><body>
<svg id="small" width="120" height="30"></svg>
<svg id="big" width="600" height="140"></svg>
</body></html>"""


@pytest.fixture
def chart_page(console, context, tab):
    """The module's page showing CHART_PAGE with ``window.chart`` (the module), loaded by the
    first chart test and kept by the next ones (as one page of their own did before)."""
    url = f"{console.url}/chart-test"
    if tab.url == url and tab.evaluate("() => Boolean(window.chart)"):
        return tab
    context.route(url, lambda route: route.fulfill(body=CHART_PAGE, content_type="text/html"))
    tab.goto(url)
    tab.evaluate("async () => { window.chart = await import('/static/js/chart.js'); }")
    return tab


def test_nice_ceiling(chart_page):
    values = chart_page.evaluate("[0, 0.3, 1, 1.2, 7, 20, 101].map((v) => chart.niceCeiling(v))")
    assert values == [1, 1, 1, 2, 10, 20, 200]


def test_chart_draws_a_line_per_series_and_moves(chart_page):
    """Samples become polyline points; a newer sample changes the line (the chart moves)."""
    first = chart_page.evaluate(
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
    second = chart_page.evaluate(
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


def test_chart_forgets_samples_older_than_its_window(chart_page):
    count = chart_page.evaluate(
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


def test_a_young_chart_spans_since_its_first_sample(chart_page):
    """Ten minutes of data fill a 5-minute window; 30 s of data fill the first half of the
    shortest span (60 s) instead of a sliver at the right edge."""
    xs = chart_page.evaluate(
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


def test_empty_chart_says_no_data(chart_page):
    shown = chart_page.evaluate(
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


def test_a_redraw_changes_only_what_changed_and_a_slide_skips_a_fresh_chart(chart_page):
    """A chart drawn again with the same samples at the same time changes nothing in the page
    (a change costs it a style, a layout and a paint), and ``slide(ms)`` redraws only a chart
    not drawn within ``ms``: the watcher page slides its charts every second, and a chart a
    stats point just redrew is not drawn a second time."""
    result = chart_page.evaluate(
        """async () => {
            const svg = document.getElementById('big');
            const c = new chart.Chart(svg, {axes: true});
            const realNow = Date.now;
            const now = realNow();
            Date.now = () => now;  // the same time for every draw
            try {
                c.load([[now / 1000 - 30, 1, 2], [now / 1000 - 1, 3, 4]]);
                await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
                const observer = new MutationObserver(() => {});
                observer.observe(svg, {
                    subtree: true, attributes: true, childList: true, characterData: true,
                });
                c.draw();
                const changes = observer.takeRecords().length;
                observer.disconnect();
                const fresh = c.slide(900);
                c.drawnAt -= 1000;  // as if drawn a second ago
                return {changes, fresh, stale: c.slide(900)};
            } finally {
                Date.now = realNow;
            }
        }"""
    )
    assert result == {"changes": 0, "fresh": False, "stale": True}


# --- a first load that fails ---------------------------------------------------------------------

#: A page, its first API request, where it shows errors, what it shows once that request works.
FIRST_LOADS = {
    "/": (r"/api/watchers$", "#notices", 'tr[data-watcher="sleepy"]'),
    "/watchers/sleepy": (r"/api/watchers/sleepy$", "#notices", "#process-rows tr[data-pid]"),
    "/kernel": (r"/api/kernel$", "#notices", "#kernel-processes tr[data-pid]"),
    "/watchers/talker/output": (
        r"/api/watchers/talker/output\?since=0$",
        "#tail",
        "#tail .line.stdout",
    ),
}


@pytest.mark.parametrize("path", list(FIRST_LOADS))
def test_a_page_whose_first_load_fails_says_so_and_renders_on_its_own(console, context, tab, path):
    """The page's first API request fails (the network changed, circushttpd was restarting):
    the page shows the error and tries again until it renders, without a reload."""
    api, errors, shown = FIRST_LOADS[path]
    failed: list[str] = []

    def fail_once(route) -> None:
        if failed:
            route.continue_()
        else:
            failed.append(route.request.url)
            route.abort("internetdisconnected")

    context.route(re.compile(f"^{re.escape(console.url)}{api}"), fail_once)
    page = console.visit(tab, path)
    expect()(page.locator(errors)).to_contain_text("the web console is unreachable")
    console.ready(page)
    assert len(failed) == 1
    expect()(page.locator(shown).first).to_be_visible()


def test_a_page_whose_script_fails_to_load_says_so_and_reloads_on_its_own(console, context, tab):
    """A module the page's script imports does not load (the network changed mid-load): the
    banner says which script failed and offers a retry, and once the network is back the page
    reloads by itself and renders. (Before, it stayed empty until reloaded by hand.)"""
    failed: list[str] = []
    blocked = [True]

    def fail_while_blocked(route) -> None:
        if blocked[0]:
            failed.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    pattern = re.compile(f"^{re.escape(console.url)}/static/js/format\\.js")
    context.route(pattern, fail_while_blocked)
    page = console.visit(tab, "/")
    banner = page.locator("#banner")
    expect()(banner).to_contain_text("could not load its script")
    expect()(banner).to_contain_text("home.js")
    expect()(banner.locator("button.retry")).to_be_visible()
    assert page.locator("body[data-ready=true]").count() == 0
    blocked[0] = False  # the network is back
    console.ready(page)
    assert failed
    expect()(banner).to_be_hidden()
    expect()(row(page, "sleepy")).to_be_visible()


@pytest.fixture
def own_context(browser):
    """A browser context of the test's own (for what cannot be undone, like a fake clock)."""
    context = new_context(browser)
    yield context
    context.close()


def test_a_request_never_answered_times_out_and_the_page_tries_again(console, own_context):
    """circushttpd never answers the page's first request: after 20 s (a fake clock here) the
    page says so and asks again, and renders."""
    context = own_context
    context.clock.install()
    hung: list = []

    def hang_once(route) -> None:
        if hung:
            route.continue_()
        else:
            hung.append(route)  # never answered

    context.route(re.compile(f"^{re.escape(console.url)}/api/watchers/sleepy$"), hang_once)
    page = console.login(context, "/watchers/sleepy")
    support.wait_for(lambda: page.wait_for_timeout(50) or hung, timeout=15, message="request")
    page.clock.fast_forward(20_000)
    expect()(page.locator("#notices")).to_contain_text("did not answer within 20 s")
    page.clock.fast_forward(250)  # the first retry comes 0.25 s after the failure
    console.ready(page)
    expect()(page.locator("#process-rows tr[data-pid]").first).to_be_visible()


# --- add a watcher --------------------------------------------------------------------------------


def test_add_watcher_shows_errors_next_to_the_fields_then_adds(console, tab):
    ex = expect()
    page = console.visit(tab, "/add")
    page.wait_for_selector("#add-form")
    # checked in the browser: both required fields
    page.click("#add-submit")
    ex(page.locator('.field[data-field="name"] .error')).to_have_text("a name is required")
    ex(page.locator('.field[data-field="cmd"] .error')).to_have_text("a command is required")
    page.fill("#f-name", "my web")
    page.click("#add-submit")
    ex(page.locator('.field[data-field="name"] .error')).to_contain_text("no spaces")
    # checked by the server: an option it refuses comes back next to the options box
    page.fill("#f-name", "added")
    page.fill("#f-cmd", f"{WORKER_CMD} sleep")
    page.fill("#f-options", "max_retry = lots")
    page.click("#add-submit")
    error = page.locator('.field[data-field="options"] .error')
    ex(error).to_contain_text("max_retry")
    assert page.locator('.field[data-field="name"] .error').text_content() == ""
    assert "added" not in console.circusd.ok("list")["watchers"]
    # a name taken: refused, next to the name
    page.fill("#f-options", "")
    page.fill("#f-name", "sleepy")
    page.click("#add-submit")
    ex(page.locator('.field[data-field="name"] .error')).to_contain_text("already exist")
    # right: added, started, and the browser goes to its page; its after_start hook raises
    # (json.loads called as a hook: TypeError), which its page and the list show
    page.fill("#f-name", "added")
    page.fill("#f-numprocesses", "2")
    page.fill("#f-options", "hooks.after_start = json.loads, true")
    page.click("#add-submit")
    page.wait_for_url(f"{console.url}/watchers/added")
    ex(page.locator("#process-rows tr[data-pid]")).to_have_count(2)
    assert len(console.circusd.pids("added")) == 2
    hook = "the after_start hook (json.loads) raised TypeError"
    ex(page.locator("#tags .tag.warn")).to_contain_text(f"hook failed: {hook}")
    page = shown(console, tab, "/")
    tag = row(page, "added").locator(".tag.warn")
    ex(tag).to_have_text("hook failed")
    ex(tag).to_have_attribute("title", re.compile(re.escape(hook)))
    console.circusd.ok("rm", name="added")


# --- output, kernel -------------------------------------------------------------------------------


def test_output_tail_shows_new_lines_live(console, tab):
    ex = expect()
    page = console.visit(tab, "/watchers/talker/output")
    console.ready(page)
    console.circusd.ok("incr", name="talker")
    new = sorted(console.circusd.pids("talker"))[-1]
    try:
        # worker.py "sleep" prints "start PID" when it starts
        ex(page.locator("#tail")).to_contain_text(f"start {new}")
    finally:
        console.circusd.ok("decr", name="talker")


def test_kernel_page_lists_what_the_kernel_holds(console, tab):
    ex = expect()
    page = console.visit(tab, "/kernel")
    console.ready(page)
    for pid in console.circusd.pids("sleepy"):
        ex(page.locator(f'#kernel-processes tr[data-pid="{pid}"]')).to_contain_text("sleepy")


def test_circusds_page_says_discovery_is_off_and_names_this_console(console, tab):
    """Without --discover the Circusds page names the console's circusd and how to turn
    discovery on (tests/integration/discovery/test_web_discovery.py lists real answers)."""
    ex = expect()
    page = console.visit(tab, "/connect")
    console.ready(page)
    ex(page.locator("#discovery-current")).to_have_text(console.circusd.endpoint)
    ex(page.locator("#discovery-off")).to_be_visible()
    ex(page.locator("#discovery-off")).to_contain_text("--discover")
    ex(page.locator("#discovery-probe")).to_be_hidden()
    ex(page.locator('nav a[href="/connect"]')).to_have_attribute("aria-current", "page")


# --- security -------------------------------------------------------------------------------------

#: Routes that answer without a session, and why.
PUBLIC = {
    r"/login": "the login form",
    r"/logout": "ending a session needs none",
    r"/api/login": "the login call",
    r"/api/logout": "ending a session needs none",
    r"/api/session": "says who is logged in (null when nobody)",
}


def concrete(pattern: str) -> str:
    path = pattern.replace(r"([^/]+)", "sleepy").replace(r"([a-z]+)", "stop")
    return path.rstrip("$")


def test_every_route_refuses_a_request_without_a_session(console):
    """Pages send to the login form; the API and the WebSocket answer 401; a POST without a
    session or token is refused. Every route of the application is tried, so a new route is
    covered without changing this test."""
    from circus.web.app import routes

    tried = []
    for pattern, _handler in routes():
        if pattern in PUBLIC:
            continue
        path = concrete(pattern)
        tried.append(path)
        status, body = console.get(path, headers={"Accept": "text/html"})
        if path.startswith(("/api/", "/ws")):
            assert status in (401, 403), (path, status, body)
        else:
            assert status == 302, (path, status, body)
        status, body = console.request(
            "POST", path, body=b"{}", headers={"Content-Type": "application/json"}
        )
        assert status in (401, 403, 405), (path, status, body)
    assert "/" in tried and "/api/watchers" in tried and "/ws" in tried
    assert watcher_status(console, "sleepy") == "active"  # nothing was stopped on the way


# --- circusd stalls ---------------------------------------------------------------------------


def test_a_page_opened_while_circusd_stalls_says_so_and_renders_once_it_answers(console, tab):
    """circusd is stopped (SIGSTOP) while a page loads: circushttpd's calls time out, the banner
    says circusd is disconnected, and once circusd runs again (SIGCONT) the page renders by
    itself (no request waits for ever on the stale link)."""
    ex = expect()
    pid = console.circusd.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        page = console.visit(tab, "/watchers/sleepy")
        ex(page.locator("#banner")).to_contain_text("circusd is disconnected")
        assert page.locator("body[data-ready=true]").count() == 0
    finally:
        os.kill(pid, signal.SIGCONT)
    console.ready(page)
    ex(page.locator("#banner")).to_be_hidden()
    ex(page.locator("#process-rows tr[data-pid]")).to_have_count(2)


# --- circushttpd restarted ----------------------------------------------------------------------


def test_a_restarted_console_asks_to_log_in_again(console, tab):
    """The banner while circushttpd is down; once it is back the session is gone (sessions
    live in its memory), so the page goes to the login form, which brings it back. (The page
    the stall test left, a watcher's: any page does.)"""
    ex = expect()
    page = shown(console, tab, "/watchers/sleepy")
    console.stop_httpd()
    ex(page.locator("#banner")).to_contain_text("web console is unreachable")
    console.start_httpd()
    page.wait_for_url(re.compile(r".*/login\?next=%2Fwatchers%2Fsleepy$"))
    page.fill("#f-token", console.token)
    page.click("#login-submit")
    page.wait_for_url(f"{console.url}/watchers/sleepy")
    ex(page.locator("#banner")).to_be_hidden()


# --- circusd goes away and comes back -------------------------------------------------------------


def test_banner_shows_while_circusd_is_away_and_the_page_recovers(console, page):
    ex = expect()
    banner = page.locator("#banner")
    ex(banner).to_be_hidden()
    console.circusd.stop()
    ex(banner).to_be_visible()
    ex(banner).to_contain_text("disconnected, retrying")
    console.start_circusd()
    ex(banner).to_be_hidden()
    # the page works again without a reload: an action reaches the new circusd
    row(page, "talker").locator(".incr").click()
    ex(row(page, "talker").locator(".count")).to_have_text("2")
    assert numprocesses(console, "talker") == 2
    console.circusd.ok("decr", name="talker")


# --- last: the session ends; a password login (on another circushttpd of the same host, whose
# session cookie replaces this one's) -------------------------------------------------------------


def test_logout_ends_the_session(console, page):
    page.click("form.logout button")
    page.wait_for_url(re.compile(r".*/login.*"))
    page.goto(f"{console.url}/")
    assert "/login" in page.url


@pytest.fixture(scope="module")
def password_url(console, tmp_path_factory):
    """A second circushttpd on the same circusd, with password logins (user alice)."""
    from circus.web.auth import add_user

    auth = tmp_path_factory.mktemp("auth") / "users"
    add_user(str(auth), "alice", "s3cret-pass")  # as --add-user does (test_security runs it)
    base = [sys.executable, "-m", "circus.cli.circushttpd", "--auth-file", str(auth)]
    port = support.free_port()
    argv = [*base, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--endpoint", console.circusd.endpoint]
    with support.running(argv, env=console.env(), stderr=subprocess.DEVNULL) as proc:
        url = f"http://127.0.0.1:{port}"
        support.wait_for(lambda: proc.poll() is None and _answers(url), timeout=20)
        yield url


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/session", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_password_login(password_url, tab):
    ex = expect()
    page = tab
    page.goto(f"{password_url}/")
    page.fill("#f-username", "alice")
    page.fill("#f-password", "wrong")
    page.click("#login-submit")
    ex(page.locator("#login-error")).to_contain_text("wrong user name or password")
    page.fill("#f-username", "alice")
    page.fill("#f-password", "s3cret-pass")
    page.click("#login-submit")
    ex(page.locator("form.logout button")).to_have_text("Log out alice")
    wait_ready(page)
    ex(row(page, "sleepy").locator(".toggle")).to_have_text("active")


# --- the browser itself, while the machine's addresses change ------------------------------------

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
        if self.path != "/":  # a fetch stays in flight 0.1 s: as many wait, fewer are made
            time.sleep(0.1)
        body = b"<!DOCTYPE html><html><body>ok</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_requests_survive_address_changes_on_the_machine(tab):
    """The browser the web tests drive (browser.py) keeps working while the machine's network
    configuration changes, as it does when tests/netns.py runs in another xdist worker:
    addresses appear and go (twice a namespace made and removed) while the page has requests
    in flight, and none fails (chromium failed them with net::ERR_NETWORK_CHANGED). In this
    module's browser: a launch of its own would cost ~0.8 s of CPU."""
    netns.require()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", support.free_port()), Quiet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    page = tab
    failures: list[str] = []

    def failed(request) -> None:
        failures.append(f"{request.url}: {request.failure}")

    page.on("requestfailed", failed)
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        page.evaluate(HAMMER, IN_FLIGHT)
        for _ in range(2):  # a bridge, a veth pair and their addresses come and go
            with netns.Namespaces(1):
                pass
        counts = page.evaluate(STOP)
    finally:
        page.remove_listener("requestfailed", failed)
        server.shutdown()
        server.server_close()
    assert counts["ok"] > 0
    assert failures == [] and counts["failed"] == 0, (counts, failures[:5])
