"""Packaging: the wheel of ``make wheel`` installs into a fresh virtualenv where there is
no Rust toolchain and serves the counter example; ``pip install ./bindings/python``
builds outside the source tree. Both carry the compiled per-event path
(``mizulive._speedups``) when ``MIZULIVE_EXPECT_SPEEDUPS=1`` says this machine can
build it (``make test-python`` does).

Both reuse the release build in ``target/``: the wheel bundles it as it is, and the
source install's cargo run only finds it fresh. (Within ``make test``, ``cargo test``
builds the library with the test dependencies' features after ``make lib`` did, so the
wheel test runs ``make lib`` itself before checking that ``make wheel`` reuses it.)
"""

from __future__ import annotations

import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
import zipfile
from pathlib import Path
from typing import IO, Any

from conftest import EXAMPLES, REPO, SPEEDUPS_EXPECTED

SOURCE = REPO / "bindings" / "python"
RELEASE_LIB = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "release" / "libmizulive.so"
if not RELEASE_LIB.is_absolute():
    RELEASE_LIB = REPO / RELEASE_LIB

# What a manylinux wheel may load from the system: glibc's libraries, its dynamic loader
# and libgcc_s (PEP 600; auditwheel's policy lists a few more that the library never needs).
SYSTEM_LIBS = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libgcc_s.so.1"}
SYSTEM_LOADERS = re.compile(r"ld-linux[-\w.]*\.so\.\d+")


def run(args: list[str], timeout: float, **kwargs: Any) -> str:
    """Runs a command to completion; its stdout, or a failure with all its output."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{args} still running after {timeout}s: {e.stdout!r} {e.stderr!r}") from None
    assert done.returncode == 0, f"{args} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
    out: str = done.stdout
    return out


def user_env(path: list[str]) -> dict[str, str]:
    """This environment with ``path`` as PATH and nothing that points Python or the
    binding at this checkout (MIZULIVE_*, PYTHONPATH, an active virtualenv)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MIZULIVE_", "PYTHON", "VIRTUAL_ENV", "CARGO", "RUSTUP", "RUSTC"))
    }
    env["PATH"] = os.pathsep.join(path)
    return env


def without_rust() -> list[str]:
    """PATH without every folder that holds cargo or rustc."""
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    kept = [d for d in path if not any((Path(d) / tool).exists() for tool in ("cargo", "rustc"))]
    lookup = os.pathsep.join(kept)
    assert shutil.which("cargo", path=lookup) is None and shutil.which("rustc", path=lookup) is None
    return kept


def fresh_venv(where: Path) -> Path:
    """A new virtualenv with pip; its python."""
    run([sys.executable, "-m", "venv", str(where)], timeout=120)
    return where / "bin" / "python"


def loaded_library(python: Path, cwd: Path, env: dict[str, str]) -> Path:
    """The library ``import mizulive`` finds in that interpreter."""
    out = run([str(python), "-c", "import mizulive._lib as lib; print(lib.find_library())"], 30, cwd=cwd, env=env)
    return Path(out.strip())


def loaded_speedups(python: Path, cwd: Path, env: dict[str, str]) -> bool:
    """Whether ``import mizulive`` in that interpreter runs the compiled per-event path."""
    out = run([str(python), "-c", "import mizulive._lib as lib; print(lib.speedups is not None)"], 30, cwd=cwd, env=env)
    return out.strip() == "True"


def glibc_needs(lib: Path) -> tuple[set[str], list[tuple[int, int]]]:
    """The libraries ``lib`` links and the GLIBC_x.y symbol versions it needs, read by
    binutils' objdump (a tool apart from the auditwheel that tagged the wheel)."""
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to check the wheel's platform tag"
    dump = run([objdump, "-p", str(lib)], timeout=60)
    needed = set(re.findall(r"^\s*NEEDED\s+(\S+)$", dump, re.M))
    versions = [(int(a), int(b)) for a, b in re.findall(r"\bGLIBC_(\d+)\.(\d+)", dump)]
    return needed, versions


class Server:
    """An example run by a given interpreter; its first stdout line is its URL."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.stderr_path = cwd / "server.stderr"
        self.stderr = self.stderr_path.open("w")
        self.popen = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.popen.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.popen.stdout,), daemon=True)
        self.reader.start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.put(line.rstrip("\n"))

    def errors(self) -> str:
        self.stderr.flush()
        return self.stderr_path.read_text()

    def first_line(self, timeout: float = 20.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout}s; stderr: {self.errors()}") from None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, as a service manager stops it; the exit status."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout}s after SIGTERM; stderr: {self.errors()}") from None

    def close(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self.reader.join(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.stderr.close()


def test_the_wheel_installs_without_rust_and_serves_the_counter(tmp_path: Path) -> None:
    run(["make", "-s", "--no-print-directory", "-C", str(REPO), "lib"], timeout=900)
    assert RELEASE_LIB.is_file(), f"make lib did not write {RELEASE_LIB}"
    built_at = RELEASE_LIB.stat().st_mtime_ns
    dist = tmp_path / "dist"
    run(["make", "-s", "--no-print-directory", "-C", str(REPO), "wheel", f"DIST={dist}"], timeout=600)
    assert RELEASE_LIB.stat().st_mtime_ns == built_at, "make wheel rebuilt the library it should have reused"

    [wheel] = dist.iterdir()
    arch = platform.machine()
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
        bundled = tmp_path / "libmizulive.so"
        bundled.write_bytes(z.read("mizulive/libmizulive.so"))
        compiled = [n for n in names if re.fullmatch(r"mizulive/_speedups\.[\w-]+\.so", n)]
        for name in compiled:
            (tmp_path / "_speedups.so").write_bytes(z.read(name))
    # With the compiled module the wheel is for this Python only, else for any Python 3.
    python_tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    tag = f"{python_tag}-{python_tag}" if compiled else "py3-none"
    assert len(compiled) <= 1 and (compiled or not SPEEDUPS_EXPECTED), sorted(names)
    m = re.fullmatch(rf"mizulive-[\w.]+-{tag}-manylinux_2_(\d+)_{arch}\.whl", wheel.name)
    assert m, wheel.name
    claimed = int(m.group(1))
    # The package at the wheel's root (platlib), its type hints and the library with it.
    assert {"mizulive/__init__.py", "mizulive/py.typed", "mizulive/libmizulive.so"} <= names, sorted(names)
    assert not [n for n in names if n.endswith(".c")], sorted(names)
    assert "Root-Is-Purelib: false" in info and f"Tag: {tag}-manylinux_2_{claimed}_{arch}" in info, info
    assert bundled.read_bytes() == RELEASE_LIB.read_bytes()
    # The tag is true: the library (and the compiled module) load only system libraries
    # a manylinux platform has, and no glibc symbol newer than 2.<claimed>.
    for native in [bundled, *([tmp_path / "_speedups.so"] if compiled else [])]:
        needed, versions = glibc_needs(native)
        assert {lib for lib in needed if not SYSTEM_LOADERS.fullmatch(lib)} <= SYSTEM_LIBS, (native, needed)
        assert versions and max(versions) <= (2, claimed), (native, claimed, max(versions))

    # A user's machine: a fresh virtualenv, no Rust toolchain, no MIZULIVE_LIB, outside
    # the checkout, no package index.
    home = tmp_path / "user"
    home.mkdir()
    python = fresh_venv(home / "venv")
    env = user_env([str(python.parent), *without_rust()])
    run([str(python), "-m", "pip", "install", "-q", "--no-index", str(wheel)], timeout=180, cwd=home, env=env)
    assert loaded_library(python, home, env).parent == next((home / "venv").glob("lib/python*/site-packages/mizulive"))
    assert loaded_speedups(python, home, env) == bool(compiled)

    server = Server([str(python), str(EXAMPLES / "counter.py")], home, {**env, "MIZULIVE_ADDR": "127.0.0.1:0"})
    try:
        line = server.first_line()
        m = re.fullmatch(r"counter listening on (http://127\.0\.0\.1:\d+)/counter", line)
        assert m, line
        with urllib.request.urlopen(m.group(1) + "/counter", timeout=10) as page:
            assert page.status == 200
            html = page.read().decode()
        assert '<div id="lv-root" data-lv>' in html and '<strong id="count">0</strong>' in html, html
        with urllib.request.urlopen(m.group(1) + "/_live/runtime.js", timeout=10) as runtime:
            assert runtime.status == 200
        assert server.stop() == 0, server.errors()
        assert "Traceback" not in server.errors()
    finally:
        server.close()


def tree(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under ``root``: files with their size and mtime, folders as None."""
    found: dict[str, tuple[int, int] | None] = {}
    for path in root.rglob("*"):
        stat = path.lstat()
        found[str(path.relative_to(root))] = None if path.is_dir() else (stat.st_size, stat.st_mtime_ns)
    return found


def test_a_source_install_builds_outside_the_source_tree(tmp_path: Path) -> None:
    before = tree(SOURCE)
    python = fresh_venv(tmp_path / "venv")
    env = user_env([str(python.parent), *os.environ.get("PATH", "").split(os.pathsep)])
    # The warm target/: cargo only checks that the library is fresh.
    env["CARGO_TARGET_DIR"] = str(RELEASE_LIB.parent.parent)
    run([str(python), "-m", "pip", "install", "-q", "./bindings/python"], timeout=900, cwd=REPO, env=env)

    after = tree(SOURCE)
    added = sorted(set(after) - set(before))
    changed = sorted(p for p in before if p in after and before[p] != after[p])
    assert not added and not changed, f"the install wrote into {SOURCE}: added {added}, changed {changed}"
    lib = loaded_library(python, tmp_path, user_env(without_rust()))
    assert lib.is_relative_to(tmp_path / "venv"), lib
    assert lib.read_bytes() == RELEASE_LIB.read_bytes()
    if SPEEDUPS_EXPECTED:
        assert loaded_speedups(python, tmp_path, user_env(without_rust()))
