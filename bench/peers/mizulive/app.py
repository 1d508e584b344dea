"""The peer benchmark's pages (bench/peers/PAGES.md) on the Python host: /counter,
/table and /list, rendered from the views shared with the C and Go hosts.

Listens on 127.0.0.1:$PORT (0 = a free port) and prints ``peer listening on
http://ADDR`` once it accepts connections. Run from the source tree:

    PYTHONPATH=bindings/python python3 bench/peers/mizulive/app.py
"""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import mizulive

VIEWS = Path(__file__).resolve().parent / "views"
ROWS = 100
TOPIC = "bench-broadcast"


class Broadcast:
    """The server-wide broadcast value every /counter session shows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = itertools.count(1)
        self.value = 0

    def bump(self) -> int:
        with self._lock:
            self.value = next(self._next)
            return self.value


BROADCAST = Broadcast()


class Counter(mizulive.Page):
    template = "bench/counter"
    regions = {"count": "bench/count", "bcast": "bench/bcast"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "bc": BROADCAST.value}
        s.subscribe(TOPIC)

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name == "inc":
            s.state["count"] += 1
            s.mark("count")
        elif e.name == "broadcast":
            # Every session, this one included, shows the value when its info arrives.
            s.publish(TOPIC, BROADCAST.bump())
        else:
            raise mizulive.CallbackError(f"unknown event {e.name!r}")

    def info(self, s: mizulive.Session, msg: object) -> None:
        s.state["bc"] = msg
        s.mark("bcast")


class Table(mizulive.Page):
    template = "bench/table"
    regions = {"rows": "bench/rows"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"rows": [0] * ROWS}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        row = e.int("row", -1)
        if e.name != "bump" or not 0 <= row < ROWS:
            raise mizulive.CallbackError(f"unknown event {e.name!r} or row {row}")
        s.state["rows"][row] += 1
        s.mark("rows")


class List(mizulive.Page):
    template = "bench/list"
    regions = {"items": "bench/items"}

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"items": []}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name != "add":
            raise mizulive.CallbackError(f"unknown event {e.name!r}")
        items = s.state["items"]
        items.append(f"item-{len(items) + 1}")
        s.mark("items")


def main() -> None:
    app = mizulive.App(views=os.environ.get("MIZULIVE_VIEWS") or VIEWS)
    app.page("/counter", Counter)
    app.page("/table", Table)
    app.page("/list", List)
    app.run(f"127.0.0.1:{os.environ.get('PORT') or '0'}", banner="peer listening on {url}")


if __name__ == "__main__":
    main()
