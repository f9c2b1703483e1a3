"""The console's pages (owned by the pages side, see docs/dev/web-api.md): ``PAGE_ROUTES`` is
added to the server's routes. Every handler subclasses :class:`circus.web.base.PageHandler`."""

from __future__ import annotations

from circus.web.base import PageHandler


class IndexPage(PageHandler):
    """``/``: the watcher list."""

    def get(self) -> None:
        self.render("index.html")


PAGE_ROUTES: list[tuple[str, type]] = [
    (r"/", IndexPage),
]
