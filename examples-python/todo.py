"""mizulive todo: validation while you type, a flash on save, delete by value.

The title field sends ``validate`` as you type (debounced by 300 ms) and only the
error line re-renders. Saving adds the item and shows a flash message that a timer
clears after a few seconds. Each item's buttons carry its id as a value
(``lv.click("delete", id=...)``). Every form is an ``lv.form``: the page works the
same with JavaScript off.

    python3 examples-python/todo.py    (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import mizulive

VIEWS = Path(__file__).resolve().parent / "views"

MAX_TITLE = 60


def problem(title: str, items: list[dict[str, Any]], required: bool) -> str | None:
    """Why ``title`` cannot be saved, or ``None``."""
    if not title:
        return "A title is required." if required else None
    if len(title) > MAX_TITLE:
        return f"At most {MAX_TITLE} characters ({len(title)} now)."
    if any(i["title"].lower() == title.lower() and not i["done"] for i in items):
        return "That is already on the list."
    return None


class Todo(mizulive.Page):
    """A todo list per session."""

    template = "todo/index"
    regions = {"flash": "todo/flash", "new": "todo/new", "error": "todo/error", "items": "todo/items"}
    #: How long a flash message stays up.
    flash_seconds = 4.0

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"items": [], "next_id": 1, "draft": "", "error": None, "flash_timer": None}
        s.set_title("mizulive todo")

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        state = s.state
        if e.name == "validate":
            state["draft"] = e.get("title") or ""
            state["error"] = problem(e.text("title"), state["items"], required=False)
            s.mark("error")
        elif e.name == "save":
            title = e.text("title")
            state["draft"] = e.get("title") or ""
            state["error"] = problem(title, state["items"], required=True)
            if state["error"]:
                s.mark("error")
                return
            state["items"].append({"id": state["next_id"], "title": title, "done": False})
            state["next_id"] += 1
            state["draft"] = ""
            self._flash(s, f"Saved “{title}”.")
            s.mark("new", "error", "items")
            s.focus("#title")
        elif e.name in ("toggle", "delete"):
            item = self._item(state, e.int("id", -1))
            if e.name == "toggle":
                item["done"] = not item["done"]
            else:
                state["items"].remove(item)
                self._flash(s, f"Deleted “{item['title']}”.")
            s.mark("items")
        else:
            raise mizulive.CallbackError(f"unknown event {e.name!r}")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        if s.topic is None and msg == {"clear": "flash"}:
            s.state["flash_timer"] = None
            s.mark("flash")  # rendered after the flash was shown: now empty

    @staticmethod
    def _item(state: dict[str, Any], item_id: int) -> dict[str, Any]:
        items: list[dict[str, Any]] = state["items"]
        for item in items:
            if item["id"] == item_id:
                return item
        raise mizulive.CallbackError(f"no item {item_id}")

    def _flash(self, s: mizulive.Session, message: str) -> None:
        s.flash(message)
        s.mark("flash")
        # One timer clears the flash; a newer flash restarts it.
        if s.state["flash_timer"] is not None:
            s.cancel(s.state["flash_timer"])
        s.state["flash_timer"] = s.send_after(self.flash_seconds, {"clear": "flash"})


def register(app: mizulive.App) -> None:
    """Adds the todo page to ``app``."""
    app.page("/todo", Todo)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = mizulive.App(views=VIEWS, dev=bool(os.environ.get("MIZULIVE_DEV")))
    register(app)
    app.page("/", Todo)
    app.run(banner="todo listening on {url}/todo")


if __name__ == "__main__":
    main()
