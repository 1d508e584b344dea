"""Every callback kind over real sockets: mount, events, infos, timers, close, the
auth hook, the Session commands, and failures in each."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from conftest import ProbePage, Signal

import mizulive
from mizulive.testing import Client, ProtocolError


class Counter(ProbePage):
    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "text": "", "extra": ""}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        if e.name == "inc":
            s.state["count"] += e.int("by", 1)
            s.mark("main")
        elif e.name == "save":
            s.state["text"] = e.text("text")
            s.mark("main")


def test_mount_sees_route_params_and_sets_the_first_render(serve: Any) -> None:
    seen = Signal()

    class Room(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            seen.put((s.params, s.param("room"), s.param("nope", "-"), len(s.id)))
            s.state = {"count": 7}

    _, client = serve(Room, "/rooms/{room}")
    page = client.get("/rooms/lobby")
    assert page.status == 200
    assert "count=7" in page.text and "room=lobby" in page.text
    assert seen.wait() == ({"room": "lobby"}, "lobby", "-", 32)


def test_a_failing_mount_answers_500_and_logs_the_traceback(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            raise ZeroDivisionError("mount went wrong")

    _, client = serve(Broken, dev=True)
    with caplog.at_level(logging.ERROR, logger="mizulive"):
        page = client.get("/probe")
    assert page.status == 500
    assert "mount went wrong" in page.text  # dev mode shows the detail
    [record] = [r for r in caplog.records if r.name == "mizulive"]
    assert "Broken.mount raised" in record.getMessage()
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError


def test_event_fields_reach_handle(serve: Any) -> None:
    seen = Signal()

    class Page(ProbePage):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            seen.put(e)

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event(
            "pick",
            type="change",
            values={"id": "42", "ratio": "0.5", "flag": "on", "bad": "x"},
            form={"tags": ["a", "b"], "name": "  ann  "},
            target="cart",
            key="Enter",
            field="tags",
        ).ok
    e = seen.wait()
    assert isinstance(e, mizulive.Event)
    assert (e.type, e.name, e.target, e.key, e.field) == ("change", "pick", "cart", "Enter", "tags")
    assert e.values == {"id": "42", "ratio": "0.5", "flag": "on", "bad": "x"}
    assert e.form == {"tags": ["a", "b"], "name": ["  ann  "]}
    assert e.int("id") == 42 and e.int("bad", -1) == -1 and e.int("missing", 3) == 3
    assert e.float("ratio") == 0.5 and e.float("bad", 1.5) == 1.5
    assert e.bool("flag") is True and e.bool("missing") is False and e.bool("bad", True) is True
    assert e.get("tags") == "a" and e.getlist("tags") == ["a", "b"] and e.getlist("id") == ["42"]
    assert e.text("name") == "ann" and e.get("missing") is None
    assert e.meta == mizulive.KeyMeta()


def test_state_is_written_back_only_when_the_callback_succeeds(serve: Any) -> None:
    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            s.state["count"] += 100
            s.mark("main")
            if e.name == "boom":
                raise RuntimeError("after changing the state")
            if e.name == "unserializable":
                s.state["bad"] = object()
            if e.name == "int-key":  # json would turn it into "7" without a word
                s.state["votes"] = {7: 1}
            if e.name == "int-key-top":  # in the state itself, a small dict of scalars
                s.state[8] = 1
            if e.name == "huge":  # more than the library's 64-bit integers hold
                s.state["big"] = 2**70
            if e.name == "huge-among-strings":
                s.state["big"] = ["a", 1.5, [None, 3, -(2**64)]]
            if e.name == "float-key-deep":
                s.state["deep"] = [{"ok": {3.5: 1}}]
            if e.name == "circular":  # refused with a reason, not walked for ever
                s.state["me"] = [s.state]
            if e.name == "rich":
                s.state["rich"] = RICH
            if e.name == "check" and s.state["rich"] != RICH:
                raise AssertionError(f"state came back as {s.state['rich']!r}")

    _, client = serve(Page, dev=True)  # dev mode: the reason reaches the reply
    with client.live("/probe") as live:
        assert "count=100" in live.event("inc").regions["main"]
        refusals = {
            "boom": "after changing the state",
            "unserializable": "not JSON serializable",
            "int-key": "object key 7 is not a string",
            "int-key-top": "object key 8 is not a string",
            "huge": "integer 1180591620717411303424 does not fit in 64 bits",
            "huge-among-strings": "integer -18446744073709551616 does not fit in 64 bits",
            "float-key-deep": "object key 3.5 is not a string",
            "circular": "Circular reference detected",
        }
        for name, why in refusals.items():
            reply = live.event(name)
            assert not reply.ok and reply.error["code"] == "host_error", name
            assert why in reply.error.get("message", ""), reply.error
            assert reply.patches == []
        assert "count=200" in live.event("inc").regions["main"]
        # What JSON can carry comes back from the library as it went in.
        assert live.event("rich").ok
        assert live.event("check").ok


# The edges of what state may hold: 64-bit integers at both ends, floats, text with
# escapes and non-ASCII, nesting, empty containers.
RICH = {
    "ints": [2**64 - 1, -(2**63), 0, True, False],
    "mixed": ['é\n"\u2028', 1.25, None, {"k": [[], {}]}],
    "nested": {"a": {"b": {"c": [1, "2", 3.5e300]}}},
}


def test_pipelined_events_each_get_their_own_reply_and_patches(serve: Any) -> None:
    _, client = serve(Counter)
    with client.live("/probe") as live:
        first_ref = live.send_event("inc")
        second_ref = live.send_event("inc", values={"by": 10})
        second = live.reply(second_ref)
        first = live.reply(first_ref)
        assert first.ok and second.ok
        assert "count=1 " in first.regions["main"]
        assert "count=11 " in second.regions["main"]


def test_an_exception_is_logged_with_its_traceback_and_the_server_lives(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if e.name == "boom":
                {}["missing"]
            if e.name == "refuse":
                raise mizulive.CallbackError("title is required")
            super().handle(s, e)

    _, client = serve(Page, dev=True)
    with caplog.at_level(logging.WARNING, logger="mizulive"), client.live("/probe") as live:
        reply = live.event("boom")
        assert reply.error == {"code": "host_error", "message": "KeyError: 'missing'"}
        reply = live.event("refuse")
        assert reply.error == {"code": "host_error", "message": "title is required"}
        assert live.event("inc").ok
    ours = [r for r in caplog.records if r.name == "mizulive"]
    assert [r.levelno for r in ours] == [logging.ERROR, logging.WARNING]
    assert ours[0].exc_info and ours[0].exc_info[0] is KeyError
    assert "Page.handle('boom') raised" in ours[0].getMessage()
    assert not ours[1].exc_info and "title is required" in ours[1].getMessage()
    # Another session still works, too.
    with client.live("/probe") as live:
        assert live.event("inc").ok


def test_without_dev_mode_the_error_message_stays_on_the_server(serve: Any) -> None:
    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            raise RuntimeError("secret detail")

    _, client = serve(Page)
    with client.live("/probe") as live:
        reply = live.event("x")
    assert not reply.ok and "secret detail" not in str(reply.error)


def test_publish_reaches_subscribed_sessions_through_info(serve: Any) -> None:
    topics = Signal()

    class Page(Counter):
        def mount(self, s: mizulive.Session) -> None:
            super().mount(s)
            s.subscribe("news")
            s.subscribe("other")

        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if e.name == "leave":
                s.unsubscribe("news")
            elif e.name == "shout":
                s.publish("news", {"extra": "from a callback"})

        def info(self, s: mizulive.Session, msg: Any) -> None:
            topics.put(s.topic)
            s.state["extra"] = msg["extra"]
            s.mark("extra")

    app, client = serve(Page)
    with client.live("/probe") as a, client.live("/probe") as b:
        app.publish("news", {"extra": "hello <all>"})
        for live in (a, b):
            patch = live.next("patch")
            assert patch["regions"] == {"extra": "extra=hello &lt;all&gt;"}
        assert a.event("shout").ok
        assert b.next("patch")["regions"]["extra"] == "extra=from a callback"
        assert a.next("patch")["regions"]["extra"] == "extra=from a callback"
        assert b.event("leave").ok
        app.publish("news", {"extra": "only a"})
        assert a.next("patch")["regions"]["extra"] == "extra=only a"
        app.publish("other", {"extra": "both again"})
        assert b.next("patch")["regions"]["extra"] == "extra=both again"
        with pytest.raises(ProtocolError):
            b.next("patch", timeout=0.3)  # "only a" never reached b
    assert set(topics.values) == {"news", "other"}


def test_timers_arrive_in_info_and_can_be_cancelled(serve: Any) -> None:
    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if e.name == "arm":
                s.send_after(0.05, {"extra": "tick"})
                doomed = s.send_after(0.05, {"extra": "cancelled"})
                assert s.cancel(doomed) is True
                assert s.cancel(doomed) is False
                assert s.cancel(999_999) is False

        def info(self, s: mizulive.Session, msg: Any) -> None:
            assert s.topic is None
            s.state["extra"] = msg["extra"]
            s.mark("extra")

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event("arm").ok
        assert live.next("patch")["regions"] == {"extra": "extra=tick"}
        with pytest.raises(ProtocolError):
            live.next("patch", timeout=0.3)


def test_a_failing_info_keeps_the_state(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    class Page(Counter):
        def mount(self, s: mizulive.Session) -> None:
            super().mount(s)
            s.subscribe("t")

        def info(self, s: mizulive.Session, msg: Any) -> None:
            s.state["count"] += 1
            if msg == "boom":
                raise ValueError("bad info")
            s.mark("main")

    app, client = serve(Page)
    with caplog.at_level(logging.ERROR, logger="mizulive"), client.live("/probe") as live:
        app.publish("t", "boom")
        app.publish("t", "ok")
        assert "count=1 " in live.next("patch")["regions"]["main"]
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


def test_close_runs_with_expired_and_with_shutdown(serve: Any) -> None:
    closed = Signal()

    class Page(Counter):
        def close(self, s: mizulive.Session, reason: str) -> None:
            closed.put((reason, s.state["count"]))
            s.publish("gone", {"reason": reason})  # publishing works while closing

    app, client = serve(Page, grace_ms=100)
    with client.live("/probe") as live:
        assert live.event("inc").ok
    assert closed.wait() == ("expired", 1)
    client.get("/probe")  # a session without a socket, still within its grace
    app.close()
    assert closed.values[1:] == [("shutdown", 0)]


def test_session_commands_become_frames(serve: Any) -> None:
    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if e.name == "flash":
                s.flash("Saved!")
                s.mark("main")
            elif e.name == "title":
                s.set_title("New title")
                s.mark("main")
            elif e.name == "commands":
                s.focus("#f input")
                s.scroll("#main", end=True)
                s.scroll()
            elif e.name == "redirect":
                s.redirect("/elsewhere")
            elif e.name == "navigate":
                s.navigate("/probe?x=1", replace=True)
            elif e.name == "all":
                s.state["extra"] = "both"
                s.mark_all()
            elif e.name == "unknown-region":
                s.mark("nope")
            else:
                super().handle(s, e)

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert "flash=Saved!" in live.event("flash").regions["main"]
        assert "flash= " in live.event("inc").regions["main"]  # shown once, then cleared
        reply = live.event("title")
        assert reply.patches[0]["title"] == "New title"
        assert live.event("commands").frame("command")["cmds"] == [
            {"op": "focus", "selector": "#f input"},
            {"op": "scroll", "selector": "#main", "block": "end"},
            {"op": "scroll", "selector": None, "block": "start"},
        ]
        assert live.event("redirect").frame("redirect")["to"] == "/elsewhere"
        navigate = live.event("navigate").frame("navigate")
        assert navigate["to"] == "/probe?x=1" and navigate["replace"] is True
        assert set(live.event("all").regions) == {"extra"}
        reply = live.event("unknown-region")
        assert not reply.ok  # MizuliveError(NOT_FOUND) from mark()


def test_a_session_cannot_be_used_after_its_callback(serve: Any) -> None:
    kept = Signal()

    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if e.name == "keep":
                kept.put(s)
            else:
                try:
                    kept.values[0].mark("main")  # type: ignore[attr-defined]
                except mizulive.MizuliveError as err:
                    kept.put(err.code)

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event("keep").ok
        assert live.event("use").ok
    assert kept.values[1] == mizulive.ErrorCode.STATE
    with pytest.raises(mizulive.MizuliveError, match="after its callback"):
        kept.values[0].state  # type: ignore[attr-defined]  # noqa: B018


def test_no_js_post_runs_handle_against_the_same_session(serve: Any) -> None:
    _, client = serve(Counter)
    page = client.get("/probe")
    form = page.form(id="f")
    done = client.submit(form, {"text": "  typed without JS  "})
    assert done.status == 303 and done.location == "/probe"
    after = client.get("/probe")
    assert "text=typed without JS" in after.text
    clicks = after.form(id="clicks")
    assert client.submit(clicks, button=clicks.buttons[0]).status == 303
    assert "count=1" in client.get("/probe").text


def test_the_auth_hook_sets_the_user_redirects_and_refuses(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    seen = Signal()

    class Page(Counter):
        def mount(self, s: mizulive.Session) -> None:
            super().mount(s)
            seen.put(s.user_id)

    app, client = serve(Page)

    @app.auth
    def auth(req: mizulive.Request) -> mizulive.AuthResult:
        if req.path != "/probe":
            return False
        who = req.cookies.get("who")
        if who == "boom":
            raise RuntimeError("auth broke")
        if who == "weird":
            return 42  # type: ignore[return-value]
        if req.args.get("login"):
            return mizulive.Redirect("/login")
        return who or None

    assert "user=ann" in client.get("/probe", {"Cookie": "who=ann"}).text
    assert seen.values == ["ann"]
    assert "user=</div>" in client.get("/probe").text
    denied = client.get("/probe?login=1")
    assert denied.status == 303 and denied.location == "/login"
    with caplog.at_level(logging.ERROR, logger="mizulive"):
        assert client.get("/probe", {"Cookie": "who=boom"}).status == 403
        assert client.get("/probe", {"Cookie": "who=weird"}).status == 403
    assert sum(1 for r in caplog.records if r.exc_info) == 2
    app.auth(None)
    assert client.get("/probe", {"Cookie": "who=boom"}).status == 200


def test_page_instances_and_the_decorator_form(make_app: Any) -> None:
    app = make_app(start=False)

    @app.page("/a")
    class A(Counter):
        pass

    b = app.page("/b", Counter())
    assert isinstance(app.pages["/a"], A) and app.pages["/b"] is b
    app.start("127.0.0.1:0")
    client = Client(app.url)
    assert client.get("/a").status == 200 and client.get("/b").status == 200
    with pytest.raises(TypeError):
        app.page("/c", object)  # type: ignore[arg-type]


def test_state_that_is_not_a_dict_fails_the_callback_by_name(
    serve: Any,
) -> None:
    class Listy(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            s.state = {"count": 1}

        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if e.name == "bad":
                s.state = s.state.update(count=2)  # type: ignore[func-returns-value]
            else:
                s.state["count"] += 10
                s.mark("main")

    _, client = serve(Listy, dev=True)
    with client.live("/probe") as live:
        reply = live.event("bad")
        assert not reply.ok
        assert "the state must be a JSON object" in str(reply.error)
        # The session kept the state it had.
        assert "count=11" in live.event("good").regions["main"]


def test_a_cookie_header_adds_to_the_clients_cookies(serve: Any) -> None:
    """A test that sends its login cookie keeps the browser cookie the page set: the
    no-JS post reaches the session instead of being refused as another browser's."""
    app, client = serve(Counter)

    @app.auth
    def auth(req: mizulive.Request) -> mizulive.AuthResult:
        return req.cookies.get("who") or None

    login = {"Cookie": "who=ann"}
    page = client.get("/probe", login)
    assert "lv_bid" in client.cookies and "user=ann" in page.text
    posted = client.submit(page.form("clicks"), button=("_lv_click", "inc?by=2"))
    assert posted.status == 403, "without the login cookie the post is another user's"
    posted = client.post(page.form("clicks").action, page.form("clicks").data(button=("_lv_click", "inc?by=2")), login)
    assert posted.status == 303, posted.text
    assert "count=2" in client.get(posted.location or "/probe", login).text
