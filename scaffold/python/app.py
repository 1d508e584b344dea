"""__NAME__: a counter at /counter and a live list at /list.

    make run    (serves on $MIZULIVE_ADDR, default 127.0.0.1:3000; MIZULIVE_DEV=1 for dev mode)
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import mizulive

VIEWS = Path(__file__).resolve().parent / "views"

LOG_MAX = 10
ITEMS_MAX = 50
TEXT_MAX = 80


class Counter(mizulive.Page):
    """+ and - buttons, the count and a short log, one count per page session."""

    template = "counter/index"
    regions = {"stats": "counter/stats", "log": "counter/log"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "log": []}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name not in ("inc", "dec"):
            raise mizulive.CallbackError(f"unknown event {e.name!r}")
        by = e.int("by", 1)
        state = s.state
        state["count"] += by if e.name == "inc" else -by
        state["log"] = [*state["log"], f"{e.name} {by} → {state['count']}"][-LOG_MAX:]
        s.mark("stats", "log")


class Shared:
    """The list every page starts from (a database in a real app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._next_id = 1

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    def add(self, text: str) -> dict[str, Any]:
        with self._lock:
            item = {"id": self._next_id, "text": text}
            self._next_id += 1
            self._items = [*self._items, item][-ITEMS_MAX:]
            return item


class List(mizulive.Page):
    """A list every open page sees grow: an added item is published on the topic
    "list" and every page subscribed to it appends it."""

    template = "list/index"
    regions = {"new": "list/new", "items": "list/items"}

    def __init__(self, app: mizulive.App, shared: Shared) -> None:
        self.app = app
        self.shared = shared

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"items": self.shared.items(), "added": 0, "error": None}
        s.subscribe("list")

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name != "add":
            raise mizulive.CallbackError(f"unknown event {e.name!r}")
        text = e.text("text")
        s.mark("new")
        if not text:
            s.state["error"] = "Write something first."
        elif len(text) > TEXT_MAX:
            s.state["error"] = f"At most {TEXT_MAX} characters, please."
        else:
            s.state["error"] = None
            s.state["added"] += 1
            # Every page on the topic, this one included, appends it in info().
            self.app.publish("list", self.shared.add(text))

    def info(self, s: mizulive.Session, msg: Any) -> None:
        s.state["items"] = [*s.state["items"], msg][-ITEMS_MAX:]
        s.mark("items")


def create_app(dev: bool = False) -> mizulive.App:
    """The app with both pages registered; the tests build theirs with it too."""
    app = mizulive.App(views=VIEWS, dev=dev)
    app.page("/counter", Counter)
    app.page("/list", List(app, Shared()))
    return app


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    create_app(dev=bool(os.environ.get("MIZULIVE_DEV"))).run()
