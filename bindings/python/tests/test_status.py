"""A mount that answers a status or redirects, instead of failing as a 500."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ProbePage

import mizulive


class Boards(ProbePage):
    def mount(self, s: mizulive.Session) -> None:
        name = s.param("name")
        if name == "missing":
            raise mizulive.NotFound(f"no board {name!r}")
        if name == "gone":
            s.set_status(410)
            raise mizulive.CallbackError("archived")
        if name == "moved":
            s.redirect("/boards/soft")
            return
        if name == "perm":
            s.set_status(301)
            s.redirect("/boards/new")
            return
        if name == "bad":
            with pytest.raises(mizulive.MizuliveError, match="200 to 599"):
                s.set_status(42)
        if name == "soft":
            s.set_status(404)
        s.state = {"count": 3}


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/boards/missing", 404, "404 Not Found"),
        ("/boards/gone", 410, "410 Gone"),
        ("/boards/soft", 404, "count=3"),
        ("/boards/bad", 200, "count=3"),
    ],
)
def test_mount_answers_a_status(serve: Any, path: str, status: int, text: str) -> None:
    _, client = serve(Boards, "/boards/{name}")
    page = client.get(path)
    assert (page.status, text in page.text) == (status, True), page.text


def test_not_found_shows_its_message_in_dev_mode(serve: Any) -> None:
    _, client = serve(Boards, "/boards/{name}", dev=True)
    page = client.get("/boards/missing")
    assert page.status == 404
    assert "no board 'missing'" in page.text


def test_mount_redirects_the_get(serve: Any) -> None:
    _, client = serve(Boards, "/boards/{name}")
    page = client.get("/boards/moved")
    assert (page.status, page.headers["Location"]) == (303, "/boards/soft")
    page = client.get("/boards/perm")
    assert (page.status, page.headers["Location"]) == (301, "/boards/new")


def test_status_is_refused_outside_mount(serve: Any) -> None:
    seen: list[str] = []

    class Page(ProbePage):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            with pytest.raises(mizulive.MizuliveError, match="only be set in mount"):
                s.set_status(404)
            seen.append(e.name)

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event("x").ok
    assert seen == ["x"]
