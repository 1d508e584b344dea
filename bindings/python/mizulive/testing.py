"""Test helpers: a client that speaks HTTP and ``docs/protocol.md`` to a running app.

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

import http.client
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Callable, Iterable, Mapping, Sequence, Union
from urllib.parse import urlencode, urlsplit

__all__ = ["Client", "Form", "LiveSession", "ProtocolError", "Reply", "Response"]

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
        """One request on a fresh connection."""
        h = dict(headers or {})
        if self.cookies and "Cookie" not in h:
            h["Cookie"] = self._cookie_header()
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
        live.send({"t": "join", "v": 1, "token": token, "url": self.base_url + path, "seq": seq})
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
                    # A patch that answers the event is its reply and its patch.
                    frames = self.backlog[start : i + 1 if f.get("t") == "patch" else i]
                    del self.backlog[start : i + 1]
                    return Reply(bool(f.get("ok")), f.get("error"), frames)
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
        return frame
