"""__NAME__: a counter at /counter and a live list at /list.

make run    (serves on $MIZULIVE_ADDR, default 127.0.0.1:3000; MIZULIVE_DEV=1 for dev mode)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from pathlib import Path
from typing import List, Optional

import mizulive

VIEWS = Path(__file__).resolve().parent / "views"

LOG_MAX = 10
ITEMS_MAX = 50
TEXT_MAX = 80


@dataclasses.dataclass
class CounterState:
    """One page session's count; templates read {{ state.count }}, {{ state.log }}."""

    count: int = 0
    log: List[str] = dataclasses.field(default_factory=list)


class Counter(mizulive.Page[CounterState]):
    """+ and - buttons, the count and a short log. A new session starts from
    ``CounterState()``."""

    template = "counter/index"
    regions = {"stats": "counter/stats", "log": "counter/log"}

    @mizulive.on("inc")
    def inc(self, s: mizulive.Session[CounterState], e: mizulive.Event) -> None:
        self._count(s, e, 1)

    @mizulive.on("dec")
    def dec(self, s: mizulive.Session[CounterState], e: mizulive.Event) -> None:
        self._count(s, e, -1)

    def _count(self, s: mizulive.Session[CounterState], e: mizulive.Event, sign: int) -> None:
        by = e.int("by", 1)
        s.state.count += sign * by
        s.state.log = [*s.state.log, f"{e.name} {by} → {s.state.count}"][-LOG_MAX:]
        s.mark("stats", "log")


@dataclasses.dataclass
class Item:
    id: int
    text: str


@dataclasses.dataclass
class ListState:
    items: List[Item] = dataclasses.field(default_factory=list)
    added: int = 0
    error: Optional[str] = None


class Shared:
    """The list every page starts from (a database in a real app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Item] = []
        self._next_id = 1

    def items(self) -> list[Item]:
        with self._lock:
            return list(self._items)

    def add(self, text: str) -> Item:
        with self._lock:
            item = Item(self._next_id, text)
            self._next_id += 1
            self._items = [*self._items, item][-ITEMS_MAX:]
            return item


class LiveList(mizulive.Page[ListState]):
    """A list every open page sees grow: an added item is published on the topic
    "list" and every page subscribed to it appends it."""

    template = "list/index"
    regions = {"new": "list/new", "items": "list/items"}

    def __init__(self, app: mizulive.App, shared: Shared) -> None:
        self.app = app
        self.shared = shared

    def mount(self, s: mizulive.Session[ListState]) -> None:
        s.state = ListState(items=self.shared.items())
        s.subscribe("list")

    @mizulive.on("add")
    def add(self, s: mizulive.Session[ListState], e: mizulive.Event) -> None:
        text = e.text("text")
        s.mark("new")
        if not text:
            s.state.error = "Write something first."
        elif len(text) > TEXT_MAX:
            s.state.error = f"At most {TEXT_MAX} characters, please."
        else:
            s.state.error = None
            s.state.added += 1
            # Every page on the topic, this one included, appends it in appended().
            self.app.publish("list", dataclasses.asdict(self.shared.add(text)))

    @mizulive.on_info("list")
    def appended(self, s: mizulive.Session[ListState], msg: dict[str, object]) -> None:
        s.state.items = [*s.state.items, Item(int(str(msg["id"])), str(msg["text"]))][-ITEMS_MAX:]
        s.mark("items")


def create_app(dev: bool = False) -> mizulive.App:
    """The app with both pages registered; the tests build theirs with it too."""
    app = mizulive.App(views=VIEWS, dev=dev)
    app.page("/counter", Counter)
    app.page("/list", LiveList(app, Shared()))
    return app


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    create_app(dev=bool(os.environ.get("MIZULIVE_DEV"))).run(banner="__NAME__ on {url}/counter and {url}/list")
