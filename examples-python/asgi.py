"""The counter inside the host's own web server: a Starlette site, served by uvicorn,
with a route of its own (``/hello``), static files (``/static/app.css``) and the
counter of ``counter.py`` at ``/counter`` through ``app.asgi()``.

    pip install uvicorn starlette     (or the package's test extra)
    python3 examples-python/asgi.py   (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)

Only uvicorn's port is open: the library serves the pages and the WebSocket through
the site. ``MIZULIVE_DEV=1`` turns on dev mode, as for counter.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from pathlib import Path
from typing import AsyncIterator

import counter
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import mizulive

STATIC = Path(__file__).resolve().parent / "static"


def build(**options: object) -> tuple[Starlette, mizulive.App]:
    """The site: its own route and static files first, then the counter's app at
    ``/`` for everything else (the counter page and ``/_live/``)."""
    app = mizulive.App(views=counter.VIEWS, **options)  # type: ignore[arg-type]
    counter.register(app)
    live = app.asgi()

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"hello from the site's own route; {app.session_count} live sessions\n")

    @contextlib.asynccontextmanager
    async def lifespan(site: Starlette) -> AsyncIterator[None]:
        yield
        # Browsers are told to reconnect, callbacks in flight finish.
        await live.aclose()

    site = Starlette(
        routes=[
            Route("/hello", hello),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
            Mount("/", app=live),
        ],
        lifespan=lifespan,
    )
    return site, app


def listen(addr: str) -> socket.socket:
    """A listening socket on ``addr`` ("127.0.0.1:3000", "[::1]:0"): bound here, so
    the banner can name the port even when port 0 picked it."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"MIZULIVE_ADDR={addr!r} must be host:port, e.g. 127.0.0.1:3000")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, int(port)), family=family)


class Server(uvicorn.Server):
    """uvicorn's server, printing the counter's banner once it serves."""

    banner = ""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            print(self.banner, flush=True)


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = listen(os.environ.get("MIZULIVE_ADDR") or "127.0.0.1:3000")
    host, port = sock.getsockname()[:2]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    site, _ = build(dev=bool(os.environ.get("MIZULIVE_DEV")))
    server = Server(uvicorn.Config(site, log_level="warning"))
    # The first stdout line is counter.py's, so scripts find the address the same way.
    server.banner = f"counter listening on http://{address}/counter"
    # uvicorn handles Ctrl-C and SIGTERM while it serves (it closes the sockets, then
    # the site's lifespan closes the app), then raises the signal again: as Ctrl-C
    # for both, so the program ends with a log line rather than a traceback.
    signal.signal(signal.SIGTERM, interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    logging.getLogger("asgi").info("stopped")


if __name__ == "__main__":
    main()
