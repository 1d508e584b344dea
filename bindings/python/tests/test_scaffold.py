"""``python -m mizulive new``: the Python app it writes passes its own ``make test``
and serves both pages as ``make run`` does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

LIMIT = 120  # seconds for a command of the new app's


def new_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mizulive", "new", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )


def test_a_new_python_app_passes_its_tests_and_serves_both_pages(tmp_path: Path) -> None:
    made = new_app(tmp_path, "board")
    assert made.returncode == 0, made.stderr
    assert "make run" in made.stdout and "make test" in made.stdout
    app = tmp_path / "board"
    for name in ("README.md", "Makefile", "app.py", "test_app.py", "views/pages/counter/index.html"):
        assert (app / name).is_file(), name
    assert "# board" in (app / "README.md").read_text()

    env = {k: v for k, v in os.environ.items() if not k.startswith("MIZULIVE_") and k != "PYTEST_ADDOPTS"}
    tested = subprocess.run(
        ["make", "test", f"PYTHON={sys.executable}"], cwd=app, capture_output=True, text=True, timeout=LIMIT, env=env
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout, tested.stdout

    server = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=app,
        env={**env, "MIZULIVE_ADDR": "127.0.0.1:0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()  # printed once it listens; EOF if it died
        found = re.search(r"http://[^/\s]+", banner)
        assert found, banner
        url = found.group(0)
        for path, needle in (("/counter", '<strong id="count">0</strong>'), ("/list", 'id="items"')):
            with urllib.request.urlopen(url + path, timeout=10) as page:
                assert page.status == 200
                assert needle in page.read().decode()
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("Board",), "must start with a lowercase letter"),
        (("board", "--lang", "rust"), 'unknown language "rust"'),
    ],
)
def test_new_refuses_a_bad_name_or_language_saying_why(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    made = new_app(tmp_path, *args)
    assert made.returncode == 2
    assert says in made.stderr
    assert not any(tmp_path.iterdir()), "nothing written"
