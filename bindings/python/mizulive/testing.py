"""Test helpers: an in-process test client, and a client for a running server.

:func:`open` (or :meth:`mizulive.App.test`) opens a page of an app in a headless
browser inside the process: no server, no port, no WebSocket package. Events point at
rendered elements with CSS selectors, so a typo in a template's event name fails the
test::

    with mizulive.App(views="views") as app:
        app.page("/counter", Counter)
        with app.test("/counter") as page:
            page.click("[data-lv-click=inc]")        # waits for the reply
            assert "<strong id=\"count\">1</strong>" in page.region("stats")
            assert page.state["count"] == 1
            app.publish("counter", {"set": 7})
            assert page.next_push()["t"] == "patch"
            page.assert_no_push(within=0.2)

With pytest, the ``live`` fixture (a plugin this package installs) opens pages of the
test's ``app`` fixture and closes them after the test: ``page = live("/counter")``.

:class:`Client` talks to a running server over real HTTP and WebSocket: for the
no-JavaScript path (page GETs, form posts) and for protocol-level tests.
Plain HTTP (page GETs, no-JS form posts) needs nothing beyond the standard library;
:meth:`Client.live` opens the WebSocket with the ``websockets`` package (install the
``test`` extra: ``pip install "mizulive[test]"``).

Example::

    with mizulive.App(views="views") as app:
        app.page("/counter", Counter)
        app.start("127.0.0.1:0")
        client = Client(app.url)
        with client.live("/counter") as live:
            reply = live.event("inc", values={"by": 2})
            assert reply.ok
            assert "2" in reply.regions["stats"]

Every wait has a timeout (``Client(timeout=...)``, 5 s by default).
"""

from __future__ import annotations

import ctypes
import http.client
import itertools
import json
import re
import threading
import time
import weakref
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, TypeVar, Union
from urllib.parse import urlencode, urlsplit

from . import _callbacks, _lib, _state
from ._lib import LV_OK, enc, lib
from .errors import ErrorCode, MizuliveError

if TYPE_CHECKING:
    from .app import App

T = TypeVar("T")

#: The wire protocol's version (docs/protocol.md) the socket client speaks.
PROTOCOL_VERSION = 4

__all__ = [
    "Client",
    "ElementNotFound",
    "EventFailed",
    "Form",
    "LiveOpener",
    "LivePage",
    "LiveSession",
    "ProtocolError",
    "Reply",
    "Response",
    "TimedOut",
    "UnexpectedPush",
    "open",
]

Fields = Union[Mapping[str, Any], Sequence[tuple[str, Any]]]

_BOOT = re.compile(r'<script id="lv-boot" type="application/json">(.*?)</script>', re.S)


class ProtocolError(AssertionError):
    """The server did not answer as ``docs/protocol.md`` says (or not in time)."""


@dataclass
class Form:
    """A ``<form>`` of a page: its attributes, fields and submit buttons."""

    attrs: dict[str, str]
    #: ``(name, value)`` of every input, select and textarea with a name, in order
    #: (checkboxes and radios only when checked).
    fields: list[tuple[str, str]] = field(default_factory=list)
    #: ``(name, value)`` of every named button.
    buttons: list[tuple[str, str]] = field(default_factory=list)

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")

    def data(self, extra: Fields = (), button: tuple[str, str] | None = None) -> list[tuple[str, str]]:
        """What a browser would post: the fields, with ``extra`` replacing fields of the
        same name, plus ``button`` (the submitter)."""
        pairs = list(extra.items()) if isinstance(extra, Mapping) else list(extra)
        replaced = {k for k, _ in pairs}
        out = [(k, v) for k, v in self.fields if k not in replaced]
        out += [(k, str(v)) for k, v in pairs]
        if button is not None:
            out.append(button)
        return out


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(attrs=a)
            self.forms.append(self._current)
            return
        form = self._current
        if form is None or "name" not in a:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image", "button"):
                form.buttons.append((a["name"], a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    form.fields.append((a["name"], a.get("value", "on")))
            else:
                form.fields.append((a["name"], a.get("value", "")))
        elif tag == "button":
            form.buttons.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = (a["name"], [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None and self._current is not None:
            name, parts = self._textarea
            self._current.fields.append((name, "".join(parts)))
            self._textarea = None
        elif tag == "form":
            self._current = None


@dataclass
class Response:
    """An HTTP response, read whole."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str | None:
        """The ``Location`` header (a 303 after a no-JS post)."""
        return self.headers.get("Location")

    @property
    def boot(self) -> dict[str, Any]:
        """The page's ``lv-boot`` data: ``token``, ``seq``, ``csrf``, ``dev``."""
        m = _BOOT.search(self.text)
        if not m:
            raise ProtocolError(f"no lv-boot script in the page (status {self.status})")
        boot: dict[str, Any] = json.loads(m.group(1))
        return boot

    @property
    def forms(self) -> list[Form]:
        """Every form of the page, in document order."""
        parser = _FormParser()
        parser.feed(self.text)
        parser.close()
        return parser.forms

    def form(self, id: str | None = None, button: str | None = None) -> Form:
        """The form with ``id``, or the one holding a button whose value starts with
        ``button`` (``"inc"`` finds the ``lv.click("inc", ...)`` button's form)."""
        for f in self.forms:
            if id is not None and f.attrs.get("id") == id:
                return f
            if button is not None and any(v == button or v.startswith(button + "?") for _, v in f.buttons):
                return f
        raise ProtocolError(f"no form with id={id!r} button={button!r} in the page")


def _answers(frame: dict[str, Any]) -> bool:
    """A ``reply``, or a ``patch`` with a ``ref``: the reply folded into its patch."""
    return frame.get("t") == "reply" or (frame.get("t") == "patch" and "ref" in frame)


@dataclass
class Reply:
    """The server's ``reply`` to one event, and every frame that came before it."""

    ok: bool
    error: dict[str, Any] | None
    frames: list[dict[str, Any]]

    @property
    def patches(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("t") == "patch"]

    @property
    def regions(self) -> dict[str, str]:
        """Region id -> HTML across this event's patches (later ones win)."""
        out: dict[str, str] = {}
        for p in self.patches:
            out.update(p.get("regions") or {})
        return out

    def frame(self, t: str) -> dict[str, Any]:
        """The first frame of type ``t`` before the reply."""
        for f in self.frames:
            if f.get("t") == t:
                return f
        raise ProtocolError(f"no {t!r} frame before the reply; got {[f.get('t') for f in self.frames]}")


class Client:
    """Talks to one running app at ``base_url`` (``app.url``). Keeps cookies, never
    follows redirects."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"base_url must be http://host:port, not {base_url!r}")
        self.base_url = f"http://{parts.netloc}"
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        """One request on a fresh connection. A ``Cookie`` header in ``headers`` adds
        to the client's cookies (a name in both: the header's value), as a browser
        sends what it kept with any cookie a test sets."""
        h = self._with_cookies(headers)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        for header in resp.headers.get_all("Set-Cookie") or []:
            self._remember(header)
        return Response(resp.status, resp.headers, data)

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fields: Fields, headers: Mapping[str, str] | None = None) -> Response:
        """Posts ``fields`` as ``application/x-www-form-urlencoded``."""
        pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
        h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, urlencode(pairs).encode(), h)

    def submit(self, form: Form, extra: Fields = (), button: tuple[str, str] | None = None) -> Response:
        """Posts ``form`` (with its token and CSRF fields) as a browser without
        JavaScript would: ``extra`` fills fields in, ``button`` is the submitter."""
        return self.post(form.action, form.data(extra, button))

    def live(self, path: str) -> LiveSession:
        """GETs ``path`` and joins its session over the WebSocket."""
        page = self.get(path)
        if page.status != 200:
            raise ProtocolError(f"GET {path} answered {page.status}: {page.text[:200]}")
        return self.connect(path, page.boot["token"], seq=int(page.boot.get("seq", 0)))

    def connect(self, path: str, token: str, seq: int = 0, origin: str | None = None) -> LiveSession:
        """Opens the WebSocket and joins with ``token``; returns once ``joined`` came."""
        ws = self.open_socket(origin)
        live = LiveSession(ws, self.timeout)
        live.send({"t": "join", "v": PROTOCOL_VERSION, "token": token, "url": self.base_url + path, "seq": seq})
        live.joined = live.next("joined", also=("error",))
        if live.joined.get("t") == "error":
            live.close()
            raise ProtocolError(f"join failed: {live.joined}")
        return live

    def open_socket(self, origin: str | None = None) -> Any:
        """A raw ``websockets`` connection to ``/_live/websocket`` (Origin: ours)."""
        from websockets.sync.client import connect

        options: dict[str, Any] = {
            "origin": origin or self.base_url,
            "open_timeout": self.timeout,
            "close_timeout": self.timeout,
        }
        # A browser sends its cookies with the upgrade: the session token is bound to
        # the browser cookie the page GET set.
        if self.cookies:
            options["additional_headers"] = {"Cookie": self._cookie_header()}
        ws = connect(f"ws://{self.host}:{self.port}/_live/websocket", **options)
        # Entering the connection's context is how every websockets version (11 to 17+)
        # hands out a connection that the caller closes itself.
        return ws.__enter__()

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _with_cookies(self, headers: Mapping[str, str] | None) -> dict[str, str]:
        """``headers`` with the client's cookies merged into their ``Cookie`` header."""
        h = {k: v for k, v in (headers or {}).items() if k.lower() != "cookie"}
        jar = dict(self.cookies)
        for name, value in (headers or {}).items():
            if name.lower() == "cookie":
                for pair in value.split(";"):
                    key, _, val = pair.strip().partition("=")
                    if key:
                        jar[key] = val
        if jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        return h

    def _remember(self, header: str) -> None:
        first, *attrs = header.split(";")
        name, _, value = first.strip().partition("=")
        expired = any(a.strip().lower() == "max-age=0" for a in attrs)
        if expired or not value:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


class LiveSession:
    """One joined WebSocket. Frames that a wait skips are kept, in order, for the
    next wait."""

    def __init__(self, ws: Any, timeout: float) -> None:
        self.ws = ws
        self.timeout = timeout
        self.joined: dict[str, Any] = {}
        self.backlog: list[dict[str, Any]] = []
        #: The number of the last patch received: patches carry none, so it is
        #: counted from ``joined``'s ``seq``, as a browser does.
        self.seq = 0
        self._refs = itertools.count(1)

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    def send(self, frame: Mapping[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next frame (from the backlog first)."""
        if self.backlog:
            return self.backlog.pop(0)
        return self._read(self.timeout if timeout is None else timeout)

    def next(self, t: str, timeout: float | None = None, also: Iterable[str] = ()) -> dict[str, Any]:
        """The next frame of type ``t`` (or of a type in ``also``); other frames wait
        in the backlog."""
        wanted = {t, *also}
        return self.wait_for(lambda f: f.get("t") in wanted, timeout, what=f"a {t!r} frame")

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float | None = None, what: str = "a frame"
    ) -> dict[str, Any]:
        """The next frame that satisfies ``predicate``; others wait in the backlog."""
        for i, f in enumerate(self.backlog):
            if predicate(f):
                return self.backlog.pop(i)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProtocolError(f"no {what} within the timeout; got {skipped}")
                f = self._read(left)
                if predicate(f):
                    return f
                skipped.append(f)
        finally:
            self.backlog.extend(skipped)

    def event(
        self,
        name: str,
        type: str = "click",
        values: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        target: str | None = None,
        key: str | None = None,
        field: str | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """Sends one event and returns its reply with the frames that preceded it
        (values are sent as strings; a form value may be a string or a list)."""
        ref = self.send_event(name, type, values, form, target, key, field)
        return self.reply(ref, timeout)

    def send_event(
        self,
        name: str,
        type: str = "click",
        values: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        target: str | None = None,
        key: str | None = None,
        field: str | None = None,
    ) -> int:
        """Sends one event without waiting; returns its ``ref`` for :meth:`reply`."""
        ref = next(self._refs)
        frame: dict[str, Any] = {
            "t": "event",
            "ref": ref,
            "type": type,
            "name": name,
            "target": target,
            "values": {k: str(v) for k, v in (values or {}).items()},
            "form": {k: v if isinstance(v, list) else [str(v)] for k, v in (form or {}).items()},
            "key": key,
            "meta": {"shift": False, "ctrl": False, "alt": False, "meta": False},
        }
        if field is not None:
            frame["field"] = field
        self.send(frame)
        return ref

    def reply(self, ref: int, timeout: float | None = None) -> Reply:
        """Waits for the reply to event ``ref``. The frames between the previous
        reply and it come with it (an event's patches and commands precede its
        reply); other events' replies and frames stay for their own ``reply``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, f in enumerate(self.backlog):
                if _answers(f) and f.get("ref") == ref:
                    start = i
                    while start > 0 and not _answers(self.backlog[start - 1]):
                        start -= 1
                    # A patch that answers the event is its reply and its patch (a
                    # failed event is answered by a reply, never a patch).
                    patch = f.get("t") == "patch"
                    frames = self.backlog[start : i + 1 if patch else i]
                    del self.backlog[start : i + 1]
                    return Reply(patch or bool(f.get("ok")), f.get("error"), frames)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"no reply {ref} within the timeout; got {self.backlog}")
            self.backlog.append(self._read(left))

    def _read(self, timeout: float) -> dict[str, Any]:
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            raise ProtocolError("no frame within the timeout") from None
        if isinstance(raw, bytes):
            raise ProtocolError(f"binary frame from the server: {raw[:80]!r}")
        frame: dict[str, Any] = json.loads(raw)
        # A patch is the one frame without a "t" on the wire; here it is named too.
        frame.setdefault("t", "patch")
        if frame["t"] == "patch":
            self.seq += 1
        elif frame.get("t") == "joined":
            self.seq = int(frame.get("seq", 0))
        return frame


# -- the in-process test client (lv_test_* of the C ABI)


class EventFailed(MizuliveError):
    """An event's reply said it failed (the page's callback raised, or the event was
    refused). ``reply_code`` is the reply's error code (``"host_error"`` for a failed
    callback), ``reply_message`` its message; the session kept its state."""

    def __init__(self, message: str, reply: Mapping[str, Any] | None = None) -> None:
        super().__init__(ErrorCode.CALLBACK, message)
        error = (reply or {}).get("error") or {}
        self.reply_code: str = str(error.get("code", ""))
        self.reply_message: str = str(error.get("message", ""))


class ElementNotFound(MizuliveError, AssertionError):
    """A selector matched no element of the page (or none with the event's
    ``data-lv-*`` attribute in reach; or a form lacks a field). The message names the
    selector and what the page offers instead."""


class TimedOut(MizuliveError, AssertionError):
    """An event's reply, or a push, did not come within the timeout."""


class UnexpectedPush(MizuliveError, AssertionError):
    """:meth:`LivePage.assert_no_push` saw a push arrive; the message shows it."""


_RAISES: dict[int, type[MizuliveError]] = {
    ErrorCode.CALLBACK: EventFailed,
    ErrorCode.NOT_FOUND: ElementNotFound,
    ErrorCode.TIMEOUT: TimedOut,
}


def _fail(rc: int, ptr: int | None = None) -> MizuliveError:
    """The exception for a failed ``lv_test_*`` call (this thread's last error); a
    failed event's reply is read from the client ``ptr``."""
    message = _lib.last_error()
    if rc == ErrorCode.REENTRANT:
        message += " (a test client waits for sessions; drive it from the test's thread, not from a page callback)"
    cls = _RAISES.get(rc)
    if cls is EventFailed:
        out = ctypes.c_void_p()
        reply = None
        if ptr is not None and lib.lv_test_reply(ptr, ctypes.byref(out)) == LV_OK:
            reply = json.loads(_take(out))
        return EventFailed(message, reply)
    if cls is not None:
        return cls(rc, message)
    return MizuliveError(rc, message)


def _ms(seconds: float, what: str) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 4_000_000:
        raise ValueError(f"{what} must be a number of seconds >= 0, not {seconds!r}")
    return round(seconds * 1000)


def _take(out: ctypes.c_void_p) -> str:
    try:
        return ctypes.string_at(out.value or 0).decode("utf-8")
    finally:
        lib.lv_string_free(out)


def _close_handle(ptr: int, app: object) -> None:
    # ``app`` is only kept alive here: its handle must outlive this client's.
    lib.lv_test_close(ptr)


class LivePage:
    """A headless browser showing one page of an app, in this process (``lv_test_*``
    of ``docs/c-api.md``). Made by :func:`open` or :meth:`mizulive.App.test`.

    Events point at one rendered element with a CSS selector (``"#save"``,
    ``"[data-lv-click=inc]"``, ``"form#new-item"``, ``"li:nth-child"`` is refused) and
    are built as the browser runtime builds them; each call waits for the event's reply
    and raises :class:`EventFailed` when the reply is an error,
    :class:`ElementNotFound` when the selector finds nothing to send it from, and
    :class:`TimedOut` after the ``timeout`` given at open. The page's HTML is patched
    as a browser's DOM is, so :meth:`region` and :meth:`html` read the page as a user
    sees it. Redirects to the app's own pages are followed (see :attr:`path`).

    Use it from the test's thread (any thread, one call at a time), never from a page
    callback. Closing is idempotent; the app's :meth:`~mizulive.App.close` closes it.
    """

    def __init__(
        self,
        app: App,
        path: str,
        *,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        host: str | None = None,
    ) -> None:
        options: dict[str, Any] = {"timeout_ms": _ms(timeout, "timeout")}
        if cookies:
            options["cookies"] = {str(k): str(v) for k, v in cookies.items()}
        if headers:
            options["headers"] = {str(k): str(v) for k, v in headers.items()}
        if host is not None:
            options["host"] = host
        self.app = app
        self._lock = threading.Lock()
        out = ctypes.c_void_p()
        with app._use() as app_ptr:
            rc = lib.lv_test_open(app_ptr, enc(path, "path"), _lib.to_json(options, "options"), ctypes.byref(out))
            if rc != LV_OK:
                raise _fail(rc)
        ptr = out.value
        if not ptr:
            raise MizuliveError(ErrorCode.NULL, "lv_test_open returned no client")
        self._ptr: int | None = ptr
        # Closed when garbage at the latest; the finalizer keeps the app alive till then.
        self._finalizer = weakref.finalize(self, _close_handle, ptr, app)
        app._tests.add(self)

    # -- life

    def close(self) -> None:
        """Closes the page (its session ends as when a browser tab closes).
        Idempotent. Not from a page callback (it would wait for the session)."""
        self._check_thread()
        with self._lock:
            self._ptr = None
            self._finalizer()
        self.app._tests.discard(self)

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def __enter__(self) -> LivePage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<mizulive.testing.LivePage closed>"
        return f"<mizulive.testing.LivePage {self.path}>"

    def _call(self, fn: Callable[..., int], *args: Any) -> None:
        self._check_thread()
        with self._lock:
            if self._ptr is None:
                raise MizuliveError(ErrorCode.STATE, "the test page is closed")
            rc = fn(self._ptr, *args)
            if rc != LV_OK:
                raise _fail(rc, self._ptr)

    @staticmethod
    def _check_thread() -> None:
        # Before the lock: the test thread may hold it, waiting for this very callback.
        if _callbacks.in_callback():
            raise MizuliveError(
                ErrorCode.REENTRANT,
                "a test page cannot be used from a page callback: it waits for sessions that may need "
                "this thread; drive it from the test's thread",
            )

    def _read(self, fn: Callable[..., int], *args: Any) -> str:
        out = ctypes.c_void_p()
        self._call(fn, *args, ctypes.byref(out))
        return _take(out)

    # -- events (each waits for its reply)

    def visit(self, path: str) -> None:
        """Loads another page of the app in the same browser (cookies kept)."""
        self._call(lib.lv_test_visit, enc(path, "path"))

    def click(self, selector: str) -> None:
        """Clicks the element ``selector`` names: sends the ``data-lv-click`` of it or
        its nearest ancestor, with its ``data-lv-value-*``."""
        self._call(lib.lv_test_click, enc(selector, "selector"))

    def focus(self, selector: str) -> None:
        """Sends the element's ``data-lv-focus``."""
        self._call(lib.lv_test_focus, enc(selector, "selector"))

    def blur(self, selector: str) -> None:
        """Sends the element's ``data-lv-blur``."""
        self._call(lib.lv_test_blur, enc(selector, "selector"))

    def submit(self, selector: str, /, fields: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Submits the form ``selector`` names (or the form of the submit button it
        names, then the submitter), after filling fields in as a user would:
        ``page.submit("#new-item", text="milk")`` or ``fields={"tags": ["a", "c"]}``
        (a list for a multiple select or several boxes, ``True``/``False`` for a
        checkbox; a field called ``fields`` goes in the dict). A field the form lacks
        raises :class:`ElementNotFound`."""
        values = {**(fields or {}), **more}
        self._call(lib.lv_test_submit, enc(selector, "selector"), _lib.to_json(values, "fields"))

    def change(self, selector: str, value: str | bool | Sequence[str]) -> None:
        """Sets the field ``selector`` names to ``value`` and sends its
        ``data-lv-change`` (a checkbox takes ``True``/``False``, a multiple select a
        list)."""
        if isinstance(value, bool):
            raw = "true" if value else "false"
        elif isinstance(value, str):
            raw = value
        else:
            raw = json.dumps(list(value))
        self._call(lib.lv_test_change, enc(selector, "selector"), enc(raw, "value"))

    def key(self, selector: str, key: str, type: str = "keydown") -> None:
        """Presses ``key`` (``"Enter"``) on the element: sends its
        ``data-lv-keydown`` (or ``data-lv-keyup`` with ``type="keyup"``). A key its
        ``data-lv-key`` filters out raises :class:`ElementNotFound`."""
        if type not in ("keydown", "keyup"):
            raise ValueError(f'type must be "keydown" or "keyup", not {type!r}')
        self._call(lib.lv_test_key, enc(selector, "selector"), enc(type, "type"), enc(key, "key"))

    def event(self, event: Mapping[str, Any]) -> None:
        """Sends a hand-written event (``{"type": "click", "name": "inc", "values":
        {"by": "2"}}``, as ``docs/protocol.md`` describes) and waits for its reply."""
        self._call(lib.lv_test_event, _lib.to_json(dict(event), "event"))

    # -- pushes

    def next_push(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame no event of this page asked for: a patch from
        ``app.publish`` or a timer (already applied to the page), a ``command``, a
        followed ``redirect``/``navigate``, an ``error`` or ``close``. Raises
        :class:`TimedOut` when none comes within ``timeout`` seconds."""
        frame: dict[str, Any] = json.loads(self._read(lib.lv_test_next_push, _ms(timeout, "timeout")))
        return frame

    def assert_no_push(self, within: float = 0.2) -> None:
        """Passes when nothing is pushed within ``within`` seconds (and nothing is
        queued); raises :class:`UnexpectedPush` showing the frame otherwise."""
        self._check_thread()
        with self._lock:
            if self._ptr is None:
                raise MizuliveError(ErrorCode.STATE, "the test page is closed")
            rc = lib.lv_test_refute_push(self._ptr, _ms(within, "within"))
            if rc == ErrorCode.STATE:
                raise UnexpectedPush(rc, _lib.last_error())
            if rc != LV_OK:
                raise _fail(rc)

    # -- reading the page

    def html(self, selector: str | None = None) -> str:
        """The whole document, or the inner HTML of the element ``selector`` names,
        as ``innerHTML`` reads it."""
        return self._read(lib.lv_test_html, None if selector is None else enc(selector, "selector"))

    def text(self, selector: str) -> str:
        """The text of the element ``selector`` names."""
        return self._read(lib.lv_test_text, enc(selector, "selector"))

    def region(self, id: str) -> str:
        """The current inner HTML of the region ``id``."""
        return self._read(lib.lv_test_region, enc(id, "id"))

    @property
    def title(self) -> str:
        """The document's title."""
        return self._read(lib.lv_test_title)

    @property
    def path(self) -> str:
        """The path of the page shown (after redirects), with its query."""
        return self._read(lib.lv_test_path)

    @property
    def state(self) -> Any:
        """The session's state as JSON values (a dict), asked of the session. A
        dataclass state reads as its fields."""
        return json.loads(self._read(lib.lv_test_state))

    def state_as(self, cls: type[T]) -> T:
        """The session's state as an instance of the dataclass ``cls`` (a typed
        page's ``Page[State]``), converted as the page's own callbacks get it."""
        value: T = _state.codec(cls).load(self.state, cls.__name__)
        return value

    @property
    def flash(self) -> dict[str, Any]:
        """The flash no render has shown yet (``{}`` when none)."""
        raw = json.loads(self._read(lib.lv_test_flash))
        return raw if isinstance(raw, dict) else {}


def open(
    app: App,
    path: str,
    *,
    cookies: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    host: str | None = None,
) -> LivePage:
    """Opens ``path`` of ``app`` in an in-process headless browser: the page GET, then
    the session joined, as a browser does; no server is started. ``cookies`` and
    ``headers`` go with every request (the login cookie an auth hook reads);
    ``timeout`` bounds each wait for an event's reply. Same as ``app.test(path)``."""
    return LivePage(app, path, cookies=cookies, headers=headers, timeout=timeout, host=host)


class LiveOpener:
    """Opens pages of one app and closes them all at once: the ``live`` pytest
    fixture (``live(path, **options)`` is :func:`open` of ``live.app``)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.pages: list[LivePage] = []

    def __call__(
        self,
        path: str,
        *,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        host: str | None = None,
    ) -> LivePage:
        page = LivePage(self.app, path, cookies=cookies, headers=headers, timeout=timeout, host=host)
        self.pages.append(page)
        return page

    def close_all(self) -> None:
        """Closes every page opened here."""
        for page in self.pages:
            page.close()
        self.pages.clear()
