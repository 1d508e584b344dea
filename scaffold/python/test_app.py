"""The pages of __NAME__, driven as a browser drives them (``make test``).

``live`` (a pytest fixture the mizulive package installs) opens a page of the ``app``
fixture in an in-process headless browser: no server to start. Events point at rendered
elements with CSS selectors, so a typo in a template's event name fails a test.
"""

from __future__ import annotations

from typing import Iterator

import pytest
from app import create_app

import mizulive
from mizulive.testing import Client, LiveOpener


@pytest.fixture
def app() -> Iterator[mizulive.App]:
    with create_app() as app:
        yield app


def test_the_counter_counts(live: LiveOpener) -> None:
    page = live("/counter")
    for expected in (1, 2):
        page.click("[data-lv-click=inc]")
        assert f'<strong id="count">{expected}</strong>' in page.region("stats")
    page.click("[data-lv-click=dec]")
    assert page.state["count"] == 1
    assert "dec 1 → 1" in page.region("log")


def test_an_added_item_reaches_every_open_page(live: LiveOpener) -> None:
    ann, bob = live("/list"), live("/list")
    ann.submit("#new-item", text="  ")
    assert "Write something first." in ann.region("new")
    bob.assert_no_push(within=0.1)

    ann.submit("#new-item", text="milk")
    for page in (ann, bob):
        # The new item is published: every page on the topic gets it as a push.
        assert "milk" in str(page.next_push())
        assert '<li id="item-1">milk</li>' in page.region("items")
    # A page opened later starts from the list.
    assert "milk" in live("/list").region("items")


def test_the_list_works_without_javascript(app: mizulive.App) -> None:
    # The browser without JavaScript posts forms to a running server.
    app.start("127.0.0.1:0")
    client = Client(app.url)
    page = client.get("/list")
    after = client.submit(page.form("new-item"), {"text": "eggs"})
    assert after.status == 303
    assert '<li id="item-1">eggs</li>' in client.get(after.location or "/list").text
