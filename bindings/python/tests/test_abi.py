"""The declarations against include/mizulive.h, and loading: MIZULIVE_LIB, the ABI check."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

import mizulive
from mizulive import _lib

HEADER = REPO / "include" / "mizulive.h"
PACKAGE_DIR = Path(mizulive.__file__).resolve().parent.parent

_SCALARS = {
    "void": None,
    "int": ctypes.c_int,
    "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64,
    "uint32_t": ctypes.c_uint32,
    "uint16_t": ctypes.c_uint16,
    "size_t": ctypes.c_size_t,
    "double": ctypes.c_double,
    "const char *": ctypes.c_char_p,
    "char *": ctypes.c_void_p,  # an output buffer (lv_app_local_addr)
    "lv_auth_fn": _lib.AUTH_FN,
    "lv_drop_fn": _lib.DROP_FN,
    "lv_log_fn": _lib.LOG_FN,
    "lv_thread_exit_fn": _lib.THREAD_EXIT_FN,
    "lv_mount_fn": _lib.MOUNT_FN,
    "lv_event_fn": _lib.EVENT_FN,
    "lv_info_fn": _lib.INFO_FN,
    "lv_close_fn": _lib.CLOSE_FN,
    "void *": ctypes.c_void_p,
}


def ctype_of(c: str) -> object:
    """The ctypes type the binding must use for C type ``c``."""
    c = " ".join(c.replace("*", " * ").split())  # "char **" -> "char * *"
    if re.fullmatch(r"(const )?struct lv_(app|ctx|auth|response|ws|test) \*", c):
        return ctypes.c_void_p
    if c == "const struct lv_page *":
        return ctypes.POINTER(_lib.LvPage)
    if c == "const struct lv_http_request *":
        return ctypes.POINTER(_lib.LvHttpRequest)
    if c == "struct lv_ws_frame *":
        return ctypes.POINTER(_lib.LvWsFrame)
    if c == "const uint8_t *":
        return ctypes.c_char_p  # bytes in, with their length
    if c == "char * *" or re.fullmatch(r"struct lv_(response|ws|test) \* \*", c):
        return ctypes.POINTER(ctypes.c_void_p)
    if c in _SCALARS:
        return _SCALARS[c]
    base = c[:-2] if c.endswith(" *") else None
    if base in _SCALARS and base not in ("void", "const char"):
        return ctypes.POINTER(_SCALARS[base])  # type: ignore[arg-type]
    raise AssertionError(f"no ctypes mapping for C type {c!r}")


def split_param(param: str) -> str:
    """``const char *topic`` -> ``const char *``."""
    m = re.fullmatch(r"(.*?[\s*])(\w+)", param.strip())
    assert m, param
    return m.group(1).strip()


def header_functions() -> dict[str, tuple[str, list[str]]]:
    text = HEADER.read_text()
    out = {}
    for m in re.finditer(r"^([\w ]+?[\s*]+)(lv_\w+)\(([^)]*)\);", text, re.M):
        ret, name, params = m.group(1).strip(), m.group(2), m.group(3).strip()
        args = [] if params in ("", "void") else [split_param(p) for p in params.split(",")]
        out[name] = (ret, args)
    return out


def test_every_header_function_is_declared_with_matching_types() -> None:
    functions = header_functions()
    assert len(functions) > 40, "the header parser found too few functions"
    assert set(functions) == set(_lib.SIGNATURES), "declarations differ from include/mizulive.h"
    for name, (ret, args) in functions.items():
        restype, argtypes = _lib.SIGNATURES[name]
        if args and args[-1] == "size_t *" and ret.endswith("*"):
            # A buffer and its length (lv_response_headers, lv_response_body): read
            # with ctypes.string_at, never as a NUL-terminated string.
            assert restype is ctypes.c_void_p, name
        else:
            assert restype is ctype_of(ret) or (ret == "const char *" and restype is ctypes.c_char_p), name
        assert [ctype_of(a) for a in args] == argtypes, name
        fn = getattr(_lib.lib, name)
        assert fn.restype is restype and fn.argtypes == argtypes, name


def test_the_page_struct_and_callback_types_match_the_header() -> None:
    text = HEADER.read_text()
    body = re.search(r"typedef struct lv_page \{(.*?)\} lv_page;", text, re.S)
    assert body
    fields = re.findall(r"^\s*(?:const char \*|lv_\w+ |void \*)(\w+);", body.group(1), re.M)
    # The header spells `template` as `template_` for C++: one field either way.
    fields = list(dict.fromkeys("template" if f == "template_" else f for f in fields))
    assert fields == [f for f, _ in _lib.LvPage._fields_]
    for name, ctype in [
        ("lv_mount_fn", _lib.MOUNT_FN),
        ("lv_event_fn", _lib.EVENT_FN),
        ("lv_info_fn", _lib.INFO_FN),
        ("lv_close_fn", _lib.CLOSE_FN),
        ("lv_drop_fn", _lib.DROP_FN),
        ("lv_auth_fn", _lib.AUTH_FN),
        ("lv_log_fn", _lib.LOG_FN),
    ]:
        m = re.search(rf"typedef (\w+) \(\*{name}\)\(([^)]*)\);", text)
        assert m, name
        ret = None if m.group(1) == "void" else ctypes.c_int
        assert ctype._restype_ is ret, name  # type: ignore[attr-defined]
        args = [ctype_of(split_param(p)) for p in m.group(2).split(",")]
        args = [ctypes.c_char_p if a is ctypes.c_char_p else a for a in args]
        assert list(ctype._argtypes_) == args, name  # type: ignore[attr-defined]


def test_the_transport_structs_match_the_header() -> None:
    text = HEADER.read_text()
    for name, struct in [("lv_http_request", _lib.LvHttpRequest), ("lv_ws_frame", _lib.LvWsFrame)]:
        body = re.search(rf"typedef struct {name} \{{(.*?)\}} {name};", text, re.S)
        assert body, name
        fields = re.findall(r"^\s*(\w[\w ]*?[\s*]+)(\w+);", body.group(1), re.M)
        assert [f for _, f in fields] == [f for f, _ in struct._fields_], name
        for (ctype, field), (_, ours) in zip(fields, struct._fields_):
            expected = ctype_of(ctype.strip())
            # The frame's text is not NUL-terminated: a plain pointer read with `len`.
            if (name, field) == ("lv_ws_frame", "data"):
                expected = ctypes.c_void_p
            assert ours is expected, f"{name}.{field}"


def test_the_header_abi_version_is_ours() -> None:
    m = re.search(r"#define LV_ABI_VERSION (\d+)", HEADER.read_text())
    assert m and int(m.group(1)) == _lib.ABI_VERSION == _lib.lib.lv_abi_version()


def test_another_abi_version_is_refused_with_a_clear_message() -> None:
    with pytest.raises(mizulive.LibraryError, match="speaks mizulive ABI version 4, but this Python package"):
        _lib.load(_lib.path, abi_version=5)


def import_with(lib: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIZULIVE_LIB": lib, "PYTHONPATH": str(PACKAGE_DIR)}
    return subprocess.run(
        [sys.executable, "-c", "import mizulive; print(mizulive.library_path)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_import_refuses_a_library_of_another_abi(tmp_path: Path) -> None:
    fake = tmp_path / "libfake.so"
    source = tmp_path / "fake.c"
    source.write_text(
        "#include <stdint.h>\nuint32_t lv_abi_version(void) { return 7; }\nint not_mizulive(void) { return 0; }\n"
    )
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(fake), str(source)], check=True, timeout=60)
    done = import_with(str(fake))
    assert done.returncode != 0
    assert "mizulive.errors.LibraryError" in done.stderr
    assert (
        f"{fake} speaks mizulive ABI version 7, but this Python package speaks version {_lib.ABI_VERSION}"
        in done.stderr
    )

    source.write_text("int not_mizulive(void) { return 0; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(fake), str(source)], check=True, timeout=60)
    done = import_with(str(fake))
    assert "is not libmizulive" in done.stderr


def test_mizulive_lib_overrides_the_search(tmp_path: Path) -> None:
    copy = tmp_path / "libmizulive-copy.so"
    shutil.copy(_lib.path, copy)
    done = import_with(str(copy))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(copy)

    # A relative path is the file it names, not a name for the system search.
    done = subprocess.run(
        [sys.executable, "-c", "import mizulive; print(mizulive.library_path)"],
        env={**os.environ, "MIZULIVE_LIB": copy.name, "PYTHONPATH": str(PACKAGE_DIR)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(copy)

    done = import_with(str(tmp_path / "missing.so"))
    assert done.returncode != 0 and "MIZULIVE_LIB=" in done.stderr and "is not a file" in done.stderr


def test_error_codes_are_the_headers_status_enum() -> None:
    body = re.search(r"typedef enum lv_status \{(.*?)\} lv_status;", HEADER.read_text(), re.S)
    assert body
    codes = {name: int(value) for name, value in re.findall(r"\bLV_(OK|ERR_\w+) = (\d+)", body.group(1))}
    ours = {("OK" if c.name == "OK" else f"ERR_{c.name}"): c.value for c in mizulive.ErrorCode}
    assert codes == ours
    assert codes["ERR_BUSY"] == 14


def test_callback_context_calls_keep_the_gil_and_waiting_calls_release_it() -> None:
    """The few functions a callback calls on every event go through a PyDLL handle
    (no GIL release and re-take); everything that can wait still releases the GIL, so
    the library's threads run Python callbacks meanwhile."""
    keeps = ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]
    for name in sorted(_lib.HOLD_GIL):
        assert name in _lib.SIGNATURES, name
        assert getattr(_lib.lib, name)._flags_ & keeps, f"{name} releases the GIL"
    for name in (
        "lv_app_wait",
        "lv_app_shutdown",
        "lv_app_start",
        "lv_app_publish",
        "lv_subscribe",
        "lv_http",
        "lv_ws_next",
        "lv_test_click",
    ):
        assert not getattr(_lib.lib, name)._flags_ & keeps, f"{name} keeps the GIL while it may wait"
