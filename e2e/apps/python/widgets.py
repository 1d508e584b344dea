"""The widgets app: one page, /widgets, exercising the client runtime's handling of
controls (selects, radios, checkboxes and links inside clickable rows, focus and blur
on a container, a resetting form, key filters, scroll commands). The browser tests in
e2e/tests/runtime.test.js drive it; the runtime does not depend on the host language,
so one host serves it.

    PYTHONPATH=bindings/python python3 e2e/apps/python/widgets.py

Listens on $MIZULIVE_ADDR (default 127.0.0.1:3000), reads $MIZULIVE_VIEWS (default
e2e/views), prints "widgets listening on http://ADDR/" first; SIGINT or SIGTERM stop it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import mizulive

VIEWS = Path(__file__).resolve().parent.parent.parent / "views"


class Widgets(mizulive.Page):
    template = "widgets/index"
    regions = {
        "picker": "widgets/picker",
        "plans": "widgets/plans",
        "rows": "widgets/rows",
        "items": "widgets/items",
        "log": "widgets/log",
    }

    def mount(self, s: mizulive.Session) -> None:
        s.state = {
            "picks": [],
            "plan": "free",
            "note": "",
            "rows": [{"id": i, "selected": False} for i in (1, 2)],
            "items": [{"id": i, "marked": False} for i in (1, 2)],
            "opened": 0,
            "closed": 0,
            "drafts": [],
            "posts": [],
            "keys": [],
            "scrolls": 0,
        }

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        state = s.state
        if e.name == "pick":
            # Recorded, and "choose" is rendered selected again.
            if who := e.text("who"):
                state["picks"].append(who)
            s.mark("picker")
        elif e.name == "plan":
            # "pro" is refused: the plan stays what it was.
            if e.text("plan") == "pro":
                state["note"] = "pro is not available"
            else:
                state["plan"], state["note"] = e.text("plan"), ""
            s.mark("plans")
        elif e.name == "select":
            for row in state["rows"]:
                row["selected"] = row["id"] == e.int("id")
            s.mark("rows")
        elif e.name == "item-add":
            state["items"].append({"id": max((i["id"] for i in state["items"]), default=0) + 1, "marked": False})
            s.mark("items")
        elif e.name == "item-drop":
            state["items"] = state["items"][1:]
            s.mark("items")
        elif e.name == "item-rename":
            for item in state["items"]:
                if item["id"] == e.int("id"):
                    item["label"] = e.text("label")
            s.mark("items")
        elif e.name == "item-mark":
            for item in state["items"]:
                item["marked"] = item["id"] == e.int("id")
            s.mark("items")
        elif e.name in ("menu-open", "menu-close"):
            state["opened" if e.name == "menu-open" else "closed"] += 1
            s.mark("log")
        elif e.name == "draft":
            state["drafts"].append(e.text("reset"))
            s.mark("log")
        elif e.name == "post":
            state["posts"].append(e.text("reset"))
            s.mark("log")
        elif e.name == "key":
            state["keys"].append("Space" if e.key == " " else e.key)
            s.mark("log")
        elif e.name == "scroll-missing":
            state["scrolls"] += 1
            s.scroll("#not-on-this-page")
            s.mark("log")
        else:
            raise mizulive.CallbackError(f"unknown event {e.name!r}")


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    views = os.environ.get("MIZULIVE_VIEWS") or VIEWS
    with mizulive.App(views=views, dev=os.environ.get("MIZULIVE_DEV") == "1") as app:
        app.page("/widgets", Widgets)
        app.start()
        print(f"widgets listening on {app.url}/", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
