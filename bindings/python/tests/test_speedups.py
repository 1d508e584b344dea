"""The compiled per-event path (``mizulive._speedups``): that it is in use where it can
be built, that its JSON is json's, that it leaves whatever it does not handle to the
checked Python path, and what the callbacks do around a binding in either mode.

The rest of the suite runs in both modes: ``make test-python`` runs it once with the
module and once with ``MIZULIVE_PURE_PYTHON=1``.
"""

from __future__ import annotations

import enum
import gc
import json
import logging
import math
import os
import random
import threading
import weakref
from typing import Any, Callable

import pytest
from conftest import SPEEDUPS_EXPECTED, ProbePage, Signal

import mizulive
from mizulive import _callbacks, _lib, page

speedups = _lib.speedups
needs_speedups = pytest.mark.skipif(speedups is None, reason="mizulive._speedups is not in use")


def reference(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def test_the_compiled_path_is_in_use_unless_turned_off() -> None:
    if os.environ.get("MIZULIVE_PURE_PYTHON", "0") != "0":
        assert speedups is None
        assert _lib.load_state is _lib.read_state and _lib.set_state is _lib.lib.lv_set_state
    elif SPEEDUPS_EXPECTED:
        assert speedups is not None, "this machine builds mizulive._speedups, but the package has none"
    if speedups is not None:
        assert (_lib.load_state, _lib.store_state, _lib.set_state, _lib.mark_region) == (
            speedups.load_state,
            speedups.store_state,
            speedups.set_state,
            speedups.mark,
        )
    # Session's and PageBinding's per-event parts: compiled, or their Python classes.
    cores = (speedups.SessionCore, speedups.BindingCore) if speedups else (page._SessionCore, _callbacks._PyBindingCore)
    assert mizulive.Session.__mro__[1] is cores[0] and _callbacks.PageBinding.__mro__[1] is cores[1]


STRINGS = [
    "",
    "plain",
    'quote " and backslash \\ and slash /',
    "".join(map(chr, range(0x20))),  # every control character
    "\x7f del, é, ü, 漢字, emoji 🎉, line separator \u2028",
    "\ud7ff\ue000\uffff\U00010000\U0010ffff",
]
FLOATS = [0.0, -0.0, 0.1, 1.5, -2.25, 1e16, 1e-7, 123456789.123, 5e-324, 1.7976931348623157e308, 2.0**63]
INTS = [0, 1, -1, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)]


def random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice(STRINGS) + chr(rng.randrange(0x20, 0x2FF))
    if kind == 1:
        return rng.choice(FLOATS) * rng.choice([1, -1])
    if kind == 2:
        n = rng.choice(INTS)  # at or near the ends of 64 bits, inside them
        return n - rng.randrange(3) if n > 0 else n + rng.randrange(3)
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.random() * 10 ** rng.randrange(-30, 30)
    if kind == 5:
        return rng.randrange(-(2**63), 2**63)
    if kind == 6:
        return {rng.choice(STRINGS) + str(i): random_value(rng, depth + 1) for i in range(rng.randrange(6))}
    if kind == 7:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(6))]
    return tuple(random_value(rng, depth + 1) for _ in range(rng.randrange(4)))


@needs_speedups
def test_dumps_writes_what_json_writes() -> None:
    assert speedups is not None
    rng = random.Random(7)
    values: list[object] = [*STRINGS, *FLOATS, *INTS, True, False, None, {}, [], (), {"": {"": [[]]}}]
    values += [random_value(rng) for _ in range(2000)]
    for value in values:
        assert speedups.dumps(value) == reference(value), value
    # A state bigger than the first buffer, and one nested as deep as it goes.
    big = {"items": [{"id": i, "title": f"item {i} é", "done": i % 3 == 0} for i in range(500)]}
    assert speedups.dumps(big) == reference(big)
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    assert speedups.dumps(deep) == reference(deep)


@needs_speedups
def test_loads_reads_what_json_reads() -> None:
    assert speedups is not None
    rng = random.Random(5)
    values: list[object] = [*STRINGS, *FLOATS, *INTS, 2**64, -(2**70), True, False, None, {}, [], {"": {"": [[]]}}]
    values += [random_value(rng) for _ in range(1500)]
    big = {"items": [{"id": i, "title": f"item {i} é", "done": i % 3 == 0} for i in range(500)]}
    for value in [*values, big, nested(100)]:
        # Compact UTF-8 as the library writes it, and ASCII with escapes and spaces.
        for text in (reference(value), json.dumps(value, indent=1, ensure_ascii=True).encode()):
            read = speedups.loads(text)
            assert read == json.loads(text) and repr(read) == repr(json.loads(text)), text
    # Numbers in every form JSON has.
    for number in [
        b"0",
        b"-0",
        b"-0.0",
        b"1E3",
        b"1e-3",
        b"2.5E+2",
        b"1e400",
        b"123456789012345678",
        b"-1234567890123456789",
    ]:
        assert repr(speedups.loads(number)) == repr(json.loads(number)), number
    # Keys repeated across records are one object, as json's decoder makes them.
    records = speedups.loads(b'[{"id":1},{"id":2}]')
    assert next(iter(records[0])) is next(iter(records[1]))


@needs_speedups
@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"nul",
        b"[1,]",
        b'{"a" 1}',
        b"01",
        b"1.",
        b"-",
        b'"\\x"',
        b'"a\nb"',
        b"[1] 2",
        b"NaN",
        b'"\\ud800"',
        b"[" * 102 + b"]" * 102,  # deeper than the reader goes: json reads it
    ],
)
def test_loads_leaves_what_it_cannot_read_to_json(text: bytes) -> None:
    assert speedups is not None
    with pytest.raises(ValueError):
        speedups.loads(text)
    # from_json then answers as json does: a value (NaN, a lone surrogate) or its error.
    try:
        expected: object = ("ok", repr(json.loads(text)))
    except ValueError as e:
        expected = ("error", type(e))
    try:
        got: object = ("ok", repr(_lib.from_json(text)))
    except ValueError as e:
        got = ("error", type(e))
    assert got == expected


class Color(enum.IntEnum):
    RED = 1


class Text(str):
    pass


class Record(dict):  # type: ignore[type-arg]
    pass


def circular() -> list[object]:
    loop: list[object] = []
    loop.append(loop)
    return loop


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


# What the compiled encoder leaves to the checked path: it writes some (an integer of
# 64 unsigned bits, an IntEnum, subclasses) and refuses the rest, naming what is wrong.
DECLINED: list[Callable[[], object]] = [
    lambda: 2**63,
    lambda: 2**64,
    lambda: -(2**63) - 1,
    lambda: {"n": 2**70},
    lambda: math.nan,
    lambda: [math.inf],
    lambda: {1: "a"},
    lambda: {None: "a"},
    lambda: {"a": {True: 1}},
    lambda: Color.RED,
    lambda: {"c": Color.RED},
    lambda: Text("sub"),
    lambda: Record(a=1),
    lambda: "lone \ud800 surrogate",
    lambda: {"b": b"bytes"},
    lambda: {1, 2},
    lambda: nested(101),
    circular,
]


@needs_speedups
@pytest.mark.parametrize("make", DECLINED)
def test_what_dumps_declines_the_checked_path_answers_as_before(make: Callable[[], object], monkeypatch: Any) -> None:
    assert speedups is not None
    value = make()
    assert speedups.dumps(value) is None

    def through(dumps: Any) -> tuple[str, object]:
        monkeypatch.setattr(_lib, "_dumps", dumps)
        try:
            return "ok", _lib.to_json(value, "state")
        except Exception as e:
            return type(e).__name__, str(e)

    assert through(speedups.dumps) == through(None)


@needs_speedups
def test_the_library_calls_check_their_arguments() -> None:
    assert speedups is not None
    with pytest.raises(TypeError, match="takes bytes, not str"):
        speedups.mark(1, "main")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="without NUL"):
        speedups.set_state(1, b'{"a":1}\0')
    with pytest.raises(TypeError, match=r"takes 2 arguments \(1 given\)"):
        speedups.set_state(1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="NULL address"):
        speedups.setup(0, 1, 2, 3, 4, 5)

    # An event class whose fields are not slots of its own is refused, and the one in
    # use stays.
    class Partial:
        __slots__ = ("name", "target", "type")

    for wrong in (dict, mizulive.KeyMeta, Partial):
        with pytest.raises(TypeError, match="has no slot"):
            speedups.set_event_types(wrong, mizulive.KeyMeta)
    raw = event_json("click", "inc", None, {"n": "1"}, {}, None, None, (False, True, False, False))
    expected = mizulive.Event("click", "inc", values={"n": "1"}, meta={"ctrl": True})
    assert repr(speedups.read_event(raw)) == repr(expected)


def event_json(
    kind: str,
    name: str,
    target: str | None,
    values: dict[str, Any],
    form: dict[str, Any],
    field: str | None,
    key: str | None,
    meta: tuple[bool, bool, bool, bool],
) -> bytes:
    """An event as the library writes it (src/protocol: Event::write_json)."""

    def j(v: object) -> str:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    flags = ",".join(f'"{n}":{j(on)}' for n, on in zip(("shift", "ctrl", "alt", "meta"), meta))
    return (
        f'{{"type":{j(kind)},"name":{j(name)},"target":{j(target)},"values":{j(values)},"form":{j(form)},'
        f'"field":{j(field)},"key":{j(key)},"meta":{{{flags}}}}}'
    ).encode()


PLAIN = ["", "inc", "row-7", "é漢🎉", "a b/c", "x" * 40]
ESCAPED = ['say "hi"', "back\\slash", "line\nbreak", "\x01"]


@needs_speedups
def test_read_event_reads_what_the_python_reader_reads(monkeypatch: Any) -> None:
    assert speedups is not None
    from mizulive import page

    rng = random.Random(11)

    def text(escapes: bool) -> str:
        return rng.choice(PLAIN + ESCAPED if escapes else PLAIN)

    def maybe(escapes: bool) -> str | None:
        return None if rng.random() < 0.4 else text(escapes)

    read = 0
    for _ in range(1500):
        odd = rng.random() < 0.3  # escapes, numbers, nesting: the Python reader's
        values: dict[str, Any] = {text(odd) + str(i): text(odd) for i in range(rng.randrange(4))}
        form: dict[str, Any] = {text(odd) + str(i): [text(odd) for _ in range(rng.randrange(3))] for i in range(3)}
        if odd and rng.random() < 0.5:
            values["n"] = rng.choice([7, 1.5, None, True, {"deep": "x"}])
            form["bare"] = rng.choice(["one", 2, ["a", 3]])
        meta = (rng.random() < 0.2, rng.random() < 0.2, rng.random() < 0.2, rng.random() < 0.2)
        raw = event_json(text(odd), text(odd), maybe(odd), values, form, maybe(odd), maybe(odd), meta)
        fast = speedups.read_event(raw)
        with monkeypatch.context() as m:
            m.setattr(page, "read_event", None)
            slow = mizulive.Event.from_raw(raw)
        if fast is None:
            assert b"\\" in raw or odd, raw  # only what needs the Python reader is left to it
            continue
        read += 1
        assert type(fast) is mizulive.Event
        assert repr(fast) == repr(slow), raw
        assert fast.meta == slow.meta and (fast._meta is None) == (slow._meta is None)
    assert read > 900, read
    # An event with nothing but its type and name (most clicks) is read with one
    # comparison after the name; it reads as the Python reader reads it.
    nothing = (None, {}, {}, None, None, (False,) * 4)
    for name in [*PLAIN, *ESCAPED]:
        raw = event_json("click", name, *nothing)
        fast = speedups.read_event(raw)
        with monkeypatch.context() as m:
            m.setattr(page, "read_event", None)
            slow = mizulive.Event.from_raw(raw)
        assert (fast is None) == (name in ESCAPED), raw
        assert fast is None or repr(fast) == repr(slow), raw
    assert repr(speedups.read_event(event_json("click", "inc", *nothing))) == repr(mizulive.Event("click", "inc"))
    for raw in [event_json("click", "inc", *nothing) + b" ", event_json("click", "inc", *nothing)[:-2] + b"}"]:
        assert speedups.read_event(raw) is None
    # Not the library's shape: left to the Python reader, which reads JSON in any order.
    cut = event_json("click", "x", None, {}, {}, None, None, (False,) * 4)[:-1]
    for raw in [b"{}", b'{"name":"inc","type":"click"}', cut]:
        assert speedups.read_event(raw) is None


class Counter(ProbePage):
    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0}

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["count"] += 1
        s.mark("main")


class Escapes:
    """A binding whose event call raises past the dispatch code itself."""

    def __init__(self, binding: Any) -> None:
        self.binding = binding

    def mount(self, ctx: int, params: bytes | None) -> int:
        return int(self.binding.mount(ctx, params))

    def event(self, ctx: int, raw: bytes | None) -> int:
        raise RuntimeError("escaped the binding")


def test_an_exception_that_escapes_a_binding_is_logged_and_fails_only_that_event(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, client = serve(Counter)
    [key] = [k for k, b in _callbacks._objects.items() if getattr(b, "route", None) == "/probe"]
    binding = _callbacks._objects[key]
    with client.live("/probe") as live:
        _callbacks._objects[key] = Escapes(binding)
        try:
            with caplog.at_level(logging.ERROR, logger="mizulive"):
                failed = live.event("inc")
        finally:
            _callbacks._objects[key] = binding
        assert not failed.ok
        [record] = [r for r in caplog.records if "unexpected error in on_event" in r.getMessage()]
        assert record.exc_info and record.exc_info[0] is RuntimeError
        # The session is whole: the next event counts from where it was.
        assert "count=1 " in live.event("inc").frames[0]["regions"]["main"]


def test_in_callback_is_true_only_inside_a_callback(serve: Any) -> None:
    seen: list[bool] = []

    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            seen.append(_callbacks.in_callback())
            super().handle(s, e)

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event("inc").ok
    assert seen == [True]
    assert not _callbacks.in_callback()


def test_a_host_threads_python_state_ends_with_the_thread(make_app: Any) -> None:
    # A thread state kept between callbacks is released when the library's host thread
    # ends: what the thread's threading.local held is then freed.
    local = threading.local()
    held: list[weakref.ref[object]] = []

    class Marker:
        pass

    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            if not hasattr(local, "marker"):
                local.marker = Marker()
                held.append(weakref.ref(local.marker))
            super().handle(s, e)

    app = make_app(start=False)
    app.page("/probe", Page)
    app.start("127.0.0.1:0")
    from mizulive.testing import Client

    with Client(app.url).live("/probe") as live:
        for _ in range(3):
            assert live.event("inc").ok
    assert held and all(ref() is not None for ref in held)
    app.close()
    gc.collect()
    assert [ref() for ref in held] == [None] * len(held)


class Declined(Counter):
    """Shows the text of each event and message: the ones below are in shapes the
    compiled readers leave to the Python path."""

    def mount(self, s: mizulive.Session) -> None:
        super().mount(s)
        s.subscribe("deep")

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["text"] = e.get("q")
        s.mark("main")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        depth = 0
        while isinstance(msg, list):
            msg, depth = msg[0], depth + 1
        s.state["text"] = f"{msg} at {depth}"
        s.mark("main")


def test_an_event_or_message_the_compiled_readers_decline_reaches_the_page(serve: Any) -> None:
    app, client = serve(Declined)
    with client.live("/probe") as live:
        # A value with an escape: the event reader takes only strings without any.
        reply = live.event("q", values={"q": "back\\slash"})
        assert reply.ok and "text=back\\slash " in reply.regions["main"]
        # Nesting deeper than the compiled decoder reads: json reads it.
        app.publish("deep", nested(102))
        assert "text=1 at 102 " in live.next("patch")["regions"]["main"]
        # And the usual shapes, right after, on the compiled path when it is there.
        assert "text=plain " in live.event("q", values={"q": "plain"}).regions["main"]
        app.publish("deep", nested(3))
        assert "text=1 at 3 " in live.next("patch")["regions"]["main"]


class Marks(Counter):
    """Marks regions the ways a page can get them wrong."""

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["count"] += 1
        s.state["extra"] = s.state["count"]  # both regions change; the marks say which render
        if e.name == "one":
            s.mark("main")
        elif e.name == "unknown":
            s.mark("main", "nope", "extra")
        elif e.name == "not-a-str":
            s.mark("main", 5)  # type: ignore[arg-type]
        elif e.name == "none":
            s.mark()
        else:
            s.mark("main", "extra")


def test_marks_are_checked_the_same_on_either_path(serve: Any) -> None:
    _, client = serve(Marks, dev=True)  # dev mode: the reason reaches the reply
    page._names.clear()  # the ids' bytes, made on first use: the first mark is Python's
    with client.live("/probe") as live:
        both = live.event("both")
        assert both.ok and set(both.regions) == {"main", "extra"}
        one = live.event("one")
        assert one.ok and set(one.regions) == {"main"} and "count=2 " in one.regions["main"]
        unknown = live.event("unknown")
        assert not unknown.ok and "nope" in str(unknown.error)
        wrong = live.event("not-a-str")
        assert not wrong.ok and "region must be a str, not int" in str(wrong.error)
        # The failed events changed nothing; marking nothing renders nothing.
        none = live.event("none")
        assert none.ok and none.regions == {}
        assert "count=4 " in live.event("both").regions["main"]


def test_a_session_kept_in_its_own_state_is_collected(serve: Any) -> None:
    # A cycle through the compiled session's fields (state -> holder -> session) is
    # the garbage collector's to find: it must see what the session holds.
    freed = Signal()

    class Holder:
        def __init__(self, s: mizulive.Session) -> None:
            self.s = s
            weakref.finalize(self, freed.put)

    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            s._state = {"count": 1, "cycle": Holder(s)}  # never written back
            s._dirty = False

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event("inc").ok
        gc.collect()
        assert freed.wait() is None


@needs_speedups
def test_the_compiled_cores_check_their_arguments(serve: Any) -> None:
    assert speedups is not None
    app, _ = serve(Counter)
    [binding] = [b for b in _callbacks._objects.values() if getattr(b, "route", None) == "/probe"]
    for call, error in [
        (lambda: binding.event(), TypeError),
        (lambda: binding.event(0, b"{}"), ValueError),
        (lambda: binding.event(1, "{}"), TypeError),
        (lambda: binding.info(1, b"null\0"), TypeError),
        (lambda: mizulive.Session(app, "ctx"), TypeError),
        (lambda: speedups.set_session_class(dict, page._SessionCore, {}), TypeError),
        (lambda: speedups.set_session_class(mizulive.Session, object, {}), TypeError),
        (lambda: speedups.set_binding_class(object), TypeError),
    ]:
        with pytest.raises(error):
            call()
    retired = mizulive.Session(app, None)
    with pytest.raises(mizulive.MizuliveError, match="after its callback"):
        retired.state = {}
    with pytest.raises(AttributeError):
        del retired.state
    assert retired._ctx is None


class Kept(Counter):
    """A page whose state can be looked at, changed in the ways a kept state must
    survive, and held from outside."""

    seen: list[str]
    held: list[Any]

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        state = s.state
        if e.name == "look":
            type(self).seen.append(repr(state))
        elif e.name == "sorted":
            state["list"] = ["x", {"k": [None, True]}]
        elif e.name == "unsorted":
            state["z"], state["a"] = 1, 2  # keys the library sorts
        elif e.name == "tuple":
            state["zz"] = (1, 2)
        elif e.name == "hold":
            type(self).held.append(state)  # held past the callback
        elif e.name == "hold-list":
            type(self).held.append(state["list"])
        elif e.name == "fail":
            state["count"] += 100
            state["list"].append("lost")
            raise mizulive.CallbackError("no")
        state["count"] += 1
        s.mark("main")


def test_a_state_comes_back_as_the_library_keeps_it(serve: Any) -> None:
    # With the module, a state the library gives back as it is stays with its session
    # between callbacks; anything else, or a state someone else holds, is read again.
    Kept.seen, Kept.held = [], []
    _, client = serve(Kept)
    rest = "'list': ['x', {'k': [None, True]}]"
    with client.live("/probe") as live:
        for name in ["look", "sorted", "look", "unsorted", "look", "tuple", "look"]:
            assert live.event(name).ok
        # Keys in the library's order, a tuple as a list: as JSON gives them back.
        assert Kept.seen == [
            "{'count': 0}",
            f"{{'count': 2, {rest}}}",
            f"{{'a': 2, 'count': 4, {rest}, 'z': 1}}",
            f"{{'a': 2, 'count': 6, {rest}, 'z': 1, 'zz': [1, 2]}}",
        ]
        # Changed from outside after its callback: the next one reads the library's.
        assert live.event("hold").ok
        Kept.held[0]["count"] = -1
        assert live.event("look").ok
        assert Kept.seen[-1] == f"{{'a': 2, 'count': 8, {rest}, 'z': 1, 'zz': [1, 2]}}"
        assert live.event("hold-list").ok
        Kept.held[1].append("from outside")
        assert live.event("look").ok
        assert Kept.seen[-1] == f"{{'a': 2, 'count': 10, {rest}, 'z': 1, 'zz': [1, 2]}}"
        # A failed callback's changes are undone, in the library and for the next one.
        assert not live.event("fail").ok
        assert live.event("look").ok
        assert Kept.seen[-1] == f"{{'a': 2, 'count': 11, {rest}, 'z': 1, 'zz': [1, 2]}}"
        assert "count=13 " in live.event("look").regions["main"]


# Floats whose shortest text (repr's) a reading that is not exact takes one binary
# place off, and the ends of the range.
ROUND_TRIP = [2.7715077941825975e-163, 2.2790121708605243e274, -2.9205048131065683e-196, 0.1, -0.0, 5e-324, 1.7e308]


def test_a_float_in_the_state_comes_back_as_it_was_written(serve: Any) -> None:
    seen = Signal()

    class Page(Counter):
        def mount(self, s: mizulive.Session) -> None:
            s.state = {"count": 0, "x": list(ROUND_TRIP)}

        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            # What this session has, and the library's text, which every host decodes.
            seen.put((repr(s.state["x"]), repr(json.loads(_lib.lib.lv_get_state(s._ctx))["x"])))
            super().handle(s, e)

    _, client = serve(Page)
    with client.live("/probe") as live:
        for _ in range(3):
            assert live.event("inc").ok
    assert seen.values == [(repr(ROUND_TRIP), repr(ROUND_TRIP))] * 3


def test_a_session_lets_go_of_its_state_when_its_callback_returns(serve: Any) -> None:
    kept = Signal()

    class Page(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            super().handle(s, e)
            kept.put(s)

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event("inc").ok
    s = kept.wait()
    with pytest.raises(mizulive.MizuliveError, match="after its callback"):
        s.state  # type: ignore[attr-defined]  # noqa: B018


def test_kept_states_go_with_their_sessions(make_app: Any) -> None:
    marker = "kept-state-marker"

    class Page(Counter):
        def mount(self, s: mizulive.Session) -> None:
            s.state = {"count": 0, marker: [True]}  # a list: the GC then tracks the dict

    def kept() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is dict and marker in o)

    app = make_app(start=False)
    app.page("/probe", Page)
    app.start("127.0.0.1:0")
    from mizulive.testing import Client

    lives = [Client(app.url).live("/probe").__enter__() for _ in range(3)]
    for live in lives:
        assert live.event("inc").ok
    # One state kept by each session with the module; none without.
    assert kept() == (3 if speedups is not None else 0)
    app.close()
    for live in lives:
        live.__exit__(None, None, None)
    assert kept() == 0
