"""mizulive: live, server-rendered web pages from Python.

A page is a :class:`Page` subclass with a template, regions and a few callbacks over
its state (a dict, or a dataclass); :class:`App` serves it over HTTP and WebSocket
through the native ``libmizulive`` library::

    import dataclasses
    import mizulive

    @dataclasses.dataclass
    class CounterState:
        count: int = 0

    class Counter(mizulive.Page[CounterState]):
        template = "counter/index"
        regions = {"stats": "counter/stats"}

        @mizulive.on("inc")
        def inc(self, s: mizulive.Session[CounterState], e: mizulive.Event) -> None:
            s.state.count += e.int("by", 1)
            s.mark("stats")

    app = mizulive.App(views="views", dev=True)
    app.page("/counter", Counter)
    app.run()    # $MIZULIVE_ADDR or 127.0.0.1:3000

The library is found through ``MIZULIVE_LIB``, else the copy bundled with the package.
Inside the host's own web server (Starlette, FastAPI, any ASGI server), ``app.asgi()``
serves the pages instead of ``app.run()``.

Importing ``mizulive`` fails with :class:`LibraryError` when it is missing or speaks
another ABI version.
"""

from __future__ import annotations

from ._browser import BrowserSession
from ._lib import ABI_VERSION
from ._lib import lib as _cdll
from ._lib import path as library_path
from .app import App
from .asgi import ASGIApp
from .auth import AuthHook, AuthResult, Redirect, Request
from .errors import CallbackError, ErrorCode, LibraryError, MizuliveError, NotFound
from .page import Event, KeyMeta, Page, Session, on, on_info

__version__ = "0.1.0"

#: The loaded library's version, e.g. ``"0.1.0"``.
library_version: str = _cdll.lv_version().decode()

__all__ = [
    "ABI_VERSION",
    "ASGIApp",
    "App",
    "AuthHook",
    "AuthResult",
    "BrowserSession",
    "CallbackError",
    "ErrorCode",
    "Event",
    "KeyMeta",
    "LibraryError",
    "MizuliveError",
    "NotFound",
    "Page",
    "Redirect",
    "Request",
    "Session",
    "__version__",
    "library_path",
    "library_version",
    "on",
    "on_info",
]
