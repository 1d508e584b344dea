"""The counter example end to end: its markup, live events, and the no-JS path."""

from __future__ import annotations

import re
from typing import Iterator

import counter
import pytest
from conftest import SECRET

import mizulive
from mizulive.testing import Client, LiveOpener


@pytest.fixture
def app() -> Iterator[mizulive.App]:
    with mizulive.App(views=counter.VIEWS, secret=SECRET) as app:
        counter.register(app)
        app.start("127.0.0.1:0")
        yield app


def count_in(html: str) -> int:
    m = re.search(r'<strong id="count">(-?\d+)</strong>', html)
    assert m, html
    return int(m.group(1))


def test_page_keeps_the_seed_markup(app: mizulive.App) -> None:
    page = Client(app.url).get("/counter")
    assert page.status == 200
    html = page.text
    assert '<div id="lv-root" data-lv>' in html
    assert '<div id="stats">' in html and '<div id="log">' in html
    assert 'data-lv-click="inc" data-lv-value-by="1"' in html
    assert 'data-lv-click="dec" data-lv-value-by="1"' in html
    assert count_in(html) == 0
    assert page.boot["seq"] == 0 and page.boot["token"]


def test_live_events_patch_only_the_marked_regions(app: mizulive.App) -> None:
    with Client(app.url).live("/counter") as live:
        assert live.joined["resumed"] is True
        reply = live.event("inc", values={"by": "1"})
        assert reply.ok
        [patch] = reply.patches
        assert set(patch["regions"]) == {"stats", "log"}
        assert count_in(patch["regions"]["stats"]) == 1
        assert "inc 1 → 1" in patch["regions"]["log"]

        reply = live.event("dec", values={"by": "5"})
        assert count_in(reply.regions["stats"]) == -4
        assert live.seq == 2 and "seq" not in reply.patches[0]


def test_log_keeps_the_last_ten_entries(app: mizulive.App) -> None:
    with Client(app.url).live("/counter") as live:
        for _ in range(12):
            reply = live.event("inc", values={"by": "1"})
        log = reply.regions["log"]
        assert log.count("<li>") == counter.LOG_MAX
        assert "inc 1 → 12" in log and "inc 1 → 2<" not in log


def test_unknown_event_gets_an_error_reply_and_changes_nothing(app: mizulive.App) -> None:
    with Client(app.url).live("/counter") as live:
        assert live.event("inc").ok
        reply = live.event("explode")
        assert not reply.ok and reply.error and reply.error["code"] == "host_error"
        assert reply.patches == []
        assert count_in(live.event("inc").regions["stats"]) == 2


def test_without_javascript_the_buttons_post_and_the_count_survives(app: mizulive.App) -> None:
    client = Client(app.url)
    page = client.get("/counter")
    form = page.form(button="inc")
    [inc] = [b for b in form.buttons if b[1].startswith("inc")]
    for expected in (1, 2):
        done = client.submit(form, button=inc)
        assert done.status == 303 and done.location == "/counter"
        page = client.get("/counter")
        assert count_in(page.text) == expected
        form = page.form(button="inc")


def test_a_post_without_csrf_is_refused(app: mizulive.App) -> None:
    client = Client(app.url)
    page = client.get("/counter")
    data = [(k, v) for k, v in page.form(button="inc").data(button=("_lv_click", "inc?by=1")) if k != "_csrf"]
    assert client.post("/counter", data).status == 403


def test_the_buttons_count_in_process(live: LiveOpener) -> None:
    # The same page through the in-process client: buttons found by their markup.
    page = live("/counter")
    page.click("[data-lv-click=inc]")
    page.click("[data-lv-click=inc]")
    page.click("[data-lv-click=dec]")
    assert count_in(page.region("stats")) == 1
    assert "dec 1 → 1" in page.region("log")
    assert page.state["count"] == 1
