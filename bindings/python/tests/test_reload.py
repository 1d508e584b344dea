"""python -m mizulive.reload: an edited .py file restarts the app; Ctrl-C stops both."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from conftest import SECRET

APP = """
import mizulive

VERSION = 1


class Probe(mizulive.Page):
    template = "probe/index"
    regions = {"main": "probe/main", "extra": "probe/extra"}


app = mizulive.App(views=VIEWS, secret=SECRET)
app.page("/", Probe)
app.run("127.0.0.1:0", banner="v" + str(VERSION) + " listening on {url}")
"""


def _lines(stream: object, out: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)


def _wait_for(lines: queue.Queue[str], prefix: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"no line starting {prefix!r} within {timeout} s; got {seen!r}")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_an_edited_script_restarts_and_ctrl_c_stops_it(views: Path, tmp_path: Path) -> None:
    app_py = tmp_path / "app.py"
    source = APP.replace("VIEWS", repr(str(views))).replace("SECRET", repr(SECRET))
    app_py.write_text(source)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mizulive.reload", str(app_py)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        # Started as a shell starts a background job (SIGINT ignored): Ctrl-C must
        # still stop it.
        preexec_fn=_ignore_sigint,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        first = _wait_for(lines, "v1 listening on ").rsplit(" ", 1)[1]
        with urllib.request.urlopen(first + "/", timeout=5) as resp:
            assert resp.status == 200

        app_py.write_text(source.replace("VERSION = 1", "VERSION = 2"))
        later = time.time() + 5  # newer than the first write even on a coarse clock
        os.utime(app_py, (later, later))
        second = _wait_for(lines, "v2 listening on ").rsplit(" ", 1)[1]
        with urllib.request.urlopen(second + "/", timeout=5) as resp:
            assert resp.status == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
