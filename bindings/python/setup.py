"""Builds libmizulive and bundles it into the package.

``pip install ./bindings/python`` runs this from the source tree: it runs
``cargo build --release`` on the crate two folders up (a no-op when the library is
already built) and copies ``target/release/libmizulive.so`` into the ``mizulive``
package, so ``import mizulive`` needs no environment variable. It also compiles
``mizulive/_speedups.c``, the binding's per-event path in C, when this machine has a
C compiler and this Python's headers; without them the package runs the same path in
Python through ctypes. The wheel is tagged for this platform (it carries a native
library) and for this Python when it carries the compiled module
(``cp311-cp311-linux_x86_64``), else for any Python 3 (``py3-none-linux_x86_64``);
``make wheel`` retags it ``manylinux_2_X`` with auditwheel.

``MIZULIVE_BUNDLE_LIB=/path/to/libmizulive.so`` bundles that file instead of running
cargo (for packagers who built the library elsewhere, and ``make wheel``).

Nothing is written into the source tree: setuptools' ``build/`` and
``mizulive.egg-info/`` go to a temporary folder that is removed when the build ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import Distribution, Extension, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LIBRARY = {"darwin": "libmizulive.dylib", "win32": "mizulive.dll"}.get(sys.platform, "libmizulive.so")


def built_library() -> Path:
    """The library to bundle: ``MIZULIVE_BUNDLE_LIB``, or a fresh cargo build."""
    given = os.environ.get("MIZULIVE_BUNDLE_LIB")
    if given:
        path = Path(given)
        if not path.is_file():
            sys.exit(f"MIZULIVE_BUNDLE_LIB={given!r} is not a file")
        return path
    manifest = REPO / "Cargo.toml"
    if not manifest.is_file():
        sys.exit(
            f"cannot build libmizulive: {manifest} not found. Install from a mizulive checkout "
            "(pip install ./bindings/python) or set MIZULIVE_BUNDLE_LIB to a built library."
        )
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    command = [cargo, "build", "--release", "--lib", "--manifest-path", str(manifest)]
    print("mizulive: " + " ".join(command), flush=True)
    try:
        # From the crate's folder, so a relative CARGO_TARGET_DIR means the same to cargo
        # as to `target` above.
        subprocess.run(command, check=True, cwd=REPO)
    except FileNotFoundError:
        if not (target / "release" / LIBRARY).is_file():
            sys.exit("cannot build libmizulive: cargo not found (install Rust from rustup.rs)")
        print("mizulive: cargo not found; bundling the library already built", flush=True)
    except subprocess.CalledProcessError as e:
        sys.exit(f"cannot build libmizulive: cargo failed with status {e.returncode}")
    return target / "release" / LIBRARY


class BuildPyWithLibrary(build_py):
    """``build_py`` plus the native library, copied next to the package's modules."""

    def run(self) -> None:
        super().run()
        source = built_library()
        dest = Path(self.build_lib) / "mizulive" / LIBRARY
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        dest.chmod(0o755)


class NativeDistribution(Distribution):
    """A distribution that carries a native library: its files install to platlib
    (where auditwheel looks for shared objects), not purelib."""

    def has_ext_modules(self) -> bool:
        return True


# The binding's per-event path in C (mizulive/_speedups.c). Optional: without a C
# compiler or this Python's headers the build goes on without it, and the package
# runs the same code in Python (ctypes), at a higher cost per event.
SPEEDUPS = Extension(
    "mizulive._speedups",
    ["mizulive/_speedups.c"],
    extra_compile_args=["-std=c11", "-O2"] if sys.platform != "win32" else [],
    optional=True,
)


class PlatformWheel(bdist_wheel):
    """A wheel for this platform: for this Python when it carries the compiled module
    (``cp311-cp311-<platform>``), else for any Python 3 (``py3-none-<platform>``)."""

    def get_tag(self) -> tuple[str, str, str]:
        python, abi, platform = super().get_tag()
        built = self.bdist_dir and any(p.suffix in (".so", ".pyd") for p in Path(self.bdist_dir).rglob("_speedups*"))
        return (python, abi, platform) if built else ("py3", "none", platform)


def scratch_folder() -> str:
    """A temporary folder for setuptools' build output, removed when this process ends
    (each PEP 517 hook runs in a process of its own)."""
    path = tempfile.mkdtemp(prefix="mizulive-build-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


SCRATCH = scratch_folder()

setup(
    distclass=NativeDistribution,
    ext_modules=[SPEEDUPS],
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
    options={
        "build": {"build_base": os.path.join(SCRATCH, "build")},
        "egg_info": {"egg_base": SCRATCH},
    },
)
