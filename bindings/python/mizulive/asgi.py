"""The app's pages inside the host's own ASGI web server (Starlette, FastAPI, any
ASGI 3 server on asyncio): :meth:`App.asgi() <mizulive.App.asgi>`.

Every request goes to the library through its host transport (``lv_http``,
``lv_ws_open`` and friends in ``mizulive.h``), which answers it exactly as the
library's own listener would: tokens, CSRF, the Origin check, size and rate limits
and the auth hook all hold on this path. The library opens no port of its own.

The blocking calls never run on the event loop: ``lv_http`` runs on a small pool of
threads (ctypes releases the GIL meanwhile), and one dispatcher thread per app takes
every outbound WebSocket frame (``lv_ws_next``) and hands it to its socket's queue
on the socket's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import itertools
import logging
import threading
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, MutableMapping, Optional

from . import _lib
from ._lib import LV_ERR_BUSY, LV_ERR_TIMEOUT, LV_OK, lib
from .errors import ErrorCode, MizuliveError

if TYPE_CHECKING:
    from .app import App

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

log = logging.getLogger("mizulive.asgi")

# The ASGI 3 types, spelled as Starlette spells them, so an ASGIApp is an ASGI app
# to Starlette's and FastAPI's type hints too.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The WebSocket endpoint the client runtime connects to.
WEBSOCKET_PATH = "/_live/websocket"

#: The library's default ``max_form_bytes`` (docs/c-api.md): a body is read up to one
#: byte past the limit, enough for the library to answer 413, and no further.
DEFAULT_MAX_FORM_BYTES = 1024 * 1024

#: The library's default ``outbound_queue``: frames waiting for one socket before its
#: client counts as not reading and is closed.
DEFAULT_OUTBOUND_QUEUE = 256

#: Threads that wait in ``lv_http`` for the library's answers.
HTTP_THREADS = 16

# How long one lv_ws_next waits: the dispatcher notices a shut-down app at once
# anyway (the call returns LV_ERR_STATE), so this only bounds an idle loop.
_NEXT_TIMEOUT_MS = 500

# Close codes of our own (the library sends its own for everything it decides).
_CLOSE_INVALID_PAYLOAD = 1007
_CLOSE_POLICY = 1008
_CLOSE_INTERNAL = 1011
_CLOSE_GOING_AWAY = 1001

# How long the close of a client that does not read may wait to be written.
_CLOSE_TIMEOUT = 5.0

# Characters a path keeps unquoted (RFC 3986 pchar and "/"); anything else, "%"
# included, is percent-encoded again from ASGI's decoded path.
_PATH_SAFE = "/!$&'()*+,;=:@"


@dataclass(frozen=True)
class _Frame:
    """A frame for one socket: text to send (``close_code`` 0) or a close."""

    close_code: int
    text: str


class _Socket:
    """One carried WebSocket: the frames waiting for its connection, at most ``limit``.

    The library hands a host's frames out as fast as they come (``lv_ws_next`` never
    waits for a connection), so the bound on what a client that does not read may
    pile up is kept here: past ``limit`` frames the socket is closed, as the library's
    own listener drops such a client (its ``outbound_queue`` option)."""

    __slots__ = ("done", "limit", "loop", "overflow", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.queue: asyncio.Queue[_Frame] = asyncio.Queue()
        self.overflow = asyncio.Event()
        self.done = False

    def post(self, frame: _Frame) -> None:
        """Hands ``frame`` to the socket's loop; safe from any thread."""
        # A closed loop (RuntimeError) took its connection with it.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.deliver, frame)

    def deliver(self, frame: _Frame) -> None:
        """Queues ``frame`` for the writer (on the loop); nothing after a close."""
        if self.done:
            return
        if frame.close_code:
            self.done = True
        elif self.queue.qsize() >= self.limit:
            self.done = True
            self.overflow.set()
            return
        self.queue.put_nowait(frame)


class _Dispatcher:
    """The one thread per app that takes every outbound frame (``lv_ws_next``) and
    hands it to its socket, until the app shuts down."""

    def __init__(self, app: App, ptr: int) -> None:
        # The thread keeps the App (and so its handle) alive until the library says
        # the app is shut down; the library keeps a shut-down handle valid.
        self._app = app
        self._ptr = ptr
        self._lock = threading.Lock()
        self._sockets: dict[int, _Socket] = {}
        self._done = False
        # A daemon: interpreter exit joins non-daemon threads before it runs atexit,
        # where open apps are closed, which is what ends this loop.
        self.thread = threading.Thread(target=self._run, name="mizulive-ws-dispatch", daemon=True)
        self.thread.start()

    def register(self, tag: int, socket: _Socket) -> bool:
        """Routes ``tag``'s frames to ``socket``; False once the app is shut down."""
        with self._lock:
            if self._done:
                return False
            self._sockets[tag] = socket
            return True

    def unregister(self, tag: int) -> None:
        with self._lock:
            self._sockets.pop(tag, None)

    def _run(self) -> None:
        frame = _lib.LvWsFrame()
        try:
            while True:
                rc = lib.lv_ws_next(self._ptr, _NEXT_TIMEOUT_MS, ctypes.byref(frame))
                if rc == LV_ERR_TIMEOUT:
                    continue
                if rc != LV_OK:
                    # LV_ERR_STATE: the app is shut down (its sockets' close frames
                    # came out before it); anything else would repeat forever.
                    if rc != ErrorCode.STATE:
                        log.error("taking WebSocket frames failed: %s", _lib.last_error())
                    return
                data = ctypes.string_at(frame.data, frame.len) if frame.len else b""
                with self._lock:
                    socket = self._sockets.get(frame.tag)
                if socket is not None:
                    socket.post(_Frame(frame.close_code, data.decode("utf-8", "replace")))
        finally:
            with self._lock:
                self._done = True
                left = list(self._sockets.values())
                self._sockets.clear()
            for socket in left:
                socket.post(_Frame(_CLOSE_GOING_AWAY, "the app shut down"))


class ASGIApp:
    """An ASGI 3 application serving one :class:`~mizulive.App`'s pages, form posts,
    ``/_live/runtime.js`` (and metrics, if enabled) over ``http``, and
    ``/_live/websocket`` over ``websocket``. Get it from :meth:`App.asgi()
    <mizulive.App.asgi>`; there is one per app.

    Pages and ``/_live/`` live at the root of the site: the page's own markup links
    ``/_live/runtime.js`` and the client connects to ``/_live/websocket``. Mount it
    at ``/`` after the site's own routes (``Mount("/", app=live)``; FastAPI:
    ``api.mount("/", live)``), or point routes at it: ``Route("/counter", live)``
    plus ``Mount("/_live", live)``. It answers 404 for any path no page serves.

    On its own at the top of a server it also answers ``lifespan``: its shutdown
    closes the app. Inside Starlette or FastAPI, close it in the site's lifespan:
    ``await live.aclose()``.
    """

    def __init__(self, app: App, max_body: int, max_queued: int, threads: int = HTTP_THREADS) -> None:
        self.app = app
        self._max_body = max_body
        self._max_queued = max_queued
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._threads = threads
        self._dispatcher: _Dispatcher | None = None
        self._tags = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise ValueError(f"mizulive's ASGI app serves http, websocket and lifespan scopes, not {kind!r}")

    async def aclose(self) -> None:
        """Closes the app (:meth:`App.close() <mizulive.App.close>`) off the event
        loop: browsers are told to reconnect, callbacks in flight finish, the
        dispatcher thread ends."""
        await asyncio.get_running_loop().run_in_executor(None, self.app.close)

    # -- http

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, self._max_body)
        if body is None:
            return  # the client went away
        try:
            req = _request(scope["method"], _target(scope), scope["headers"], body)
        except ValueError as e:
            await _plain(send, 400, str(e))
            return
        loop = asyncio.get_running_loop()
        try:
            try:
                future = loop.run_in_executor(self._pool(), self._call_http, req)
            except RuntimeError:  # the pool is shut down with the app
                raise MizuliveError(ErrorCode.STATE, "the app is closed") from None
            status, headers, content = await future
        except MizuliveError as e:
            if e.code == ErrorCode.REQUEST:
                await _plain(send, 400, f"bad request: {e.message}")
            elif e.code == ErrorCode.STATE:
                await _plain(send, 503, "the app is shut down")
            else:
                log.error("answering %s %s failed: %s", scope["method"], scope["path"], e)
                await _plain(send, 500, "internal error")
            return
        # A HEAD's body is empty: its length would not be the GET's.
        if scope["method"] != "HEAD" and not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self._threads, thread_name_prefix="mizulive-http"
                )
            return self._executor

    def _call_http(self, req: _lib.LvHttpRequest) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """``lv_http`` on a pool thread: blocks until the library answers."""
        out = ctypes.c_void_p()
        with self.app._use() as ptr:
            rc = lib.lv_http(ptr, ctypes.byref(req), ctypes.byref(out))
        if rc != LV_OK:
            raise MizuliveError(rc, _lib.last_error())
        try:
            return _response(out)
        finally:
            lib.lv_response_free(out)

    # -- websocket

    def dispatcher_thread(self) -> threading.Thread | None:
        """The thread that takes the app's outbound WebSocket frames, once a socket
        (or the lifespan's startup) started it; it ends when the app shuts down."""
        return None if self._dispatcher is None else self._dispatcher.thread

    def _start_dispatcher(self) -> _Dispatcher:
        with self._lock:
            if self._dispatcher is None:
                with self.app._use() as ptr:
                    self._dispatcher = _Dispatcher(self.app, ptr)
            return self._dispatcher

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        try:
            target = _target(scope)
        except ValueError as e:
            await _refuse(scope, send, 400, [], str(e).encode())
            return
        if urllib.parse.urlsplit(target).path != WEBSOCKET_PATH:
            await _refuse(scope, send, 404, [], b"not found")
            return
        try:
            dispatcher = self._start_dispatcher()
        except MizuliveError:
            await _refuse(scope, send, 503, [], b"the app is shut down")
            return
        tag = next(self._tags)
        socket = _Socket(asyncio.get_running_loop(), self._max_queued)
        # Registered before the socket exists, so not even its first frame is missed.
        if not dispatcher.register(tag, socket):
            await _refuse(scope, send, 503, [], b"the app is shut down")
            return
        try:
            ws = self._open(scope, target, tag)
            if isinstance(ws, tuple):
                await _refuse(scope, send, *ws)
                return
            if ws is None:
                await _refuse(scope, send, 503, [], b"the app is shut down")
                return
            try:
                await send({"type": "websocket.accept"})
                await _carry(ws, socket, receive, send)
            finally:
                lib.lv_ws_close(ws)
        finally:
            dispatcher.unregister(tag)

    def _open(self, scope: Scope, target: str, tag: int) -> int | tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """``lv_ws_open``: the socket handle, the refusal to answer instead, or None
        once the app is shut down. Never waits: the checks are the upgrade's own."""
        req = _request("GET", target, scope["headers"], b"")
        ws = ctypes.c_void_p()
        refusal = ctypes.c_void_p()
        try:
            with self.app._use() as ptr:
                rc = lib.lv_ws_open(ptr, ctypes.byref(req), tag, ctypes.byref(ws), ctypes.byref(refusal))
        except MizuliveError:
            return None
        if rc == ErrorCode.STATE:
            return None
        if rc == ErrorCode.REQUEST:
            return 400, [], f"bad request: {_lib.last_error()}".encode()
        if rc != LV_OK:
            log.error("opening a WebSocket failed: %s", _lib.last_error())
            return 500, [], b"internal error"
        if refusal.value:
            try:
                return _response(refusal)
            finally:
                lib.lv_response_free(refusal)
        return ws.value

    # -- lifespan

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self._start_dispatcher()
                except MizuliveError as e:
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _closed(self) -> None:
        """Called by :meth:`App.close` once the app is shut down: the dispatcher ends
        (the library says so to its wait at once), idle pool threads go."""
        with self._lock:
            dispatcher, executor = self._dispatcher, self._executor
        if dispatcher is not None and dispatcher.thread is not threading.current_thread():
            dispatcher.thread.join(timeout=10)
            if dispatcher.thread.is_alive():
                log.warning("the WebSocket dispatcher thread did not end within 10 s")
        if executor is not None:
            executor.shutdown(wait=False)


async def _carry(ws: int, socket: _Socket, receive: Receive, send: Send) -> None:
    """Carries an accepted socket until either side ends it: the client's frames into
    the library, the library's frames (from the dispatcher) out."""
    reader = asyncio.ensure_future(_read_frames(ws, socket, receive))
    writer = asyncio.ensure_future(_write_frames(socket, send))
    overflow = asyncio.ensure_future(socket.overflow.wait())
    try:
        await asyncio.wait({reader, writer, overflow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, writer, overflow):
            task.cancel()
        # Both are done before the caller releases ``ws`` (lv_ws_close).
        await asyncio.gather(reader, writer, overflow, return_exceptions=True)
    if socket.overflow.is_set():
        # The writer waited on a client that does not read: close it instead.
        log.warning("closing a WebSocket: the client does not read (%d frames waiting)", socket.limit)
        close = send({"type": "websocket.close", "code": _CLOSE_POLICY, "reason": "the client does not read"})
        with contextlib.suppress(Exception):
            await asyncio.wait_for(close, _CLOSE_TIMEOUT)
    if not reader.cancelled() and reader.exception() is not None:
        log.error("carrying a WebSocket failed", exc_info=reader.exception())
    if not writer.cancelled() and writer.exception() is not None:
        # A send to a client that just went (the server's own exception for it).
        log.debug("a WebSocket send failed: %r", writer.exception())


async def _read_frames(ws: int, socket: _Socket, receive: Receive) -> None:
    """The client's frames into the library, until the client disconnects."""
    live = True
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            return
        if kind != "websocket.receive" or not live:
            continue  # a closed socket's last frames, until the server confirms
        text: Optional[str] = message.get("text")
        if text is not None:
            try:
                data, binary = text.encode("utf-8"), 0
            except UnicodeEncodeError:
                socket.deliver(_Frame(_CLOSE_INVALID_PAYLOAD, "a text frame must be UTF-8"))
                live = False
                continue
        else:
            data, binary = message.get("bytes") or b"", 1
        rc = lib.lv_ws_receive(ws, data, len(data), binary)
        if rc == LV_OK:
            continue
        live = False
        if rc == LV_ERR_BUSY:
            # The library dropped the socket, but its close frame comes only once the
            # page takes the frames already queued (perhaps a slow callback later):
            # the flooding client is closed now.
            log.warning("closing a WebSocket: %s", _lib.last_error())
            socket.deliver(_Frame(_CLOSE_POLICY, "too many frames"))
        elif rc != ErrorCode.STATE:
            why = _lib.last_error()
            log.warning("closing a WebSocket: %s", why)
            code = _CLOSE_INVALID_PAYLOAD if rc == ErrorCode.REQUEST else _CLOSE_INTERNAL
            socket.deliver(_Frame(code, why[:120]))


async def _write_frames(socket: _Socket, send: Send) -> None:
    """The library's frames for this socket out, until a close frame."""
    while True:
        frame = await socket.queue.get()
        if frame.close_code == 0:
            await send({"type": "websocket.send", "text": frame.text})
            continue
        # A close reason is at most 123 bytes on the wire.
        reason = frame.text.encode("utf-8")[:123].decode("utf-8", "ignore")
        await send({"type": "websocket.close", "code": frame.close_code, "reason": reason})
        return


# -- requests and responses


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, read up to ``limit + 1`` bytes and no further (the library
    answers 413 past ``limit``), or None when the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        if chunk:
            chunk = chunk[: limit + 1 - size]
            chunks.append(chunk)
            size += len(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)


def _target(scope: Scope) -> str:
    """The request target as the browser sent it: the full path (what the app's
    routes and tokens are written against) and the query."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    # ASGI's path is the full path; servers and routers from before that was spelled
    # out (Starlette < 0.35) strip the mount point into root_path.
    if root and not path.startswith(root):
        path = root + path
    target = urllib.parse.quote(path, safe=_PATH_SAFE)
    query: bytes = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    return target


def _request(method: str, target: str, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> _lib.LvHttpRequest:
    """``struct lv_http_request`` over ASGI's request: every header line, in order
    (``host`` and every ``cookie`` among them). The struct keeps its bytes alive."""
    lines = []
    for name, value in headers:
        if b"\n" in value or b"\r" in value or b"\n" in name or b"\r" in name:
            raise ValueError("a header holds a line break")
        lines.append(b"%s: %s\r\n" % (name, value))
    block = b"".join(lines)
    try:
        method_b, target_b = method.encode("ascii"), target.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("the method or query is not ASCII") from None
    return _lib.LvHttpRequest(
        method=method_b,
        target=target_b,
        headers=block,
        headers_len=len(block),
        body=body,
        body_len=len(body),
    )


def _response(resp: ctypes.c_void_p) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, ASGI header pairs and body of a library response (not freed here)."""
    status = int(lib.lv_response_status(resp))
    n = ctypes.c_size_t()
    ptr = lib.lv_response_headers(resp, ctypes.byref(n))
    block = ctypes.string_at(ptr, n.value) if ptr and n.value else b""
    headers = []
    for line in block.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers.append((name.strip().lower(), value.strip()))
    ptr = lib.lv_response_body(resp, ctypes.byref(n))
    body = ctypes.string_at(ptr, n.value) if ptr and n.value else b""
    return status, headers, body


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse(scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Refuses a WebSocket before accepting it: with this very response where the
    server offers the ``websocket.http.response`` extension, else with a close
    (which the server answers with 403)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        if not any(name == b"content-length" for name, _ in headers):
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})
