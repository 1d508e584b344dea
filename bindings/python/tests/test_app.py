"""The App's life: options, start/close, threads, two apps, rendering, logs."""

from __future__ import annotations

import ctypes
import gc
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET, ProbePage, Signal

import mizulive
from mizulive.testing import Client


class Counter(ProbePage):
    def mount(self, s: mizulive.Session) -> None:
        s.state = {"count": 0, "extra": ""}
        s.subscribe("ticks")

    def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
        s.state["count"] += e.int("by", 1)
        s.mark("main")

    def info(self, s: mizulive.Session, msg: Any) -> None:
        s.state["count"] += msg["n"]
        s.state["extra"] = msg.get("extra", "")
        s.mark("main", "extra")


def refuses_connections(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return True
    return False


def test_bad_options_and_pages_raise_with_the_library_message(views: Path) -> None:
    with pytest.raises(mizulive.MizuliveError, match="colour") as err:
        mizulive.App(views=views, colour="blue")
    assert err.value.code == mizulive.ErrorCode.CONFIG
    with mizulive.App(views=views, secret=SECRET) as app:
        with pytest.raises(mizulive.MizuliveError) as err:
            app.page("/x", type("Missing", (mizulive.Page,), {"template": "nope/index"}))
        assert err.value.code == mizulive.ErrorCode.TEMPLATE and "nope/index" in err.value.message
        with pytest.raises(mizulive.MizuliveError) as err:
            app.page("no-slash", Counter)
        assert err.value.code == mizulive.ErrorCode.PAGE
        with pytest.raises(ValueError, match="NUL"):
            app.page("/a\0b", Counter)


def test_start_close_and_the_context_manager(views: Path) -> None:
    with mizulive.App(views=views, secret=SECRET) as app:
        app.page("/probe", Counter)
        with pytest.raises(mizulive.MizuliveError) as err:
            app.address  # noqa: B018 (not started yet)
        assert err.value.code == mizulive.ErrorCode.STATE
        address = app.start("127.0.0.1:0")
        assert address == app.address and app.url == f"http://{address}"
        assert not address.endswith(":0") and app.running
        with pytest.raises(mizulive.MizuliveError, match="already"):
            app.start("127.0.0.1:0")
        assert Client(app.url).get("/probe").status == 200
        assert app.session_count == 1
        assert not app.wait(0.05)
    assert app.closed and not app.running and app.wait(0)
    assert refuses_connections(address)
    app.close()  # idempotent
    with pytest.raises(mizulive.MizuliveError, match="closed"):
        app.publish("t", {})


def test_start_reads_mizulive_addr(views: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIZULIVE_ADDR", "127.0.0.1:0")
    with mizulive.App(views=views, secret=SECRET) as app:
        app.start()
        assert app.address.startswith("127.0.0.1:")


def test_a_busy_port_is_an_io_error(make_app: Any) -> None:
    first = make_app()
    second = make_app(start=False)
    with pytest.raises(mizulive.MizuliveError) as err:
        second.start(first.address)
    assert err.value.code == mizulive.ErrorCode.IO


def test_run_returns_when_another_thread_closes_the_app(make_app: Any) -> None:
    app = make_app(start=False)
    app.page("/probe", Counter)
    app.start("127.0.0.1:0")
    ran = threading.Thread(target=app.run, kwargs={"banner": None})
    ran.start()
    assert Client(app.url).get("/probe").status == 200
    app.close()
    ran.join(5)
    assert not ran.is_alive()


def test_close_from_inside_a_callback(make_app: Any) -> None:
    class Quitter(Counter):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            s.app.close()  # cannot wait for itself: closes from another thread

    app = make_app(start=False)
    app.page("/probe", Quitter)
    app.start("127.0.0.1:0")
    with Client(app.url).live("/probe") as live:
        live.event("quit")
    assert app.wait(5)
    assert app._closed.wait(5)


def test_close_while_other_threads_call_in(views: Path) -> None:
    # No counting in the binding orders the calls: the library keeps the app alive
    # for calls in flight, and each call either works or says the app is closed.
    app = mizulive.App(views=views, secret=SECRET)
    app.start("127.0.0.1:0")
    started = threading.Barrier(5)
    outcomes: list[str] = []

    def call_in(app: mizulive.App) -> None:
        started.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                app.publish("t", {"n": 1})
                app.wait(0)
            except mizulive.MizuliveError as e:
                outcomes.append(e.code.name if isinstance(e.code, mizulive.ErrorCode) else str(e.code))
                return
        outcomes.append("never closed")

    threads = [threading.Thread(target=call_in, args=(app,)) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait(5)
    app.close()
    for t in threads:
        t.join(15)
    assert outcomes == ["STATE"] * 4
    del app, threads
    gc.collect()  # frees the closed app's handle


def test_publish_from_many_python_threads(make_app: Any) -> None:
    app = make_app(start=False)
    app.page("/probe", Counter)
    app.start("127.0.0.1:0")
    client = Client(app.url)
    threads, per_thread = 8, 25
    with client.live("/probe") as a, client.live("/probe") as b:

        def publish(i: int) -> None:
            for _ in range(per_thread):
                app.publish("ticks", {"n": 1, "extra": f"thread {i}"})

        workers = [threading.Thread(target=publish, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(10)
        total = threads * per_thread
        for live in (a, b):
            live.wait_for(lambda f: f.get("t") == "patch" and f"count={total} " in f["regions"].get("main", ""))


def test_two_apps_in_one_process_stay_apart(make_app: Any) -> None:
    seen = Signal()

    class Tagged(Counter):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        def info(self, s: mizulive.Session, msg: Any) -> None:
            seen.put(self.tag)
            super().info(s, msg)

    one, two = make_app(start=False), make_app(start=False)
    one.page("/probe", Tagged("one"))
    two.page("/probe", Tagged("two"))
    one.start("127.0.0.1:0")
    two.start("127.0.0.1:0")
    assert one.address != two.address
    with Client(one.url).live("/probe") as a, Client(two.url).live("/probe") as b:
        two.publish("ticks", {"n": 5})
        assert "count=5 " in b.next("patch")["regions"]["main"]
        one.publish("ticks", {"n": 2})
        assert "count=2 " in a.next("patch")["regions"]["main"]
        address = one.address
        one.close()
        assert refuses_connections(address)
        assert b.event("inc").ok  # the other app still serves
    assert seen.values == ["two", "one"]


def test_render_without_a_session(make_app: Any) -> None:
    app = make_app(start=False)
    html = app.render(
        "partials/probe/main.html",
        {"state": {"count": 3, "text": "<b>"}, "flash": {}, "params": {}},
    )
    assert html == "count=3 text=&lt;b&gt; flash= room= user="
    with pytest.raises(mizulive.MizuliveError) as err:
        app.render("partials/missing.html")
    assert err.value.code == mizulive.ErrorCode.TEMPLATE


def test_library_logs_reach_logging(make_app: Any) -> None:
    records = Signal()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.put(record)

    handler = Collect()
    logger = logging.getLogger("mizulive.lib")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        app = make_app()
        found = records.wait_for(
            lambda rs: any(app.address in r.getMessage() for r in rs)  # type: ignore[attr-defined]
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    record = next(r for r in found if app.address in r.getMessage())  # type: ignore[attr-defined]
    assert record.name == "mizulive.lib.app" and record.levelno == logging.INFO
    assert "listening on" in record.getMessage()


def test_versions(make_app: Any) -> None:
    assert mizulive.__version__ == "0.1.0"
    assert mizulive.library_version.count(".") == 2
    assert mizulive.ABI_VERSION == 4
    assert Path(mizulive.library_path).is_file()


def interpreter_thread_states() -> int:
    """How many Python thread states the interpreter holds (its C API, read under
    the GIL through a PyDLL handle of our own)."""
    api = ctypes.PyDLL(None)
    api.PyInterpreterState_Main.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
    api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
    api.PyThreadState_Next.argtypes = [ctypes.c_void_p]
    api.PyThreadState_Next.restype = ctypes.c_void_p
    count, state = 0, api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Main())
    while state:
        count += 1
        state = api.PyThreadState_Next(state)
    return count


def test_closed_apps_leave_no_python_thread_states_behind(views: Path) -> None:
    def serve_and_close() -> None:
        with mizulive.App(views=views, secret=SECRET, host_threads=3) as app:
            app.page("/probe", Counter)
            app.start("127.0.0.1:0")
            client = Client(app.url)
            for _ in range(6):  # mounts, spread over the host threads
                assert client.get("/probe").status == 200

    serve_and_close()  # the process-wide log thread keeps its state: count after it
    before = interpreter_thread_states()
    for _ in range(4):
        serve_and_close()
    assert interpreter_thread_states() == before


def test_the_built_in_server_serves_a_static_folder(tmp_path: Path, views: Path) -> None:
    static = tmp_path / "public"
    (static / "css").mkdir(parents=True)
    (static / "css" / "app.css").write_text("body { color: teal; }\n")
    (tmp_path / "secret.txt").write_text("not for the web")
    with mizulive.App(views=views, secret=SECRET, static=static) as app:
        app.start("127.0.0.1:0")
        client = Client(app.url)
        css = client.get("/static/css/app.css")
        assert css.status == 200 and css.text == "body { color: teal; }\n"
        assert client.get("/static/missing.css").status == 404
        assert client.get("/static/../secret.txt").status == 404
        assert client.get("/static/%2e%2e/secret.txt").status == 404
    with mizulive.App(views=views, secret=SECRET, static=static, static_prefix="/assets/") as app:
        app.start("127.0.0.1:0")
        assert Client(app.url).get("/assets/css/app.css").status == 200


def test_static_prefix_without_a_folder_is_refused(views: Path) -> None:
    with pytest.raises(ValueError, match="static_prefix needs static"):
        mizulive.App(views=views, secret=SECRET, static_prefix="/assets/")
