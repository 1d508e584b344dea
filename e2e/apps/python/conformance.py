"""The mizulive conformance app in Python: the contract of e2e/SPEC.md over the shared
views in e2e/views. The same app exists in C (e2e/apps/c) and Go (e2e/apps/go); the
browser suite in e2e/tests runs against each.

    PYTHONPATH=bindings/python python3 e2e/apps/python/conformance.py

It listens on $MIZULIVE_ADDR (default 127.0.0.1:3000), reads its views from
$MIZULIVE_VIEWS (default: e2e/views of this checkout), runs in dev mode when
$MIZULIVE_DEV is "1", and prints "conformance listening on http://ADDR/" as its first
stdout line. SIGINT or SIGTERM stops it gracefully with exit status 0.

With $E2E_EMBED set to "1" the same pages are served by uvicorn through
``app.asgi()``, the library opening no port: the suite then checks the ASGI path in
a real browser.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import mizulive

VIEWS = Path(__file__).resolve().parent.parent.parent / "views"

LOG_MAX = 10  # /counter keeps the last 10 log entries
ITEMS_MAX = 5  # /feed keeps the newest 5 items
MESSAGES_MAX = 50  # /rooms/{room} keeps the last 50 messages
TICK_SECONDS = 0.2  # /form's clock
FEED_SECONDS = 0.3  # the publisher's period
FEED_TOPIC = "feed"
MIN_NAME = 3
NAME_ERROR = f"Name must be at least {MIN_NAME} characters"
# Unicode White_Space (what Go's unicode.IsSpace accepts): what a trim removes.
WHITESPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
INT64 = range(-(2**63), 2**63)

log = logging.getLogger("conformance")


def form_value(e: mizulive.Event, field: str) -> str:
    """``form.<field>[0]`` of an event, as sent (untrimmed), or ``""``."""
    values = e.form.get(field)
    return values[0] if values else ""


def int_value(e: mizulive.Event, name: str, default: int) -> int:
    """The value ``name`` (a ``data-lv-value-*`` first, else the form's) as a 64-bit
    decimal integer; ``default`` when absent. Anything else fails the event."""
    raw = e.get(name)
    if raw is None:
        return default
    text = raw.strip(WHITESPACE)
    # -2**63 is refused too: dec could not negate it in 64 bits.
    if INTEGER.fullmatch(text) is None or int(text) not in INT64 or int(text) == INT64.start:
        raise mizulive.CallbackError(f"{name} is not an integer: {raw!r}")
    return int(text)


class Counter(mizulive.Page):
    """A count and a log of the last changes; ``slow`` takes a second, ``boom`` fails."""

    template = "counter/index"
    regions = {"stats": "counter/stats", "log": "counter/log"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "log": []}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name in ("inc", "dec"):
            by = int_value(e, "by", 1)
            self._change(s, e.name, by, by if e.name == "inc" else -by)
        elif e.name == "slow":
            time.sleep(1.0)
            self._change(s, "slow", 1, 1)
        elif e.name == "boom":
            s.state["count"] += 100
            # A failed callback keeps the state the session had before it: the +100 goes.
            raise mizulive.CallbackError("boom: the detailed reason")
        else:
            raise mizulive.CallbackError(f"unknown event {e.name!r}")

    @staticmethod
    def _change(s: mizulive.Session, name: str, by: int, delta: int) -> None:
        state = s.state
        if state["count"] + delta not in INT64:
            raise mizulive.CallbackError("the count is out of range")
        state["count"] += delta
        state["log"] = [*state["log"], f"{name} {by} → {state['count']}"][-LOG_MAX:]
        s.mark("stats", "log")


class Form(mizulive.Page):
    """Validation while typing, a flash on save, a ticking clock, redirect and navigate."""

    template = "form/index"
    regions = {"flash": "form/flash", "errors": "form/errors", "count": "form/count", "clock": "form/clock"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"name": "", "error": "", "validations": 0, "ticks": 0, "saved": []}
        s.send_after(TICK_SECONDS, {"tick": True})

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name == "validate":
            self._validate(s, form_value(e, "name"))
            s.mark("errors", "count")
        elif e.name == "save":
            name = form_value(e, "name")
            if self._validate(s, name):
                s.state["saved"].append(name)
                s.flash(f"Saved {name}", kind="info")
                s.state["name"] = ""
            s.mark("flash", "errors", "count")
        elif e.name == "go-redirect":
            s.redirect("/counter")
        elif e.name == "go-navigate":
            s.navigate("/feed", replace=False)
        else:
            raise mizulive.CallbackError(f"unknown event {e.name!r}")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        if s.topic is not None:
            return  # only our timer
        s.state["ticks"] += 1
        s.mark("clock")
        s.send_after(TICK_SECONDS, {"tick": True})

    @staticmethod
    def _validate(s: mizulive.Session, name: str) -> bool:
        """Counts the validation, stores the name and its error; True when it is valid."""
        state = s.state
        state["validations"] += 1
        state["name"] = name
        state["error"] = NAME_ERROR if 0 < len(name) < MIN_NAME else ""
        return not state["error"]


class Feed(mizulive.Page):
    """The newest items published on ``feed``."""

    template = "feed/index"
    regions = {"items": "feed/items"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"items": []}
        s.subscribe(FEED_TOPIC)

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        raise mizulive.CallbackError(f"unknown event {e.name!r}")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        if s.topic != FEED_TOPIC:
            return
        s.state["items"] = [msg, *s.state["items"]][:ITEMS_MAX]
        s.mark("items")


def room_topic(room: str) -> str:
    return f"room:{room}"


class Room(mizulive.Page):
    """A chat room: ``send`` publishes on ``room:<room>``, every member shows it."""

    template = "room/index"
    regions = {"messages": "room/messages"}

    def mount(self, s: mizulive.Session) -> None:
        room = s.params["room"]
        s.state = {"room": room, "messages": []}
        s.subscribe(room_topic(room))

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name != "send":
            raise mizulive.CallbackError(f"unknown event {e.name!r}")
        text = form_value(e, "text").strip(WHITESPACE)
        if text:
            # No mark: the message comes back through info, to this session too.
            s.publish(room_topic(s.params["room"]), {"text": text})

    def info(self, s: mizulive.Session, msg: Any) -> None:
        if s.topic != room_topic(s.params["room"]):
            return
        s.state["messages"] = [*s.state["messages"], msg][-MESSAGES_MAX:]
        s.mark("messages")


def register(app: mizulive.App) -> None:
    """Adds the conformance pages to ``app``."""
    counter = app.page("/counter", Counter)
    app.page("/", counter)  # the same registration again
    app.page("/form", Form)
    app.page("/feed", Feed)
    app.page("/rooms/{room}", Room)


def publish_feed(app: mizulive.App, stop: threading.Event) -> None:
    """Publishes ``{"n": N, "text": "item N"}`` (N = 1, 2, ...) on ``feed`` every
    300 ms until ``stop`` is set."""
    n = 0
    deadline = time.monotonic()
    while True:
        # Fixed deadlines: the period does not drift with the time a publish takes.
        deadline += FEED_SECONDS
        if stop.wait(max(0.0, deadline - time.monotonic())):
            return
        n += 1
        try:
            app.publish(FEED_TOPIC, {"n": n, "text": f"item {n}"})
        except mizulive.MizuliveError as exc:
            log.error("publishing on %s: %s", FEED_TOPIC, exc)


def serve_asgi(app: mizulive.App, stop: threading.Event) -> None:
    """Serves the app from uvicorn on $MIZULIVE_ADDR until SIGINT or SIGTERM; the
    publisher stops, then the app closes, in the server's lifespan shutdown."""
    import asyncio
    import contextlib
    import socket

    import uvicorn

    live = app.asgi()
    publisher = threading.Thread(target=publish_feed, args=(app, stop), name="feed-publisher")

    async def site(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await live(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                publisher.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stop.set()
                await asyncio.to_thread(publisher.join)  # no publish races the shutdown
                await live.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    host, _, port = (os.environ.get("MIZULIVE_ADDR") or "127.0.0.1:3000").rpartition(":")
    sock = socket.create_server((host.strip("[]"), int(port)))
    bound = sock.getsockname()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if not self.should_exit:
                print(f"conformance listening on http://{bound[0]}:{bound[1]}/", flush=True)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # uvicorn handles both signals while it serves, then raises them again: as Ctrl-C.
    signal.signal(signal.SIGTERM, interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        Server(uvicorn.Config(site, log_level="warning")).run(sockets=[sock])


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("E2E_EMBED") == "1":
        views = os.environ.get("MIZULIVE_VIEWS") or VIEWS
        with mizulive.App(views=views, dev=os.environ.get("MIZULIVE_DEV") == "1") as app:
            register(app)
            serve_asgi(app, threading.Event())
        return 0
    # Handlers first, so a signal that comes right after the banner still stops the
    # app cleanly.
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    views = os.environ.get("MIZULIVE_VIEWS") or VIEWS
    with mizulive.App(views=views, dev=os.environ.get("MIZULIVE_DEV") == "1") as app:
        register(app)
        app.start()  # $MIZULIVE_ADDR, else 127.0.0.1:3000
        publisher = threading.Thread(target=publish_feed, args=(app, stop), name="feed-publisher")
        publisher.start()
        print(f"conformance listening on {app.url}/", flush=True)
        try:
            # Short waits, so the signal handler runs promptly on the main thread.
            while not stop.wait(0.5):
                pass
        finally:
            stop.set()
            publisher.join()  # no publish races the shutdown
        log.info("stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
