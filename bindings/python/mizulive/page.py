"""What a page author writes and sees: :class:`Page`, :class:`Session`, :class:`Event`."""

from __future__ import annotations

import json
import math
from ctypes import c_uint64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from . import _lib
from ._browser import BrowserSession
from ._lib import check, dec, enc, lib
from .errors import CallbackError, ErrorCode, MizuliveError

if TYPE_CHECKING:
    from .app import App

__all__ = ["Event", "KeyMeta", "Page", "Session"]


class Page:
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

            def handle(self, s, e):
                if e.name == "inc":
                    s.state["count"] += e.int("by", 1)
                    s.mark("stats")
    """

    #: Page template: ``"counter/index"`` is ``views/pages/counter/index.html``.
    template: ClassVar[str]
    #: DOM id -> partial name (``views/partials/<name>.html``) of each region.
    regions: ClassVar[Mapping[str, str]] = {}
    #: Layout name (``views/layouts/<name>.html``); ``None`` uses the app's default.
    layout: ClassVar[str | None] = None

    def mount(self, s: Session) -> None:
        """Sets the initial state (``s.state``) of a new session; ``s.params`` holds
        the route params. Runs on the first GET of a page (and when a browser comes
        back after its session expired). The default leaves the state ``{}``."""

    def handle(self, s: Session, e: Event) -> None:
        """Handles a browser event (or a no-JS form post). The default refuses every
        event."""
        raise CallbackError(f"{type(self).__name__} does not handle the event {e.name!r}")

    def info(self, s: Session, msg: Any) -> None:
        """Handles a message published on a subscribed topic (``s.topic`` names it)
        or a timer's payload (``s.topic`` is ``None``). After the session's mailbox
        overflowed, one message on topic ``"mizulive:lagged"`` says how many were
        missed (``{"missed": N}``): reload what the page shows. The default ignores it."""

    def close(self, s: Session, reason: str) -> None:
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
        values = raw.get("values") or {}
        if values and not all(type(v) is str for v in values.values()):
            values = {str(k): _text(v) for k, v in values.items()}
        form = raw.get("form") or {}
        if form and not all(type(v) is list and all(type(x) is str for x in v) for v in form.values()):
            form = {str(k): [_text(x) for x in v] if isinstance(v, list) else [_text(v)] for k, v in form.items()}
        return cls(
            raw.get("type") or "",
            raw.get("name") or "",
            raw.get("target"),
            values,
            form,
            raw.get("field"),
            raw.get("key"),
            raw.get("meta"),
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


class Session:
    """A callback's view of its session: the state, and what the callback may ask for.

    A ``Session`` is valid only during the callback it was passed to; using it
    afterwards raises :class:`MizuliveError`. ``state`` is read from the library the
    first time it is touched and written back when the callback returns normally;
    after an exception nothing is written and the session keeps its previous state.
    """

    __slots__ = ("_app", "_ctx", "_dirty", "_state", "_topic")

    def __init__(self, app: App, ctx: int, topic: str | None = None) -> None:
        self._app = app
        self._ctx: int | None = ctx
        self._state: Any = None
        self._dirty = False
        self._topic = topic

    # -- state

    @property
    def state(self) -> dict[str, Any]:
        """The session state: a JSON-compatible dict, written back after the callback."""
        if not self._dirty:
            raw = lib.lv_get_state(self._live())
            if raw is None:
                raise MizuliveError(ErrorCode.STATE, _lib.last_error())
            self._state = _lib.from_json(raw)
            self._dirty = True
        state: dict[str, Any] = self._state
        return state

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self._live()
        self._state = value
        self._dirty = True

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

    def mark(self, *regions: str) -> None:
        """Marks regions (DOM ids) for re-rendering after the callback; the root id
        (``"lv-root"``) re-renders the page body. An unknown id raises."""
        ctx = self._live()
        for region in regions:
            check(lib.lv_mark(ctx, _name(region)))

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

    def _live(self) -> int:
        ctx = self._ctx
        if ctx is None:
            raise MizuliveError(ErrorCode.STATE, "this Session was used after its callback returned")
        return ctx

    def _finish(self, write_back: bool) -> None:
        """Ends the callback: writes the state back (when touched) and retires the ctx."""
        try:
            if write_back and self._dirty:
                check(lib.lv_set_state(self._live(), _lib.to_json(self._state, "state")))
        finally:
            self._ctx = None
