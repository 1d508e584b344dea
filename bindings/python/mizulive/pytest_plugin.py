"""The pytest plugin of mizulive (installed with the package, entry point ``pytest11``).

It gives tests the ``live`` fixture: given the test's own ``app`` fixture (a
:class:`mizulive.App` with its pages registered; no server needs to run), ``live(path)``
opens that page in an in-process headless browser (:class:`mizulive.testing.LivePage`),
and every page it opened is closed after the test::

    @pytest.fixture
    def app():
        with create_app() as app:
            yield app

    def test_counter(live):
        page = live("/counter")
        page.click("[data-lv-click=inc]")
        assert page.state["count"] == 1

``live(path, cookies=..., headers=..., timeout=...)`` takes what
:func:`mizulive.testing.open` takes; ``live.app`` is the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:
    from .app import App
    from .testing import LivePage


class LiveOpener:
    """Opens pages of one app for one test; :meth:`close_all` closes them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.pages: list[LivePage] = []

    def __call__(self, path: str, **options: Any) -> LivePage:
        from .testing import open as open_page

        page = open_page(self.app, path, **options)
        self.pages.append(page)
        return page

    def close_all(self) -> None:
        for page in self.pages:
            page.close()
        self.pages.clear()


@pytest.fixture
def live(request: pytest.FixtureRequest) -> Iterator[LiveOpener]:
    """``live(path)`` opens ``path`` of the test's ``app`` fixture in an in-process
    headless browser; the pages are closed after the test."""
    from .app import App

    try:
        app = request.getfixturevalue("app")
    except pytest.FixtureLookupError:
        app = None
    if app is None:
        pytest.fail(
            "the live fixture needs an `app` fixture that returns (or yields) the mizulive.App under test",
            pytrace=False,
        )
    if not isinstance(app, App):
        raise TypeError(f"the `app` fixture must give a mizulive.App, not {type(app).__name__}")
    opener = LiveOpener(app)
    try:
        yield opener
    finally:
        opener.close_all()
