"""The pages of the console: each renders a template whose script fills it from the /api/.

The pages hold no data of their own: the templates are the frame (navigation, the
disconnected banner, empty tables) and the scripts under ``static/js/`` fetch ``/api/...``
and listen to ``/ws`` (docs/dev/web-api.md). Every handler is a
:class:`circus.web.base.PageHandler`, so a visitor who is not logged in is sent to the login
form first.
"""

from __future__ import annotations

from circus.web.base import PageHandler

#: Watcher names in a path: anything but a slash (the API says whether it exists).
NAME = r"([^/]+)"


class HomePage(PageHandler):
    """``/``: every watcher with live status and figures; circusd and circusd-stats."""

    def get(self) -> None:
        self.render("home.html")


class WatcherPage(PageHandler):
    """``/watchers/NAME``: one watcher, its processes, charts, kill and signal."""

    def get(self, name: str) -> None:
        self.render("watcher.html", name=name)


class OutputPage(PageHandler):
    """``/watchers/NAME/output``: a live tail of the watcher's output."""

    def get(self, name: str) -> None:
        self.render("output.html", name=name)


class AddWatcherPage(PageHandler):
    """``/add``: the form that adds a watcher."""

    def get(self) -> None:
        self.render("add.html")


class KernelPage(PageHandler):
    """``/kernel``: what papa-kernel holds (survives a restart of circusd)."""

    def get(self) -> None:
        self.render("kernel.html")


class ConnectPage(PageHandler):
    """``/connect``: the circusd the console is on, and those discovered (``--discover``)."""

    def get(self) -> None:
        self.render("connect.html")


#: ``(pattern, handler)`` of every page, added to the application by circus.web.app.
PAGE_ROUTES: list[tuple[str, type[PageHandler]]] = [
    (r"/", HomePage),
    (rf"/watchers/{NAME}", WatcherPage),
    (rf"/watchers/{NAME}/output", OutputPage),
    (r"/add", AddWatcherPage),
    (r"/kernel", KernelPage),
    (r"/connect", ConnectPage),
]
