"""The pages of __NAME__, driven as a browser drives them (``make test``)."""

from __future__ import annotations

from typing import Iterator

import pytest
from app import create_app

import mizulive
from mizulive.testing import Client


@pytest.fixture
def app() -> Iterator[mizulive.App]:
    with create_app() as app:
        app.start("127.0.0.1:0")
        yield app


def test_the_counter_counts(app: mizulive.App) -> None:
    with Client(app.url).live("/counter") as page:
        for expected in (1, 2):
            reply = page.event("inc", values={"by": "1"})
            assert reply.ok
            assert f'<strong id="count">{expected}</strong>' in reply.regions["stats"]
        assert "inc 1 → 2" in reply.regions["log"]


def test_an_added_item_reaches_every_open_page(app: mizulive.App) -> None:
    client = Client(app.url)
    with client.live("/list") as ann, client.live("/list") as bob:
        refused = ann.event("add", type="submit", form={"text": "  "})
        assert refused.ok
        assert "Write something first." in refused.regions["new"]

        assert ann.event("add", type="submit", form={"text": "milk"}).ok
        for page in (ann, bob):
            patch = page.wait_for(lambda f: f.get("t") == "patch" and "milk" in str(f), what="the new item")
            assert "milk" in str(patch)
    # A page opened later starts from the list.
    assert "milk" in client.get("/list").text


def test_the_list_works_without_javascript(app: mizulive.App) -> None:
    client = Client(app.url)
    page = client.get("/list")
    after = client.submit(page.form("new-item"), {"text": "eggs"})
    assert after.status == 303
    assert '<li id="item-1">eggs</li>' in client.get(after.location or "/list").text
