"""Processes: Ctrl-C and SIGTERM stop ``app.run()`` cleanly, and an app left open is
closed before the interpreter exits."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import EXAMPLES

import mizulive
from mizulive.testing import Client

PACKAGE_DIR = Path(mizulive.__file__).resolve().parent.parent


class Proc:
    """A child Python whose output is read by threads, so waits never block on a pipe."""

    def __init__(self, args: list[str], stdin: bool = False, ignore_sigint: bool = False, **env: str) -> None:
        full_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(PACKAGE_DIR), str(EXAMPLES)]),
            "MIZULIVE_ADDR": "127.0.0.1:0",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.popen = subprocess.Popen(
            [sys.executable, *args],
            env=full_env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As a shell starts a background job: SIGINT ignored.
            preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.out, True), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.err, False), daemon=True),
        ]
        for r in self.readers:
            r.start()

    def _read(self, pipe: Any, into: list[str], queued: bool) -> None:
        for line in pipe:
            into.append(line)
            if queued:
                self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 10.0) -> str:
        """The next stdout line."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line within {timeout}s; stderr: {''.join(self.err)}") from None

    def send(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text)
        self.popen.stdin.flush()

    def finish(self, timeout: float = 10.0) -> tuple[int, str, str, float]:
        """Waits for the exit; returns the code, all stdout, all stderr, and the wait."""
        start = time.monotonic()
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"still running after {timeout}s; stderr: {''.join(self.err)}") from None
        took = time.monotonic() - start
        self.close()
        return code, "".join(self.out), "".join(self.err), took

    def close(self) -> None:
        """Kills the process if it still runs, and closes its pipes."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        for r in self.readers:
            r.join(5)
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.close()


def assert_clean(err: str) -> None:
    for bad in ("Traceback", "Exception ignored", "Fatal Python error", "panicked"):
        assert bad not in err, err


@pytest.mark.parametrize(
    ("sig", "ignored"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "sigterm", "sigint-in-a-background-job"],
)
def test_the_counter_example_stops_promptly_and_cleanly(procs: list[Proc], sig: signal.Signals, ignored: bool) -> None:
    proc = Proc([str(EXAMPLES / "counter.py")], ignore_sigint=ignored)
    procs.append(proc)
    line = proc.line()
    m = re.fullmatch(r"counter listening on (http://127\.0\.0\.1:\d+)/counter", line)
    assert m, line
    client = Client(m.group(1))
    with client.live("/counter") as live:
        assert live.event("inc").ok
        proc.popen.send_signal(sig)
        # The open socket is told the server is going away.
        close = live.next("close", timeout=5)
        assert close["reason"] == "shutdown" and close["reconnect"] is True
    code, _, err, took = proc.finish()
    assert code == 0, err
    assert took < 5
    assert_clean(err)
    assert "stopping" in err


def test_a_signal_the_moment_the_banner_appears_stops_cleanly(procs: list[Proc]) -> None:
    # The banner means ready: a supervisor (or test) may stop the app as soon as it reads
    # it. Repeated, since the signal must land in the gap a late handler would leave.
    for _ in range(10):
        proc = Proc([str(EXAMPLES / "counter.py")])
        procs.append(proc)
        assert proc.line().startswith("counter listening on ")
        proc.popen.send_signal(signal.SIGTERM)
        code, _, err, _ = proc.finish()
        assert code == 0, (code, err)
        assert_clean(err)


SLOW_PAGE = """
import sys, threading, time
from pathlib import Path
import mizulive

class Slow(mizulive.Page):
    template = "counter/index"
    regions = {"stats": "counter/stats"}

    def mount(self, s):
        s.state = {"count": 0, "log": []}

    def handle(self, s, e):
        print("handling", flush=True)
        time.sleep(0.5)
        s.state["count"] += 1
        s.mark("stats")

    def close(self, s, reason):
        print("closed", reason, flush=True)

app = mizulive.App(views=Path(sys.argv[1]), secret="x" * 32)
app.page("/counter", Slow)
"""


def test_ctrl_c_during_a_slow_callback_lets_it_finish(procs: list[Proc]) -> None:
    script = SLOW_PAGE + "app.run(banner='ready {url}')\n"
    proc = Proc(["-c", script, str(EXAMPLES / "views")])
    procs.append(proc)
    url = proc.line().split()[1]
    live = Client(url).live("/counter")
    ref = live.send_event("inc")
    assert proc.line() == "handling"
    proc.popen.send_signal(signal.SIGINT)
    # The callback in flight finishes and its reply still goes out before the close.
    assert live.reply(ref).ok
    live.close()
    code, out, err, took = proc.finish()
    assert code == 0 and took < 5, err
    assert "closed shutdown" in out
    assert_clean(err)


def test_an_app_left_open_is_closed_at_interpreter_exit(procs: list[Proc]) -> None:
    script = SLOW_PAGE + textwrap.dedent("""
        app.start("127.0.0.1:0")
        print("ready", app.url, flush=True)
        sys.stdin.readline()   # the test connects, then lets the script end
        print("leaving", flush=True)
    """)
    proc = Proc(["-c", script, str(EXAMPLES / "views")], stdin=True)
    procs.append(proc)
    url = proc.line().split()[1]
    with Client(url).live("/counter"):
        proc.send("\n")
        code, out, err, took = proc.finish()
    assert code == 0 and took < 5, err
    assert out.splitlines()[-2:] == ["leaving", "closed shutdown"]
    assert_clean(err)


def test_an_uncaught_exception_still_exits_cleanly(procs: list[Proc]) -> None:
    script = SLOW_PAGE + "app.start('127.0.0.1:0')\nraise SystemExit('bye: ' + app.url)\n"
    proc = Proc(["-c", script, str(EXAMPLES / "views")])
    procs.append(proc)
    code, _, err, took = proc.finish()
    assert code == 1 and "bye: http://127.0.0.1:" in err and took < 5
    assert_clean(err)
