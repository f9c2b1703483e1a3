"""circushttpd, the web console: a tornado application serving pages, a JSON API under
``/api/`` and a WebSocket (``/ws``) that pushes circusd's events, stats and output.

``app`` builds the application, ``circusd`` links it to one circusd, ``auth``/``login`` log
users in, ``api`` and ``ws`` serve the browser, ``pages`` and ``templates/``/``static/`` are
the console itself. The API contract is docs/dev/web-api.md; the user guide docs/web.md.
"""
