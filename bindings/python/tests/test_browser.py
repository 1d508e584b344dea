"""The browser session from Python: ``s.browser`` in callbacks, ``req.browser`` in the
auth hook, carried from one page load to the next in the same browser only."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from conftest import ProbePage, Signal

import mizulive
from mizulive.testing import Client


def test_a_value_set_in_an_event_reaches_the_next_mount_in_the_same_browser(
    serve: Callable[..., tuple[mizulive.App, Client]],
) -> None:
    seen = Signal()
    ids: list[str] = []

    class Voting(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            seen.put(dict(s.browser))
            ids.append(s.browser_id)
            s.state = {"count": 0}

        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if e.name == "inc":
                s.browser["voted"] = True
                s.browser["choice"] = {"id": 3, "label": "été"}
                assert s.browser["voted"] is True
                del s.browser["choice"]
                with pytest.raises(KeyError):
                    del s.browser["choice"]
                s.browser["choice"] = {"id": 3, "label": "été"}
            if e.name == "fail":
                s.browser["voted"] = "never stored"
                raise mizulive.CallbackError("refused")

    app, client = serve(Voting)
    with client.live("/probe") as live:
        assert live.event("inc").ok
        assert not live.event("fail").ok
    assert seen.wait() == {}
    client.get("/probe")
    values = seen.wait_for(lambda v: len(v) == 2)
    assert values[1] == {"voted": True, "choice": {"id": 3, "label": "été"}}
    # Another browser (a fresh cookie jar) has its own, empty map.
    Client(app.url).get("/probe")
    assert seen.wait_for(lambda v: len(v) == 3)[2] == {}
    # One browser, one stable id; another browser, another.
    assert ids[0] == ids[1] != ids[2] and len(ids[0]) == 22


def test_the_auth_hook_records_a_login_that_mount_sees(
    make_app: Callable[..., mizulive.App],
) -> None:
    seen = Signal()

    class Account(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            seen.put(dict(s.browser))

    app = make_app(start=False)

    @app.auth
    def login(req: mizulive.Request) -> Any:
        if "user" in req.args:
            req.browser["user"] = req.args["user"][0]
        return req.browser.get("user")

    app.page("/probe", Account)
    app.start("127.0.0.1:0")
    client = Client(app.url)
    client.get("/probe?user=ada")
    client.get("/probe")
    assert seen.wait_for(lambda v: len(v) == 2) == [{"user": "ada"}, {"user": "ada"}]


def test_a_map_over_the_size_limit_raises_and_changes_nothing(
    serve: Callable[..., tuple[mizulive.App, Client]],
) -> None:
    errors = Signal()

    class Big(ProbePage):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            with pytest.raises(mizulive.MizuliveError, match="max_browser_session_bytes") as err:
                s.browser["blob"] = "x" * 200
            errors.put(err.value.code)
            assert "blob" not in s.browser
            s.browser["small"] = 1

    _, client = serve(Big, max_browser_session_bytes=64)
    with client.live("/probe") as live:
        assert live.event("inc").ok
    assert errors.wait() == mizulive.ErrorCode.STATE


def test_a_browser_session_kept_past_its_callback_is_refused(
    serve: Callable[..., tuple[mizulive.App, Client]],
) -> None:
    kept: list[mizulive.BrowserSession] = []

    class Keeper(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            kept.append(s.browser)

    _, client = serve(Keeper)
    client.get("/probe")
    with pytest.raises(mizulive.MizuliveError, match="after its callback"):
        kept[0]["late"] = 1
