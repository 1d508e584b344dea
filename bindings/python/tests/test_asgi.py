"""``App.asgi()``: the counter inside Starlette and FastAPI, served by a real uvicorn on
a free loopback port, driven by real HTTP and WebSocket clients. The app opens no
port of its own: every request goes through the site."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import signal
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import counter
import pytest
import uvicorn
from conftest import EXAMPLES, SECRET, ProbePage
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from test_run import Proc, assert_clean
from websockets.exceptions import ConnectionClosed, InvalidStatus

import mizulive
from mizulive.testing import PROTOCOL_VERSION, Client

CSS = "body { color: rebeccapurple; }\n"


class _Server(uvicorn.Server):
    """uvicorn, saying when it serves."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.contextmanager
def serving(site: Any, lifespan: str = "auto") -> Iterator[str]:
    """Serves ``site`` with uvicorn on a free loopback port (in a thread); yields its
    base URL and stops the server at the end."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(site, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        assert server.ready.wait(10), "uvicorn did not start within 10 s"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop within 10 s"


@pytest.fixture
def counter_app() -> Iterator[mizulive.App]:
    with mizulive.App(views=counter.VIEWS, secret=SECRET) as app:
        counter.register(app)
        yield app


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.css").write_text(CSS)
    return tmp_path


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello from the site")


def starlette_site(app: mizulive.App, static: Path, middleware: list[Middleware] | None = None) -> Starlette:
    """As the docs show it: the site's routes, static files, then the app at ``/``."""
    return Starlette(
        routes=[
            Route("/hello", hello),
            Mount("/static", app=StaticFiles(directory=static)),
            Mount("/", app=app.asgi()),
        ],
        middleware=middleware,
    )


def count_in(html: str) -> int:
    m = re.search(r'<strong id="count">(-?\d+)</strong>', html)
    assert m, html
    return int(m.group(1))


def assert_live_counter(client: Client) -> None:
    """The page, then a click over the WebSocket that comes back as a patch."""
    with client.live("/counter") as live:
        reply = live.event("inc", values={"by": 3})
        assert reply.ok
        assert count_in(reply.regions["stats"]) == 3
        assert "inc 3 → 3" in reply.regions["log"]


def test_the_counter_lives_inside_starlette_next_to_the_sites_routes(
    counter_app: mizulive.App, static_dir: Path
) -> None:
    with serving(starlette_site(counter_app, static_dir)) as url:
        client = Client(url)
        page = client.get("/counter")
        assert page.status == 200 and page.boot["token"]
        assert page.headers["Content-Type"].startswith("text/html")
        assert "lv_bid=" in (page.headers["Set-Cookie"] or "")
        assert count_in(page.text) == 0
        assert client.get("/hello").text == "hello from the site"
        css = client.get("/static/app.css")
        assert css.status == 200 and css.text == CSS
        runtime = client.get("/_live/runtime.js")
        assert runtime.status == 200 and "javascript" in runtime.headers["Content-Type"]
        # A path neither the site nor a page serves: the library's 404.
        assert client.get("/nowhere").status == 404
        assert_live_counter(client)


def test_the_counter_lives_inside_fastapi(counter_app: mizulive.App, static_dir: Path) -> None:
    api = FastAPI()

    @api.get("/api/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    api.mount("/static", StaticFiles(directory=static_dir))
    api.mount("/", counter_app.asgi())
    with serving(api) as url:
        client = Client(url)
        ping_resp = client.get("/api/ping")
        assert ping_resp.status == 200 and ping_resp.text == '{"pong":"yes"}'
        assert client.get("/static/app.css").text == CSS
        assert client.get("/counter").status == 200
        assert_live_counter(client)


def test_routes_may_point_at_the_app_instead_of_a_catch_all(counter_app: mizulive.App) -> None:
    live = counter_app.asgi()
    site = Starlette(routes=[Route("/counter", live), Mount("/_live", app=live), Route("/hello", hello)])
    with serving(site) as url:
        client = Client(url)
        assert client.get("/hello").status == 200
        assert_live_counter(client)
        page = client.get("/counter")
        form = page.form(button="inc")
        [inc] = [b for b in form.buttons if b[1].startswith("inc")]
        done = client.submit(form, button=inc)
        assert done.status == 303 and done.location == "/counter"
        # Starlette's own 404: nothing routes there.
        assert client.get("/elsewhere").text == "Not Found"


class Recorder:
    """A plain ASGI middleware: records what passes and turns away requests without
    the site's header, as an auth or rate-limit middleware would."""

    seen: list[tuple[str, str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            Recorder.seen.append((scope["type"], scope["path"]))
            headers = dict(scope["headers"])
            if scope["type"] == "http" and headers.get(b"x-site-key") != b"open-sesame":
                await PlainTextResponse("no key", status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def test_the_sites_middleware_sees_and_guards_the_pages(counter_app: mizulive.App, static_dir: Path) -> None:
    Recorder.seen = []
    site = starlette_site(counter_app, static_dir, middleware=[Middleware(Recorder)])
    with serving(site) as url:
        client = Client(url)
        assert client.get("/counter").status == 401
        assert counter_app.session_count == 0, "the page was served around the middleware"
        page = client.get("/counter", headers={"X-Site-Key": "open-sesame"})
        assert page.status == 200
        with client.connect("/counter", page.boot["token"]) as live:
            assert live.event("inc").ok
    assert ("http", "/counter") in Recorder.seen
    assert ("websocket", "/_live/websocket") in Recorder.seen


def test_a_cross_origin_websocket_is_refused(counter_app: mizulive.App, static_dir: Path) -> None:
    with serving(starlette_site(counter_app, static_dir)) as url:
        client = Client(url)
        page = client.get("/counter")
        with pytest.raises(InvalidStatus) as refused:
            client.connect("/counter", page.boot["token"], origin="http://evil.example")
        assert refused.value.response.status_code == 403
        # The same page from its own origin joins.
        with client.connect("/counter", page.boot["token"]) as live:
            assert live.event("inc").ok


def test_a_form_post_needs_its_csrf_token(counter_app: mizulive.App, static_dir: Path) -> None:
    with serving(starlette_site(counter_app, static_dir)) as url:
        client = Client(url)
        page = client.get("/counter")
        data = page.form(button="inc").data(button=("_lv_click", "inc?by=1"))
        assert client.post("/counter", [(k, v) for k, v in data if k != "_csrf"]).status == 403
        done = client.post("/counter", data)
        assert done.status == 303 and done.location == "/counter"
        assert count_in(client.get("/counter").text) == 1


def post_head(port: int, length: int) -> bytes:
    return (
        f"POST /counter HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_a_body_over_max_form_bytes_is_413_before_the_rest_arrives(static_dir: Path) -> None:
    with mizulive.App(views=counter.VIEWS, secret=SECRET, max_form_bytes=4096) as app:
        counter.register(app)
        with serving(starlette_site(app, static_dir)) as url:
            port = int(url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                # 100 MB announced, 64 KiB sent: were the whole body awaited, no answer
                # would come.
                conn.sendall(post_head(port, 100_000_000) + b"a" * 65536)
                conn.settimeout(5)
                head = conn.recv(4096)
            assert head.startswith(b"HTTP/1.1 413 "), head[:200]
            # Up to the limit a body is a form like any other (here one without a token).
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(post_head(port, 4096) + b"a" * 4096)
                assert conn.recv(4096).startswith(b"HTTP/1.1 403 ")
            assert Client(url).get("/counter").status == 200


class Blocking(counter.Counter):
    """A counter whose events wait until the test lets them go."""

    release = threading.Event()

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        Blocking.release.wait(10)
        super().handle(s, e)


def test_a_client_flooding_frames_is_closed(static_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    Blocking.release = threading.Event()
    options: dict[str, Any] = {"mailbox": 1, "events_per_second": 100000, "event_burst": 100000}
    with mizulive.App(views=counter.VIEWS, secret=SECRET, **options) as app:
        app.page("/counter", Blocking)
        with serving(starlette_site(app, static_dir)) as url, caplog.at_level(logging.WARNING, "mizulive.asgi"):
            live = Client(url).live("/counter")
            try:
                # The first event holds the page; the next fill its mailbox, then the
                # frames waiting for it: the socket is closed.
                with pytest.raises(ConnectionClosed):  # noqa: PT012 (sending or reading finds it closed)
                    for _ in range(5000):
                        live.send_event("inc")
                    live.wait_for(lambda f: False, timeout=10, what="the close")
            finally:
                Blocking.release.set()
                live.close()
            assert "the client sends too fast" in caplog.text
            # Everyone else is served as before.
            Blocking.release.set()
            with Client(url).live("/counter") as other:
                assert other.event("inc").ok


class Pushy(ProbePage):
    """Every message published on "tick" changes a large region: a patch of 64 KB."""

    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "extra": ""}
        s.subscribe("tick")

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        pass

    def info(self, s: mizulive.Session, msg: Any) -> None:
        s.state["extra"] = f"{msg}:" + "x" * 65536
        s.mark("extra")


class RawSocket:
    """A WebSocket client on a bare TCP socket that reads only when told to: a client
    that stops reading, down to the kernel (a small receive buffer)."""

    def __init__(self, url: str, cookie: str) -> None:
        port = int(url.rsplit(":", 1)[1])
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /_live/websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {url}\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = self.sock.recv(1)
            assert byte, f"closed during the handshake: {head!r}"
            head += byte
        assert head.startswith(b"HTTP/1.1 101 "), head

    def send_text(self, text: str) -> None:
        data = text.encode()
        assert len(data) < 65536
        mask = os.urandom(4)
        size = bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack("!H", len(data))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(b"\x81" + size + mask + masked)

    def _exactly(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            assert chunk, "the connection ended without a close frame"
            out += chunk
        return out

    def read_until_close(self) -> int:
        """Reads (and drops) frames up to the server's close frame; its code."""
        while True:
            first, second = self._exactly(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", self._exactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self._exactly(8))[0]
            payload = self._exactly(size)
            if first & 0x0F == 0x8:
                code: int = struct.unpack("!H", payload[:2])[0]
                return code


def test_a_client_that_does_not_read_is_closed(views: Path, caplog: pytest.LogCaptureFixture) -> None:
    options: dict[str, Any] = {"outbound_queue": 32, "mailbox": 100000}
    with mizulive.App(views=views, secret=SECRET, **options) as app:
        app.page("/probe", Pushy)
        with serving(app.asgi(), lifespan="off") as url, caplog.at_level(logging.WARNING, "mizulive.asgi"):
            client = Client(url)
            page = client.get("/probe")
            raw = RawSocket(url, "; ".join(f"{k}={v}" for k, v in client.cookies.items()))
            try:
                token = page.boot["token"]
                join = {"t": "join", "v": PROTOCOL_VERSION, "token": token, "url": url + "/probe", "seq": 0}
                raw.send_text(json.dumps(join))
                # The frames wait in the kernel's buffers, then in uvicorn's, then in
                # the site's queue, until that is full.
                deadline = time.monotonic() + 20
                sent = 0
                while "the client does not read" not in caplog.text:
                    assert time.monotonic() < deadline, f"still open after {sent} patches of 64 KB"
                    for _ in range(10):
                        app.publish("tick", sent)
                        sent += 1
                    time.sleep(0.01)
                # What the client has not read yet, then the close.
                assert raw.read_until_close() == 1008
            finally:
                raw.sock.close()
            # Everyone else is served as before.
            assert client.get("/probe").status == 200


def test_closing_the_app_closes_its_sockets_and_ends_the_dispatcher(
    counter_app: mizulive.App, static_dir: Path
) -> None:
    with serving(starlette_site(counter_app, static_dir)) as url:
        client = Client(url)
        with client.live("/counter") as live:
            assert live.event("inc").ok
            dispatcher = counter_app.asgi().dispatcher_thread()
            assert dispatcher is not None and dispatcher.is_alive()
            counter_app.close()
            assert not dispatcher.is_alive()
            # The socket was told the server is going away, then closed.
            close = live.next("close", timeout=5)
            assert close["reason"] == "shutdown" and close["reconnect"] is True
            with pytest.raises(ConnectionClosed):
                live.wait_for(lambda f: False, timeout=5, what="the end")
        assert client.get("/counter").status == 503
        assert not [t for t in threading.enumerate() if t.name.startswith("mizulive-ws")]


def test_as_the_servers_own_app_its_lifespan_closes_the_app() -> None:
    app = mizulive.App(views=counter.VIEWS, secret=SECRET)
    try:
        counter.register(app)
        with serving(app.asgi(), lifespan="on") as url:
            # The lifespan's startup started the dispatcher before any socket.
            dispatcher = app.asgi().dispatcher_thread()
            assert dispatcher is not None and dispatcher.is_alive()
            assert_live_counter(Client(url))
        assert app.closed
        assert not dispatcher.is_alive()
    finally:
        app.close()


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (Linux: its socket inodes in /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
            if m:
                inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads listening sockets from /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_asgi_example_serves_the_counter_from_the_sites_own_port(sig: signal.Signals) -> None:
    proc = Proc([str(EXAMPLES / "asgi.py")])
    try:
        line = proc.line()
        m = re.fullmatch(r"counter listening on (http://127\.0\.0\.1:(\d+))/counter", line)
        assert m, line
        assert listening_ports(proc.popen.pid) == {int(m.group(2))}, "a port besides the site's"
        client = Client(m.group(1))
        assert client.get("/hello").text.startswith("hello from the site's own route")
        assert client.get("/static/app.css").text == (EXAMPLES / "static" / "app.css").read_text()
        page = client.get("/counter")
        assert page.status == 200 and 'id="lv-root"' in page.text and 'data-lv-click="inc"' in page.text
        with client.live("/counter") as live:
            reply = live.event("inc", values={"by": 2})
            assert count_in(reply.regions["stats"]) == 2
            proc.popen.send_signal(sig)
            with pytest.raises(ConnectionClosed):
                live.wait_for(lambda f: False, timeout=5, what="the close")
        code, _, err, took = proc.finish()
        assert code == 0, err
        assert took < 5
        assert_clean(err)
    finally:
        proc.close()
