"""Builds libmizulive and bundles it into the package.

``pip install ./bindings/python`` runs this from the source tree: it runs
``cargo build --release`` on the crate two folders up (a no-op when the library is
already built) and copies ``target/release/libmizulive.so`` into the ``mizulive``
package, so ``import mizulive`` needs no environment variable. The wheel is tagged
for this platform (it carries a native library) but for any Python 3 (the binding is
ctypes, not a C extension).

``MIZULIVE_BUNDLE_LIB=/path/to/libmizulive.so`` bundles that file instead of running
cargo (for packagers who built the library elsewhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
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


class PlatformWheel(bdist_wheel):
    """A wheel for this platform and any Python 3: ``py3-none-<platform>``."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
