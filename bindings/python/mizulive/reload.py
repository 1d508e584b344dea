"""Restarts a Python app whenever one of its ``.py`` files changes, for development::

    python -m mizulive.reload app.py [args...]

Runs ``python app.py [args...]`` as a child process and looks at the ``.py`` files
under the app's folder (and ``--watch DIR`` folders) every 300 ms; after a change it
stops the child (SIGTERM: the app closes gracefully, as on Ctrl-C) and starts it
again. Templates need no restart: with ``dev=True`` the library reloads them and
re-renders open pages itself. Ctrl-C or SIGTERM stops the child and the watcher.

Open pages reconnect to the restarted app on their own; their sessions mount afresh
(the state lives in the process that ended).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Optional, Sequence

#: How often the files are looked at.
EVERY = 0.3
#: How long a stopping app may take before it is killed.
STOP_TIMEOUT = 10.0


def _stamps(folders: Iterable[Path]) -> dict[Path, float]:
    stamps: dict[Path, float] = {}
    for folder in folders:
        for path in folder.rglob("*.py"):
            if any(part.startswith(".") or part == "__pycache__" for part in path.parts):
                continue
            try:
                stamps[path] = path.stat().st_mtime
            except OSError:
                continue  # removed while we looked
    return stamps


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mizulive.reload", description="Run a Python app and restart it when its .py files change."
    )
    parser.add_argument("--watch", action="append", default=[], metavar="DIR", help="another folder to watch")
    parser.add_argument("script", help="the app's script")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    opts = parser.parse_args(argv)
    script = Path(opts.script)
    if not script.is_file():
        parser.error(f"{script} is not a file")
    folders = [script.resolve().parent, *(Path(d).resolve() for d in opts.watch)]
    command = [sys.executable, str(script), *opts.args]

    def stop_watching(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_watching)
    # Also when started with SIGINT ignored (a shell's background job, nohup): Python
    # then leaves it ignored, and Ctrl-C would not stop the watcher.
    signal.signal(signal.SIGINT, stop_watching)
    child = subprocess.Popen(command)
    stamps = _stamps(folders)
    try:
        while True:
            time.sleep(EVERY)
            now = _stamps(folders)
            if now == stamps:
                continue
            changed = sorted(str(p) for p in set(now) ^ set(stamps) | {p for p in now if stamps.get(p) != now[p]})
            stamps = now
            print(f"mizulive.reload: {', '.join(changed)} changed; restarting", file=sys.stderr, flush=True)
            _stop(child)
            child = subprocess.Popen(command)
    except KeyboardInterrupt:
        _stop(child)
    return child.returncode if child.returncode and child.returncode > 0 else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
