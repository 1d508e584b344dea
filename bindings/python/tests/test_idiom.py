"""The idiomatic page styles: ``@on``/``@on_info`` routing, a dataclass as the state
type, and the library's logs through :mod:`logging`; over real sockets."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import logging
from typing import Any, Dict, List, Optional, Union

import pytest
from conftest import ProbePage, Signal

import mizulive

# -- @on and @on_info


class Routed(ProbePage):
    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "text": "", "extra": ""}
        s.subscribe("news")
        s.subscribe("other")

    @mizulive.on("inc", "add")
    def inc(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["count"] += e.int("by", 1)
        s.mark("main")

    @mizulive.on("save")
    def save(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["text"] = e.text("text")
        s.mark("main")

    @mizulive.on_info("news")
    def news(self, s: mizulive.Session, msg: Any) -> None:
        s.state["extra"] = f"news:{msg}"
        s.mark("extra")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        s.state["extra"] = f"info:{s.topic}:{msg}"
        s.mark("extra")


def test_on_routes_events_and_an_unknown_one_is_refused_by_name(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    _, client = serve(Routed, dev=True)
    with client.live("/probe") as live:
        assert "count=3" in live.event("inc", values={"by": 3}).regions["main"]
        assert "count=5" in live.event("add", values={"by": 2}).regions["main"]
        reply = live.event("save", type="submit", form={"text": " hi "})
        assert "text=hi" in reply.regions["main"]
        with caplog.at_level(logging.WARNING, logger="mizulive"):
            refused = live.event("reset")
        assert not refused.ok and refused.error is not None
        # Dev mode shows the message: the unknown event and the ones that exist.
        assert "Routed has no handler for the event 'reset'; it handles 'add', 'inc', 'save'" in str(refused.error)
        assert any("'reset'" in r.getMessage() for r in caplog.records if r.name == "mizulive")
        assert "count=6" in live.event("inc").regions["main"]


def test_on_info_routes_a_topic_and_the_rest_goes_to_info(serve: Any) -> None:
    app, client = serve(Routed)
    with client.live("/probe") as live:
        app.publish("news", "rain")
        assert "extra=news:rain" in live.next("patch")["regions"]["extra"]
        app.publish("other", 7)
        assert "extra=info:other:7" in live.next("patch")["regions"]["extra"]


def test_handle_takes_what_no_on_method_claims(serve: Any) -> None:
    seen = Signal()

    class Both(ProbePage):
        def mount(self, s: mizulive.Session) -> None:
            s.state = {"count": 0}

        @mizulive.on("inc")
        def inc(self, s: mizulive.Session, e: mizulive.Event) -> None:
            seen.put(("inc", e.name))

        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            seen.put(("handle", e.name))

    _, client = serve(Both)
    with client.live("/probe") as live:
        assert live.event("inc").ok and live.event("other").ok
    assert seen.wait_for(lambda v: len(v) == 2) == [("inc", "inc"), ("handle", "other")]


def test_two_handlers_for_one_event_are_refused_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match=r"Twice: a\(\) and b\(\) both handle the event 'inc'"):

        class Twice(ProbePage):
            @mizulive.on("inc")
            def a(self, s: mizulive.Session, e: mizulive.Event) -> None: ...

            @mizulive.on("dec", "inc")
            def b(self, s: mizulive.Session, e: mizulive.Event) -> None: ...

    with pytest.raises(TypeError, match=r"both handle the topic 'news'"):

        class TwiceInfo(ProbePage):
            @mizulive.on_info("news")
            def a(self, s: mizulive.Session, msg: Any) -> None: ...

            @mizulive.on_info("news")
            def b(self, s: mizulive.Session, msg: Any) -> None: ...

    with pytest.raises(TypeError, match=r"takes one or more non-empty names"):
        mizulive.on()

    # A subclass takes a name over from its base.
    class Base(ProbePage):
        @mizulive.on("inc")
        def a(self, s: mizulive.Session, e: mizulive.Event) -> None: ...

    class Sub(Base):
        @mizulive.on("inc")
        def b(self, s: mizulive.Session, e: mizulive.Event) -> None: ...

    assert Sub._event_routes == {"inc": "b"} and Base._event_routes == {"inc": "a"}


# -- a dataclass as the state type


class Mood(enum.Enum):
    CALM = "calm"
    BUSY = "busy"


@dataclasses.dataclass
class Item:
    title: str
    done: bool = False


@dataclasses.dataclass
class Board:
    count: int = 0
    text: str = ""
    extra: str = ""
    items: List[Item] = dataclasses.field(default_factory=list)
    mood: Mood = Mood.CALM
    owner: Optional[str] = None
    tally: Dict[str, int] = dataclasses.field(default_factory=dict)


class BoardPage(ProbePage, mizulive.Page[Board]):
    @mizulive.on("inc")
    def inc(self, s: mizulive.Session[Board], e: mizulive.Event) -> None:
        st = s.state
        assert isinstance(st, Board)
        st.count += e.int("by", 1)
        st.items.append(Item(f"item {st.count}"))
        st.items[0].done = True
        st.mood = Mood.BUSY
        st.tally[e.name] = st.tally.get(e.name, 0) + 1
        st.extra = f"{len(st.items)} items, first done={st.items[0].done}, mood={st.mood.value}, tally={st.tally}"
        s.mark("main", "extra")

    @mizulive.on("bad-type")
    def bad_type(self, s: mizulive.Session[Board], e: mizulive.Event) -> None:
        s.state.items.append(Item("x", done="yes"))  # type: ignore[arg-type]

    @mizulive.on("not-a-board")
    def not_a_board(self, s: mizulive.Session[Board], e: mizulive.Event) -> None:
        s.state = {"count": 1}  # type: ignore[assignment]


def test_a_dataclass_state_round_trips_through_each_callback(serve: Any) -> None:
    _, client = serve(BoardPage, dev=True)
    page = client.get("/probe")
    # No mount: the first render sees the dataclass's defaults.
    assert "count=0 text=" in page.text and "extra=" in page.text
    with client.live("/probe") as live:
        live.event("inc", values={"by": 2})
        reply = live.event("inc")
        assert "count=3" in reply.regions["main"]
        assert "extra=2 items, first done=True, mood=busy, tally={&#x27;inc&#x27;: 2}" in reply.regions["extra"]

        bad = live.event("bad-type")
        assert not bad.ok and "state.items[2].done: expected bool, got str &#x27;yes&#x27;" in str(bad.error).replace(
            "'", "&#x27;"
        )
        wrong = live.event("not-a-board")
        assert not wrong.ok and "s.state must be a Board, not dict" in str(wrong.error)
        # Both failures kept the state as it was.
        assert "count=4" in live.event("inc").regions["main"]


@dataclasses.dataclass
class Strict:
    title: str
    count: int = 0
    extra: str = ""


class StrictPage(ProbePage, mizulive.Page[Strict]):
    def mount(self, s: mizulive.Session[Strict]) -> None:
        if s.param("room") == "set":
            s.state = Strict(title="set")


def test_a_state_with_no_default_must_be_set_by_mount(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    _, client = serve(StrictPage, "/r/{room}", dev=True)
    assert client.get("/r/set").status == 200
    with caplog.at_level(logging.ERROR, logger="mizulive"):
        page = client.get("/r/unset")
    assert page.status == 500
    assert "state.title: missing (Strict.title has no default)" in page.text


def test_a_state_type_that_json_cannot_carry_is_refused_when_the_class_is_defined() -> None:
    @dataclasses.dataclass
    class When:
        at: datetime.date

    with pytest.raises(TypeError, match=r"When.at: datetime.date is not a type mizulive can keep in the state as JSON"):

        class WhenPage(ProbePage, mizulive.Page[When]):
            pass

    @dataclasses.dataclass
    class Keys:
        by_id: Dict[int, str]

    with pytest.raises(TypeError, match=r"dict's key type must be str"):

        class KeysPage(ProbePage, mizulive.Page[Keys]):
            pass

    with pytest.raises(TypeError, match=r"state type must be a dataclass"):

        class NotData(ProbePage, mizulive.Page[int]):
            pass


def test_the_state_codec_names_the_field_that_does_not_fit() -> None:
    from mizulive import _state

    codec = _state.codec(Board)
    good = {"count": 1, "items": [{"title": "a"}], "mood": "busy", "owner": None, "tally": {"x": 2}}
    board = codec.load(good, "state")
    assert board == Board(count=1, items=[Item("a")], mood=Mood.BUSY, tally={"x": 2})
    assert codec.dump(board, "state") == {
        "count": 1,
        "text": "",
        "extra": "",
        "items": [{"title": "a", "done": False}],
        "mood": "busy",
        "owner": None,
        "tally": {"x": 2},
    }
    for bad, message in [
        ({"count": "1"}, "state.count: expected int, got str '1'"),
        ({"count": True}, "state.count: expected int, got bool True"),
        ({"items": [{"title": "a", "done": 1}]}, "state.items[0].done: expected bool, got int 1"),
        ({"items": [{}]}, "state.items[0].title: missing (Item.title has no default)"),
        ({"mood": "angry"}, "state.mood: 'angry' is not a value of Mood ('calm', 'busy')"),
        ({"owner": 3}, "state.owner: expected str | None, got int 3"),
        ({"tally": {"x": "2"}}, "state.tally['x']: expected int, got str '2'"),
        (
            {"colums": 3},
            "state: Board has no field 'colums' (its fields: count, extra, items, mood, owner, tally, text)",
        ),
        ([1], "state: expected an object for Board, got list [1]"),
    ]:
        with pytest.raises(TypeError) as info:
            codec.load(bad, "state")
        assert str(info.value) == message


@dataclasses.dataclass
class Sheet:
    tags: List[str] = dataclasses.field(default_factory=list)
    grid: List[List[int]] = dataclasses.field(default_factory=list)
    scores: Dict[str, float] = dataclasses.field(default_factory=dict)
    anything: List[Any] = dataclasses.field(default_factory=list)


def test_values_passed_on_whole_are_checked_too() -> None:
    # A list or dict whose items all have the exact type its converter passes on is
    # copied whole; anything else in it is converted one by one, and named.
    from mizulive import _state

    codec = _state.codec(Sheet)
    good = {"tags": ["a", "b"], "grid": [[1, 2], []], "scores": {"x": 1, "y": 2.5}, "anything": [1, "a", None]}
    sheet = codec.load(good, "state")
    assert sheet == Sheet(tags=["a", "b"], grid=[[1, 2], []], scores={"x": 1.0, "y": 2.5}, anything=[1, "a", None])
    assert type(sheet.scores["x"]) is float
    assert sheet.tags is not good["tags"] and sheet.grid[0] is not good["grid"][0], "copies, not the decoded lists"
    assert codec.dump(sheet, "state") == {**good, "scores": {"x": 1.0, "y": 2.5}}
    for bad, message in [
        ({"tags": ["a", 1]}, "state.tags[1]: expected str, got int 1"),
        ({"grid": [[1], [2, True]]}, "state.grid[1][1]: expected int, got bool True"),
        ({"scores": {"x": 1.5, "y": "2"}}, "state.scores['y']: expected float, got str '2'"),
        ({"scores": {"x": True}}, "state.scores['x']: expected float, got bool True"),
    ]:
        with pytest.raises(TypeError) as info:
            codec.load(bad, "state")
        assert str(info.value) == message
    with pytest.raises(TypeError) as info:
        codec.dump(Sheet(tags=["a", None]), "state")  # type: ignore[list-item]
    assert str(info.value) == "state.tags[1]: expected str, got NoneType None"


@dataclasses.dataclass
class Unions:
    due: Optional[str] = None
    first_float: Union[float, int] = 0.0
    first_int: Union[int, float] = 0
    tags: List[Optional[str]] = dataclasses.field(default_factory=list)


def test_a_union_converts_as_its_first_member_that_takes_the_value() -> None:
    from mizulive import _state

    codec = _state.codec(Unions)
    loaded = codec.load({"due": "today", "first_float": 3, "first_int": 3, "tags": ["a", None]}, "state")
    assert loaded == Unions(due="today", first_float=3.0, first_int=3, tags=["a", None])
    assert type(loaded.first_float) is float and type(loaded.first_int) is int
    assert type(codec.load({"first_int": 2.5}, "state").first_int) is float
    assert codec.dump(Unions(first_float=2, first_int=2.5), "state")["first_float"] == 2
    for bad, message in [
        ({"due": 5}, "state.due: expected str | None, got int 5"),
        ({"first_float": True}, "state.first_float: expected float | int, got bool True"),
        ({"tags": ["a", None, 7]}, "state.tags[2]: expected str | None, got int 7"),
    ]:
        with pytest.raises(TypeError) as info:
            codec.load(bad, "state")
        assert str(info.value) == message


# -- the library's logs


class Grumpy(ProbePage):
    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0}
        s.subscribe("grumpy")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        raise mizulive.CallbackError("no thanks")


def test_library_logs_reach_logging_with_levels_and_the_session(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="mizulive"):
        app, client = serve(Grumpy)
        with client.live("/probe"):
            app.publish("grumpy", 1)
        listening = _wait_record(caplog, lambda r: "listening on" in r.getMessage())
        failed = _wait_record(caplog, lambda r: r.name.startswith("mizulive.lib") and "no thanks" in r.getMessage())
    assert listening.name.startswith("mizulive.lib") and listening.levelno == logging.INFO
    assert failed.levelno == logging.WARNING
    assert len(getattr(failed, "session", "")) == 32 and f"session={failed.session}" in failed.getMessage()


def _wait_record(caplog: pytest.LogCaptureFixture, match: Any, timeout: float = 5.0) -> logging.LogRecord:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in caplog.records:
            if match(r):
                return r
        time.sleep(0.01)
    raise AssertionError(f"no such record; got {[(r.name, r.getMessage()) for r in caplog.records]}")
