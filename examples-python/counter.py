"""The mizulive counter in Python: + and - buttons, a count region and a log region.

Works live over the WebSocket and, with JavaScript off, as plain form posts. The
markup is the C counter's (examples-c/counter), so the same browser tests and
benchmarks drive both.

    python3 examples-python/counter.py    (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)

``MIZULIVE_DEV=1`` turns on dev mode (detailed errors in the browser);
``MIZULIVE_VIEWS`` names another views folder (as for the C counter).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import List

import mizulive

VIEWS = Path(__file__).resolve().parent / "views"

# The log keeps the last few entries only, so the page stays small.
LOG_MAX = 10


@dataclasses.dataclass
class CounterState:
    """The state of one session; templates see {{ state.count }} and {{ state.log }}."""

    count: int = 0
    log: List[str] = dataclasses.field(default_factory=list)


class Counter(mizulive.Page[CounterState]):
    """A count and a log of the last changes, per session. A new session starts
    from ``CounterState()``; an event neither method claims is refused."""

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
        state = s.state
        state.count += sign * by
        state.log = [*state.log, f"{e.name} {by} → {state.count}"][-LOG_MAX:]
        s.mark("stats", "log")


def register(app: mizulive.App) -> None:
    """Adds the counter's page to ``app``."""
    app.page("/counter", Counter)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # MIZULIVE_VIEWS, as for the C counter, lets a bench point both at the same views.
    views = os.environ.get("MIZULIVE_VIEWS") or VIEWS
    app = mizulive.App(views=views, dev=bool(os.environ.get("MIZULIVE_DEV")))
    register(app)
    app.page("/", Counter)
    # The first stdout line is the C counter's, so bench/ and scripts find the address.
    app.run(banner="counter listening on {url}/counter")


if __name__ == "__main__":
    main()
