"""The pytest plugin of mizulive (installed with the package, entry point ``pytest11``).

A module of its own, outside the ``mizulive`` package, so that pytest starting in an
environment where the library cannot load still starts: the package (and the library)
is imported only when a test asks for the fixture.

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
:func:`mizulive.testing.open` takes; ``live.app`` is the app. Annotate the fixture
as :class:`mizulive.testing.LiveOpener`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from mizulive.testing import LiveOpener


@pytest.fixture
def live(request: pytest.FixtureRequest) -> Iterator[LiveOpener]:
    """``live(path)`` opens ``path`` of the test's ``app`` fixture in an in-process
    headless browser; the pages are closed after the test."""
    from mizulive.app import App
    from mizulive.testing import LiveOpener

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
