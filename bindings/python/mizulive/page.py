"""What a page author writes and sees: :class:`Page`, :class:`Session`, :class:`Event`."""

from __future__ import annotations

import json
import math
import re
import typing
from ctypes import c_uint64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Generic, Mapping

from . import _lib, _state
from ._browser import BrowserSession
from ._lib import check, dec, enc, lib, load_state, mark_region, set_state, store_state
from .errors import CallbackError, ErrorCode, MizuliveError

if TYPE_CHECKING:
    from typing_extensions import TypeVar

    from .app import App

    #: The state's type: a dict unless the page says ``Page[SomeDataclass]``.
    S = TypeVar("S", default=Dict[str, Any])
    F = TypeVar("F", bound=Callable[..., Any])
else:
    from typing import TypeVar

    S = TypeVar("S")
    F = TypeVar("F")

__all__ = ["Event", "KeyMeta", "Page", "Session", "on", "on_info"]


def on(*names: str) -> Callable[[F], F]:
    """Routes the browser events ``names`` to the decorated method of a page, which
    is called as ``method(s, e)`` instead of :meth:`Page.handle`::

        @mizulive.on("inc", "dec")
        def count(self, s, e): ...

    An event no method claims goes to ``handle`` when the page defines one; else the
    reply is an error naming the event and the events the page has. Two methods of
    one class claiming one name fail when the class is defined (a subclass may
    take over a name from its base)."""
    return _route("_mizulive_events", "on", names)


def on_info(*topics: str) -> Callable[[F], F]:
    """Routes messages published on ``topics`` to the decorated method of a page,
    called as ``method(s, msg)`` instead of :meth:`Page.info`. Timers and other
    topics go to ``info``."""
    return _route("_mizulive_topics", "on_info", topics)


def _route(attr: str, what: str, names: tuple[str, ...]) -> Callable[[F], F]:
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"@mizulive.{what}() takes one or more non-empty names, not {names!r}")

    def decorate(fn: F) -> F:
        setattr(fn, attr, (*getattr(fn, attr, ()), *names))
        return fn

    return decorate


def _routes(cls: type, attr: str, what: str) -> dict[str, str]:
    """Name -> method name for the methods of ``cls`` and its bases marked by
    :func:`on` (``attr``); a subclass's claim wins over its base's."""
    routes: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        own: dict[str, str] = {}
        for method, value in vars(klass).items():
            for name in getattr(value, attr, ()):
                if name in own and own[name] != method:
                    raise TypeError(
                        f"{klass.__name__}: {own[name]}() and {method}() both handle the {what} {name!r}; "
                        "one name, one handler"
                    )
                own[name] = method
        routes.update(own)
    return routes


class Page(Generic[S]):
    """A live page. Subclass it, name its templates, and override the callbacks.

    One instance serves every session of its route, possibly from several threads at
    once (one session's callbacks never overlap), so keep per-session data in
    ``s.state``, not on ``self``.

    Example::

        class Counter(mizulive.Page):
            template = "counter/index"
            regions = {"stats": "counter/stats"}

            def mount(self, s):
                s.state = {"count": 0}

            @mizulive.on("inc")
            def inc(self, s, e):
                s.state["count"] += e.int("by", 1)
                s.mark("stats")

    The state is a dict unless the page names a dataclass as its state type:
    ``class Counter(mizulive.Page[CounterState])`` makes ``s.state`` a
    ``CounterState`` (annotate ``s: mizulive.Session[CounterState]``), converted
    from and to JSON around each callback and checked field by field.
    """

    #: Page template: ``"counter/index"`` is ``views/pages/counter/index.html``.
    template: ClassVar[str]
    #: DOM id -> partial name (``views/partials/<name>.html``) of each region.
    regions: ClassVar[Mapping[str, str]] = {}
    #: Layout name (``views/layouts/<name>.html``); ``None`` uses the app's default.
    layout: ClassVar[str | None] = None

    #: Set for each subclass: the state's codec (``None``: a dict), and the event
    #: names and topics routed to methods by :func:`on` and :func:`on_info`.
    _state_codec: ClassVar[_state.Codec | None] = None
    _event_routes: ClassVar[Mapping[str, str]] = {}
    _topic_routes: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Page):
                (arg,) = typing.get_args(base)
                if isinstance(arg, TypeVar):
                    continue  # a generic base page: its subclasses name the type
                if arg is Any or arg is dict or typing.get_origin(arg) in (dict, Dict):
                    cls._state_codec = None
                else:
                    cls._state_codec = _state.codec(arg)
        cls._event_routes = _routes(cls, "_mizulive_events", "event")
        cls._topic_routes = _routes(cls, "_mizulive_topics", "topic")

    def mount(self, s: Session[S]) -> None:
        """Sets the initial state (``s.state``) of a new session; ``s.params`` holds
        the route params. Runs on the first GET of a page (and when a browser comes
        back after its session expired). The default leaves the state ``{}``, or for
        a dataclass state type an instance made from its defaults."""

    def handle(self, s: Session[S], e: Event) -> None:
        """Handles a browser event (or a no-JS form post) that no :func:`on` method
        claims. The default refuses it, naming the events the page handles."""
        names = sorted(type(self)._event_routes)
        if names:
            raise CallbackError(
                f"{type(self).__name__} has no handler for the event {e.name!r}; "
                f"it handles {', '.join(repr(n) for n in names)}"
            )
        raise CallbackError(f"{type(self).__name__} does not handle the event {e.name!r}")

    def info(self, s: Session[S], msg: Any) -> None:
        """Handles a message published on a subscribed topic (``s.topic`` names it)
        or a timer's payload (``s.topic`` is ``None``). After the session's mailbox
        overflowed, one message on topic ``"mizulive:lagged"`` says how many were
        missed (``{"missed": N}``): reload what the page shows. The default ignores it."""

    def close(self, s: Session[S], reason: str) -> None:
        """The session is ending: ``reason`` is ``"expired"`` (its browser did not come
        back in time) or ``"shutdown"`` (without ``redis``; with it a stopping node hands
        its sessions to the other nodes instead). Changes to the state are not
        rendered, but publishing (a departure, say) works."""


@dataclass(frozen=True)
class KeyMeta:
    """Modifier keys held during an event."""

    shift: bool = False
    ctrl: bool = False
    alt: bool = False
    meta: bool = False


_TRUE = frozenset({"1", "true", "on", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "off", "no", "n", "f", ""})


# The event JSON as the library writes it (src/protocol: Event::write_json): a plain
# string is one without escapes; values and form are objects with no object inside;
# a modifier key held is captured, one not held is not.
_PLAIN = rb'"([^"\\\x00-\x1f]*)"'
_PLAIN_OR_NULL = rb"(?:null|" + _PLAIN + rb")"
_FLAT_OBJECT = rb"(\{[^{}]*\})"
_EVENT_SHAPE = re.compile(
    rb'\{"type":'
    + _PLAIN
    + rb',"name":'
    + _PLAIN
    + rb',"target":'
    + _PLAIN_OR_NULL
    + rb',"values":'
    + _FLAT_OBJECT
    + rb',"form":'
    + _FLAT_OBJECT
    + rb',"field":'
    + _PLAIN_OR_NULL
    + rb',"key":'
    + _PLAIN_OR_NULL
    + rb',"meta":\{"shift":(?:false|(true)),"ctrl":(?:false|(true)),"alt":(?:false|(true)),"meta":(?:false|(true))\}\}',
    re.DOTALL,
)


def _values(values: Any) -> Mapping[str, str]:
    """An event's ``values``, each a string."""
    if not values:
        return {}
    if not all(type(v) is str for v in values.values()):
        return {str(k): _text(v) for k, v in values.items()}
    return values  # type: ignore[no-any-return]


def _form(form: Any) -> Mapping[str, list[str]]:
    """An event's ``form``, each field a list of strings."""
    if not form:
        return {}
    if not all(type(v) is list and all(type(x) is str for x in v) for v in form.values()):
        return {str(k): [_text(x) for x in v] if isinstance(v, list) else [_text(v)] for k, v in form.items()}
    return form  # type: ignore[no-any-return]


class Event:
    """A browser event as ``docs/protocol.md`` describes it.

    ``values`` holds the element's ``data-lv-value-*`` attributes, ``form`` the
    fields of the form (each a list: a multi-select sends several values). The typed
    getters look in ``values`` first, then take the first value of a form field, and
    return ``default`` when the value is missing or does not convert.
    """

    # A plain slotted class, not a dataclass: one is built for every event.
    __slots__ = ("_meta", "field", "form", "key", "name", "target", "type", "values")

    def __init__(
        self,
        type: str,
        name: str,
        target: str | None = None,
        values: Mapping[str, str] | None = None,
        form: Mapping[str, list[str]] | None = None,
        field: str | None = None,
        key: str | None = None,
        meta: KeyMeta | Mapping[str, Any] | None = None,
    ) -> None:
        #: ``click``, ``submit``, ``change``, ``keyup``, ``keydown``, ``focus`` or ``blur``.
        self.type = type
        #: The value of the ``data-lv-<type>`` attribute (or ``_lv_event`` of a no-JS post).
        self.name = name
        #: ``data-lv-target`` of the element or an ancestor.
        self.target = target
        #: The element's ``data-lv-value-*`` attributes, names as written.
        self.values: Mapping[str, str] = values if values is not None else {}
        #: The form's fields: name -> values.
        self.form: Mapping[str, list[str]] = form if form is not None else {}
        #: For ``change``: the name of the field that changed.
        self.field = field
        #: ``KeyboardEvent.key`` for ``keyup``/``keydown``.
        self.key = key
        self._meta = meta

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Event:
        """Builds an event from the library's event JSON."""
        return cls(
            raw.get("type") or "",
            raw.get("name") or "",
            raw.get("target"),
            _values(raw.get("values")),
            _form(raw.get("form")),
            raw.get("field"),
            raw.get("key"),
            raw.get("meta"),
        )

    @classmethod
    def from_raw(cls, raw: bytes) -> Event:
        """Builds an event from the library's event JSON as bytes. The library writes
        its fields in one order; an event in that shape whose strings need no
        unescaping and whose ``values`` and ``form`` nest no objects is read without
        decoding the whole document, anything else through :meth:`from_json`."""
        if read_event is not None and cls is Event:
            event: Event | None = read_event(raw)
            if event is not None:
                return event
        return cls._from_raw_python(raw)

    @classmethod
    def _from_raw_python(cls, raw: bytes) -> Event:
        """:meth:`from_raw` without the compiled reader: for an event it declined."""
        m = _EVENT_SHAPE.fullmatch(raw)
        if m is None:
            return cls.from_json(_lib.from_json(raw))
        kind, name, target, values, form, field, key, shift, ctrl, alt, meta = m.groups()
        return cls(
            kind.decode(),
            name.decode(),
            None if target is None else target.decode(),
            {} if values == b"{}" else _values(_lib.from_json(values)),
            {} if form == b"{}" else _form(_lib.from_json(form)),
            None if field is None else field.decode(),
            None if key is None else key.decode(),
            None
            if shift is ctrl is alt is meta is None
            else KeyMeta(shift is not None, ctrl is not None, alt is not None, meta is not None),
        )

    @property
    def meta(self) -> KeyMeta:
        """The modifier keys held during the event."""
        m = self._meta
        if not isinstance(m, KeyMeta):
            m = m or {}
            m = self._meta = KeyMeta(bool(m.get("shift")), bool(m.get("ctrl")), bool(m.get("alt")), bool(m.get("meta")))
        return m

    def __repr__(self) -> str:
        return (
            f"Event(type={self.type!r}, name={self.name!r}, target={self.target!r}, values={self.values!r}, "
            f"form={self.form!r}, field={self.field!r}, key={self.key!r}, meta={self.meta!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return repr(self) == repr(other)

    __hash__ = None  # type: ignore[assignment]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value ``name``: a ``data-lv-value-*`` first, else the first form value."""
        if name in self.values:
            return self.values[name]
        items = self.form.get(name)
        if items:
            return items[0]
        return default

    def getlist(self, name: str) -> list[str]:
        """Every form value of ``name`` (a multi-select, checkboxes), or ``[]``."""
        if name in self.form:
            return list(self.form[name])
        return [self.values[name]] if name in self.values else []

    def text(self, name: str, default: str = "") -> str:
        """:meth:`get` as a string with surrounding whitespace removed."""
        value = self.get(name)
        return default if value is None else value.strip()

    # The converters come last: inside the class body their names shadow the builtins.

    def int(self, name: str, default: int = 0) -> int:
        """:meth:`get` as an ``int``; ``default`` when missing or not an integer."""
        value = self.get(name)
        try:
            return int(value.strip()) if value is not None else default
        except ValueError:
            return default

    def float(self, name: str, default: float = 0.0) -> float:
        """:meth:`get` as a finite ``float``; ``default`` when missing or not a number."""
        value = self.get(name)
        try:
            number = float(value.strip()) if value is not None else default
        except ValueError:
            return default
        return number if math.isfinite(number) else default

    def bool(self, name: str, default: bool = False) -> bool:
        """:meth:`get` as a ``bool`` (``1/true/on/yes`` or ``0/false/off/no/""``);
        ``default`` when missing or anything else. A checked checkbox sends ``on``."""
        value = self.get(name)
        if value is None:
            return default
        value = value.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        return default


#: The compiled reader of the usual event shape (None without _lib.speedups): what
#: Event.from_raw reads with _EVENT_SHAPE, without the regex and its groups; None
#: for any other shape.
read_event: Callable[[bytes], Event | None] | None = None
if _lib.speedups is not None:
    _lib.speedups.set_event_types(Event, KeyMeta)
    read_event = _lib.speedups.read_event

_names: dict[str, bytes] = {}


def _name(region: str) -> bytes:
    """Region ids, encoded once (a page marks the same few on every event)."""
    encoded = _names.get(region)
    if encoded is None:
        encoded = enc(region, "region")
        if len(_names) < 1024:
            _names[region] = encoded
    return encoded


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


class _SessionCore:
    """Session's per-event part: its state, ``mark`` and the state's write-back.

    With the compiled module, ``_speedups.SessionCore`` takes this class's place under
    :class:`Session` and does the usual case of each in C (a dict state, a region id
    marked before); it hands anything else to this class's function of the same name,
    so a typed state, an error and its message have one implementation."""

    __slots__ = ("_app", "_codec", "_ctx", "_dirty", "_state", "_topic")

    def __init__(self, app: App, ctx: int | None, topic: str | None = None, codec: _state.Codec | None = None) -> None:
        self._app = app
        self._ctx = ctx
        self._state: Any = None
        self._dirty = False
        self._topic = topic
        self._codec = codec

    @property
    def state(self) -> Any:
        """The session state, written back after the callback: a JSON-compatible
        dict, or an instance of the page's state dataclass."""
        if not self._dirty:
            # A ctx is never 0: _live() runs (and raises) only once the callback is over.
            ctx = self._ctx or self._live()
            try:
                state = load_state(ctx)
            except ValueError:
                state = _lib.read_state(ctx)
            if state is None:
                raise MizuliveError(ErrorCode.STATE, _lib.last_error())
            codec = self._codec
            self._state = state if codec is None else codec.load(state, "state")
            self._dirty = True
        return self._state

    @state.setter
    def state(self, value: Any) -> None:
        self._live()
        codec = self._codec
        if codec is not None and not isinstance(value, codec.cls):
            raise TypeError(f"s.state must be a {codec.cls.__name__}, not {type(value).__name__} {value!r:.60}")
        self._state = value
        self._dirty = True

    def mark(self, *regions: str) -> None:
        """Marks regions (DOM ids) for re-rendering after the callback; the root id
        (``"lv-root"``) re-renders the page body. An unknown id raises."""
        ctx = self._ctx or self._live()
        for region in regions:
            rc = mark_region(ctx, _names.get(region) or _name(region))
            if rc:
                check(rc)

    def _live(self) -> int:
        ctx = self._ctx
        if ctx is None:
            raise MizuliveError(ErrorCode.STATE, "this Session was used after its callback returned")
        return ctx

    def _retire(self) -> None:
        """The callback is over: the session no longer reaches the library, nor its state."""
        self._ctx = None
        self._state = None
        self._dirty = False

    def _write_back(self, ctx: int) -> None:
        """Writes the state, which the callback touched, back through ``ctx``."""
        state = self._state if self._codec is None else self._codec.dump(self._state, "state")
        rc = store_state(ctx, state)
        if rc is None:
            rc = set_state(ctx, _lib.checked_json(state, "state"))
        if rc:
            check(rc)


# A checker sees the Python class (a conditional expression would hide it).
if TYPE_CHECKING or _lib.speedups is None:  # noqa: SIM108
    _SessionBase = _SessionCore
else:
    _SessionBase = _lib.speedups.SessionCore


class Session(_SessionBase, Generic[S]):
    """A callback's view of its session: the state, and what the callback may ask for.

    A ``Session`` is valid only during the callback it was passed to; using it
    afterwards raises :class:`MizuliveError`. ``state`` is read from the library the
    first time it is touched and written back when the callback returns normally;
    after an exception nothing is written and the session keeps its previous state.
    ``Session`` is a ``Session[dict[str, Any]]``; a page with a dataclass state type
    gets a ``Session[ThatDataclass]``.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        # The state's type for a checker; the property itself is _SessionBase's.
        @property
        def state(self) -> S: ...

        @state.setter
        def state(self, value: S) -> None: ...

    # -- who is asking

    @property
    def app(self) -> App:
        """The app serving this session."""
        return self._app

    @property
    def id(self) -> str:
        """The session id (32 hex characters)."""
        return dec(lib.lv_session_id(self._live())) or ""

    @property
    def browser_id(self) -> str:
        """This browser's stable id: the same in every page session of the browser
        (its signed cookie), on every node; another browser's differs. A pseudonym
        of the cookie, fit to key "one vote per browser"."""
        return dec(lib.lv_browser_id(self._live())) or ""

    @property
    def user_id(self) -> str | None:
        """The user id the auth hook gave this session, or ``None``."""
        return dec(lib.lv_user_id(self._live()))

    @property
    def browser(self) -> BrowserSession:
        """This browser's session map (see :class:`BrowserSession`): ``s.browser["voted"]
        = True`` here is seen by the next page this browser loads."""
        self._live()
        return BrowserSession(
            lambda: lib.lv_browser_session(self._live()),
            lambda key, value: lib.lv_browser_set(self._live(), key, value),
            lambda key: lib.lv_browser_remove(self._live(), key),
        )

    @property
    def params(self) -> dict[str, str]:
        """The route params, e.g. ``{"room": "lobby"}`` for ``/rooms/{room}``."""
        raw = lib.lv_params(self._live())
        return _lib.from_json(raw) if raw else {}

    def param(self, name: str, default: str | None = None) -> str | None:
        """One route param, or ``default``."""
        value = dec(lib.lv_param(self._live(), enc(name, "name")))
        return default if value is None else value

    @property
    def topic(self) -> str | None:
        """In :meth:`Page.info`: the topic of a published message, ``None`` for a timer."""
        return self._topic

    # -- rendering

    def mark_all(self) -> None:
        """Marks every region (the page body when the page has none)."""
        check(lib.lv_mark_all(self._live()))

    def set_title(self, title: str) -> None:
        """Sets the document title (sent with the next patch)."""
        check(lib.lv_set_title(self._live(), enc(title, "title")))

    def set_status(self, code: int) -> None:
        """In :meth:`Page.mount`: the HTTP status the page GET answers with. The page
        renders as usual under it (a live "no such board" page with 404); when
        ``mount`` then raises, the GET answers the status with a short text instead
        of 500 and no session is kept (:class:`NotFound` does that with 404). With
        :meth:`redirect` in ``mount``, a 3xx status replaces the default 303. 200 to
        599; :class:`MizuliveError` (``STATE``) elsewhere."""
        check(lib.lv_set_status(self._live(), int(code)))

    def flash(self, message: str, kind: str = "info") -> None:
        """Shows ``message`` as ``flash.<kind>`` in the next render that reaches the
        browser (mark the region that shows it), then clears it."""
        check(lib.lv_flash(self._live(), enc(kind, "kind"), enc(message, "message")))

    # -- pub/sub and timers

    def subscribe(self, topic: str) -> None:
        """Subscribes this session to ``topic``: publishes arrive in :meth:`Page.info`."""
        check(lib.lv_subscribe(self._live(), enc(topic, "topic")))

    def unsubscribe(self, topic: str) -> None:
        """Unsubscribes this session from ``topic`` (a no-op when not subscribed)."""
        check(lib.lv_unsubscribe(self._live(), enc(topic, "topic")))

    def publish(self, topic: str, msg: Any) -> None:
        """Publishes ``msg`` (JSON-serializable) to every session subscribed to
        ``topic``, this one included when it is."""
        self._live()
        self._app.publish(topic, msg)

    def send_after(self, delay: float, msg: Any) -> int:
        """Delivers ``msg`` to this session's :meth:`Page.info` (``s.topic`` is
        ``None``) after ``delay`` seconds. Returns the timer id for :meth:`cancel`."""
        if not (isinstance(delay, (int, float)) and math.isfinite(delay) and delay >= 0):
            raise ValueError(f"delay must be a finite number of seconds >= 0, not {delay!r}")
        timer = c_uint64()
        payload = _lib.to_json(msg, "msg")
        check(lib.lv_send_after(self._live(), round(delay * 1000), payload, timer))
        return timer.value

    def cancel(self, timer: int) -> bool:
        """Cancels a pending timer; ``False`` when it already fired or never was."""
        rc = lib.lv_cancel_timer(self._live(), timer)
        if rc == _lib.LV_ERR_NOT_FOUND:
            return False
        check(rc)
        return True

    # -- navigation and commands

    def redirect(self, url: str) -> None:
        """After the callback, loads ``url`` in the browser (a full page load); after a
        no-JS post, the 303 goes there."""
        check(lib.lv_redirect(self._live(), enc(url, "url")))

    def navigate(self, url: str, replace: bool = False) -> None:
        """After the callback, moves the browser to another route of this app without a
        full load (``history.pushState``, or ``replaceState`` with ``replace``)."""
        check(lib.lv_navigate(self._live(), enc(url, "url"), int(bool(replace))))

    def focus(self, selector: str) -> None:
        """After the callback, focuses the element matching a CSS selector."""
        check(lib.lv_focus(self._live(), enc(selector, "selector")))

    def scroll(self, selector: str | None = None, end: bool = False) -> None:
        """After the callback, scrolls ``selector`` into view (its end with ``end``);
        ``None`` scrolls the page to the top."""
        sel = None if selector is None else enc(selector, "selector")
        check(lib.lv_scroll(self._live(), sel, int(bool(end))))

    # -- internals

    def _finish(self, write_back: bool) -> None:
        """Ends the callback: writes the state back (when touched) and retires the ctx."""
        try:
            if write_back and self._dirty:
                self._write_back(self._ctx or self._live())
        finally:
            self._retire()


if _lib.speedups is not None:
    _lib.speedups.set_session_class(Session, _SessionCore, _names)
