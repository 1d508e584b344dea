"""All the Python examples in one app: the counter, the chat and the todo list.

    python3 examples-python/gallery.py    (listens on $MIZULIVE_ADDR, default 127.0.0.1:3000)

Then open http://127.0.0.1:3000/ (with JavaScript on or off).
"""

from __future__ import annotations

import logging
import os

import chat
import counter
import todo

import mizulive


class Home(mizulive.Page):
    """Links to each example."""

    template = "gallery/index"

    def mount(self, s: mizulive.Session) -> None:
        s.set_title("mizulive from Python")


def build(**options: object) -> mizulive.App:
    """An app with every example's pages and a home page linking them."""
    app = mizulive.App(views=counter.VIEWS, **options)  # type: ignore[arg-type]
    app.page("/", Home)
    counter.register(app)
    chat.register(app)
    todo.register(app)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build(dev=bool(os.environ.get("MIZULIVE_DEV")))
    app.run(banner="gallery listening on {url}/")


if __name__ == "__main__":
    main()
