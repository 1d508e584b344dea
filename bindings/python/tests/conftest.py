"""Shared fixtures: apps on 127.0.0.1:0 that are always closed, a test views folder,
and the examples on ``sys.path``."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

import mizulive
from mizulive.testing import Client

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples-python"
#: This machine builds the compiled per-event path (mizulive._speedups): a C compiler
#: and this Python's headers. ``make test-python`` says so; a package without it then
#: fails the tests instead of passing in pure Python.
SPEEDUPS_EXPECTED = os.environ.get("MIZULIVE_EXPECT_SPEEDUPS") == "1"
sys.path.insert(0, str(EXAMPLES))

# A fixed secret keeps the library from warning about a random one in every test.
SECRET = "test-secret-0123456789abcdef0123456789abcdef"

LAYOUT = """<!doctype html>
<html><head><title>{{ title or "probe" }}</title></head>
<body>{{ content }}</body></html>
"""
# The probe page shows what a test needs to see: state values, flash, params, user.
PAGE = """<div id="lv-root" data-lv>
{{ lv.form("save", id="f") }}<input name="text" value=""><button>Save</button></form>
{{ lv.form(id="clicks") }}<button {{ lv.click("inc", by=1) }}>+</button></form>
<div id="main">{{ partial("probe/main") }}</div>
<div id="extra">{{ partial("probe/extra") }}</div>
</div>
"""
# Values a page may not have print as nothing through `default`: dev mode (as some
# tests run) refuses to print an undefined value.
MAIN = (
    'count={{ state.count | default("") }} '
    'text={{ state.text | default("") }} '
    'flash={{ flash.info | default("") }} '
    'room={{ params.room | default("") }} '
    'user={{ user_id or "" }}'
)
EXTRA = 'extra={{ state.extra | default("") }}'


@pytest.fixture(scope="session")
def views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A views folder with the ``probe/index`` page and regions ``main``, ``extra``."""
    root = tmp_path_factory.mktemp("views")
    for rel, text in {
        "layouts/default.html": LAYOUT,
        "pages/probe/index.html": PAGE,
        "partials/probe/main.html": MAIN,
        "partials/probe/extra.html": EXTRA,
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


class ProbePage(mizulive.Page):
    """Base for test pages over the probe views."""

    template = "probe/index"
    regions = {"main": "probe/main", "extra": "probe/extra"}


AppFactory = Callable[..., mizulive.App]


@pytest.fixture
def make_app(views: Path) -> Iterator[AppFactory]:
    """Creates apps (probe views, a fixed secret, any options) and closes them all
    at the end of the test."""
    apps: list[mizulive.App] = []

    def make(start: bool = True, **options: object) -> mizulive.App:
        opts: dict[str, object] = {"views": views, "secret": SECRET, **options}
        app = mizulive.App(**opts)  # type: ignore[arg-type]
        apps.append(app)
        if start:
            app.start("127.0.0.1:0")
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def serve(make_app: AppFactory) -> Callable[..., tuple[mizulive.App, Client]]:
    """Registers ``page`` at ``route`` on a fresh started app; returns it and a client."""

    def serve(page: object, route: str = "/probe", **options: object) -> tuple[mizulive.App, Client]:
        app = make_app(start=False, **options)
        app.page(route, page)  # type: ignore[arg-type]
        app.start("127.0.0.1:0")
        return app, Client(app.url)

    return serve


class Signal:
    """Values callbacks hand to the test thread, awaited with a timeout."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.values: list[object] = []

    def put(self, value: object = None) -> None:
        with self._cond:
            self.values.append(value)
            self._cond.notify_all()

    def wait(self, timeout: float = 5.0) -> object:
        """The first value, once there is one."""
        return self.wait_for(lambda v: len(v) > 0, timeout)[0]

    def wait_for(self, predicate: Callable[[list[object]], bool], timeout: float = 5.0) -> list[object]:
        """All values, once ``predicate`` holds for them."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.values), timeout):
                raise AssertionError(f"timed out; values so far: {self.values}")
            return list(self.values)
