"""Finds and loads ``libmizulive``, checks its ABI and declares every C function.

Every function of ``include/mizulive.h`` gets its ``argtypes`` and ``restype`` here
(``tests/test_abi.py`` checks the list against the header): ctypes' default
``restype`` is a C ``int``, which would truncate pointers.

The library is loaded with :class:`ctypes.CDLL`, which releases the GIL around each
call, so a call that waits (``lv_app_wait``, ``lv_app_shutdown``) lets the library's
threads run Python callbacks meanwhile. The functions in :data:`HOLD_GIL` are the
exception: a callback calls them several times per event (the state, the marks, the
event's fields), they only read or write the calling thread's own callback context and
never wait, so they are called through a ``PyDLL`` handle of the same library, which
keeps the GIL: releasing and taking it back cost more than the call itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import sys
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Collection

from .errors import LibraryError, MizuliveError

#: The ABI version this binding speaks (``LV_ABI_VERSION`` in ``mizulive.h``).
ABI_VERSION = 4

LV_OK = 0
LV_ERR_NOT_FOUND = 9
LV_ERR_CALLBACK = 10
LV_ERR_REENTRANT = 11
LV_ERR_TIMEOUT = 12
LV_ERR_BUSY = 14
LV_ERR_REQUEST = 15

if sys.platform == "darwin":
    LIBRARY_NAME = "libmizulive.dylib"
elif sys.platform == "win32":
    LIBRARY_NAME = "mizulive.dll"
else:
    LIBRARY_NAME = "libmizulive.so"

# Callback types. Opaque handles (lv_app*, lv_ctx*, lv_auth*) are plain void pointers.
MOUNT_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)
EVENT_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)
INFO_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)
CLOSE_FN = CFUNCTYPE(None, c_void_p, c_char_p, c_void_p)
DROP_FN = CFUNCTYPE(None, c_void_p)
AUTH_FN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_char_p, c_void_p)
THREAD_EXIT_FN = CFUNCTYPE(None, c_void_p)


class LvPage(Structure):
    """``struct lv_page``."""

    _fields_ = [
        ("template", c_char_p),
        ("regions", c_char_p),
        ("layout", c_char_p),
        ("on_mount", MOUNT_FN),
        ("on_event", EVENT_FN),
        ("on_info", INFO_FN),
        ("on_close", CLOSE_FN),
        ("user_data", c_void_p),
        ("drop", DROP_FN),
    ]


class LvHttpRequest(Structure):
    """``struct lv_http_request``: a request the host's web server received. The
    header lines and the body are bytes with their lengths (``c_char_p`` only carries
    the pointer; the struct keeps the ``bytes`` alive)."""

    _fields_ = [
        ("method", c_char_p),
        ("target", c_char_p),
        ("headers", c_char_p),
        ("headers_len", c_size_t),
        ("body", c_char_p),
        ("body_len", c_size_t),
    ]


class LvWsFrame(Structure):
    """``struct lv_ws_frame``: a frame for one of the host's WebSockets. ``data`` is
    not NUL-terminated, hence a plain pointer read with ``len``."""

    _fields_ = [
        ("tag", c_uint64),
        ("close_code", c_uint16),
        ("data", c_void_p),
        ("len", c_size_t),
    ]


_app = c_void_p
_ctx = c_void_p
_auth = c_void_p
_resp = c_void_p
_ws = c_void_p
_test = c_void_p
_str = c_char_p

#: name -> (restype, argtypes), in the header's order.
SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "lv_last_error": (_str, []),
    "lv_errstr": (_str, [c_int]),
    "lv_version": (_str, []),
    "lv_abi_version": (c_uint32, []),
    "lv_app_new": (_app, [_str]),
    "lv_app_free": (None, [_app]),
    "lv_app_add_view": (c_int, [_app, _str, _str]),
    "lv_app_register_page": (c_int, [_app, _str, POINTER(LvPage)]),
    "lv_app_set_auth": (c_int, [_app, AUTH_FN, c_void_p, DROP_FN]),
    "lv_app_set_thread_exit": (c_int, [_app, THREAD_EXIT_FN, c_void_p, DROP_FN]),
    "lv_app_start": (c_int, [_app, _str]),
    "lv_app_serve": (c_int, [_app, _str]),
    "lv_app_wait": (c_int, [_app, c_int64]),
    "lv_app_local_addr": (c_int, [_app, c_void_p, c_size_t]),
    "lv_app_shutdown": (c_int, [_app]),
    "lv_app_publish": (c_int, [_app, _str, _str]),
    "lv_app_session_count": (c_size_t, [_app]),
    "lv_app_render": (c_int, [_app, _str, _str, POINTER(c_void_p)]),
    "lv_string_free": (None, [c_void_p]),
    # Deprecated names of the lv_app_* functions above, kept by the library.
    "lv_register_page": (c_int, [_app, _str, POINTER(LvPage)]),
    "lv_start": (c_int, [_app, _str]),
    "lv_serve": (c_int, [_app, _str]),
    "lv_wait": (c_int, [_app, c_int64]),
    "lv_local_addr": (c_int, [_app, c_void_p, c_size_t]),
    "lv_shutdown": (c_int, [_app]),
    "lv_publish": (c_int, [_app, _str, _str]),
    "lv_session_count": (c_size_t, [_app]),
    "lv_render": (c_int, [_app, _str, _str, POINTER(c_void_p)]),
    "lv_get_state": (_str, [_ctx]),
    "lv_set_state": (c_int, [_ctx, _str]),
    "lv_state_cache": (c_void_p, [_ctx, POINTER(c_int)]),
    "lv_set_state_cache": (c_int, [_ctx, c_void_p, DROP_FN]),
    "lv_get": (_str, [_ctx, _str]),
    "lv_get_int": (c_int, [_ctx, _str, POINTER(c_int64)]),
    "lv_get_double": (c_int, [_ctx, _str, POINTER(c_double)]),
    "lv_get_bool": (c_int, [_ctx, _str, POINTER(c_int)]),
    "lv_get_str": (_str, [_ctx, _str]),
    "lv_set": (c_int, [_ctx, _str, _str]),
    "lv_set_int": (c_int, [_ctx, _str, c_int64]),
    "lv_set_double": (c_int, [_ctx, _str, c_double]),
    "lv_set_bool": (c_int, [_ctx, _str, c_int]),
    "lv_set_str": (c_int, [_ctx, _str, _str]),
    "lv_remove": (c_int, [_ctx, _str]),
    "lv_len": (c_int, [_ctx, _str, POINTER(c_size_t)]),
    "lv_pointer_append": (c_int, [c_void_p, c_size_t, _str]),
    "lv_mark": (c_int, [_ctx, _str]),
    "lv_mark_all": (c_int, [_ctx]),
    "lv_subscribe": (c_int, [_ctx, _str]),
    "lv_unsubscribe": (c_int, [_ctx, _str]),
    "lv_flash": (c_int, [_ctx, _str, _str]),
    "lv_send_after": (c_int, [_ctx, c_uint64, _str, POINTER(c_uint64)]),
    "lv_cancel_timer": (c_int, [_ctx, c_uint64]),
    "lv_redirect": (c_int, [_ctx, _str]),
    "lv_navigate": (c_int, [_ctx, _str, c_int]),
    "lv_set_title": (c_int, [_ctx, _str]),
    "lv_set_status": (c_int, [_ctx, c_int]),
    "lv_not_found": (c_int, [_ctx]),
    "lv_focus": (c_int, [_ctx, _str]),
    "lv_scroll": (c_int, [_ctx, _str, c_int]),
    "lv_error": (c_int, [_ctx, _str]),
    "lv_session_id": (_str, [_ctx]),
    "lv_user_id": (_str, [_ctx]),
    "lv_params": (_str, [_ctx]),
    "lv_param": (_str, [_ctx, _str]),
    "lv_event_name": (_str, [_ctx]),
    "lv_event_get": (_str, [_ctx, _str]),
    "lv_event_count": (c_int, [_ctx, _str, POINTER(c_size_t)]),
    "lv_event_get_at": (_str, [_ctx, _str, c_size_t]),
    "lv_event_type": (_str, [_ctx]),
    "lv_event_target": (_str, [_ctx]),
    "lv_event_field": (_str, [_ctx]),
    "lv_event_key": (_str, [_ctx]),
    "lv_event_json": (_str, [_ctx]),
    "lv_info_topic": (_str, [_ctx]),
    "lv_set_log_callback": (c_int, [LOG_FN, c_void_p, DROP_FN]),
    "lv_browser_id": (_str, [_ctx]),
    "lv_browser_session": (_str, [_ctx]),
    "lv_browser_set": (c_int, [_ctx, _str, _str]),
    "lv_browser_remove": (c_int, [_ctx, _str]),
    "lv_auth_browser_session": (_str, [_auth]),
    "lv_auth_browser_set": (c_int, [_auth, _str, _str]),
    "lv_auth_browser_remove": (c_int, [_auth, _str]),
    "lv_auth_set_user": (c_int, [_auth, _str]),
    "lv_auth_redirect": (c_int, [_auth, _str]),
    "lv_http": (c_int, [_app, POINTER(LvHttpRequest), POINTER(_resp)]),
    "lv_response_status": (c_uint16, [_resp]),
    # Not NUL-terminated: a pointer read with its length (ctypes.string_at).
    "lv_response_headers": (c_void_p, [_resp, POINTER(c_size_t)]),
    "lv_response_body": (c_void_p, [_resp, POINTER(c_size_t)]),
    "lv_response_free": (None, [_resp]),
    "lv_ws_adopt": (c_int, [_app, POINTER(LvHttpRequest), c_int, c_char_p, c_size_t]),
    "lv_ws_open": (c_int, [_app, POINTER(LvHttpRequest), c_uint64, POINTER(_ws), POINTER(_resp)]),
    "lv_ws_receive": (c_int, [_ws, c_char_p, c_size_t, c_int]),
    "lv_ws_close": (None, [_ws]),
    "lv_ws_next": (c_int, [_app, c_uint32, POINTER(LvWsFrame)]),
    "lv_scaffold_write": (c_int, [_str, _str, _str, _str]),
    "lv_test_open": (c_int, [_app, _str, _str, POINTER(_test)]),
    "lv_test_close": (None, [_test]),
    "lv_test_visit": (c_int, [_test, _str]),
    "lv_test_click": (c_int, [_test, _str]),
    "lv_test_focus": (c_int, [_test, _str]),
    "lv_test_blur": (c_int, [_test, _str]),
    "lv_test_submit": (c_int, [_test, _str, _str]),
    "lv_test_change": (c_int, [_test, _str, _str]),
    "lv_test_key": (c_int, [_test, _str, _str, _str]),
    "lv_test_event": (c_int, [_test, _str]),
    "lv_test_next_push": (c_int, [_test, c_uint32, POINTER(c_void_p)]),
    "lv_test_refute_push": (c_int, [_test, c_uint32]),
    "lv_test_html": (c_int, [_test, _str, POINTER(c_void_p)]),
    "lv_test_text": (c_int, [_test, _str, POINTER(c_void_p)]),
    "lv_test_region": (c_int, [_test, _str, POINTER(c_void_p)]),
    "lv_test_title": (c_int, [_test, POINTER(c_void_p)]),
    "lv_test_path": (c_int, [_test, POINTER(c_void_p)]),
    "lv_test_state": (c_int, [_test, POINTER(c_void_p)]),
    "lv_test_reply": (c_int, [_test, POINTER(c_void_p)]),
    "lv_test_flash": (c_int, [_test, POINTER(c_void_p)]),
}


#: Functions called without releasing the GIL (see the module's docstring): each one
#: works on the calling thread's callback context (or on nothing) and returns without
#: waiting on another thread, a lock another thread holds while it runs Python, or I/O.
HOLD_GIL: frozenset[str] = frozenset(
    (
        "lv_last_error",
        "lv_errstr",
        "lv_abi_version",
        "lv_get_state",
        "lv_set_state",
        "lv_get",
        "lv_get_int",
        "lv_get_double",
        "lv_get_bool",
        "lv_get_str",
        "lv_set",
        "lv_set_int",
        "lv_set_double",
        "lv_set_bool",
        "lv_set_str",
        "lv_remove",
        "lv_len",
        "lv_mark",
        "lv_mark_all",
        "lv_set_title",
        "lv_set_status",
        "lv_error",
        "lv_session_id",
        "lv_user_id",
        "lv_params",
        "lv_param",
        "lv_event_name",
        "lv_event_get",
        "lv_event_count",
        "lv_event_get_at",
        "lv_event_type",
        "lv_event_target",
        "lv_event_field",
        "lv_event_key",
        "lv_event_json",
        "lv_info_topic",
        "lv_browser_id",
        "lv_string_free",
    )
)


def candidates() -> list[Path]:
    """Where the library is looked for, in order (``MIZULIVE_LIB`` wins outright)."""
    here = Path(__file__).resolve().parent
    found = [here / LIBRARY_NAME]
    # A source checkout (bindings/python/mizulive): the crate's own build.
    repo = here.parent.parent.parent
    if (repo / "Cargo.toml").is_file():
        found += [repo / "target" / "release" / LIBRARY_NAME, repo / "target" / "debug" / LIBRARY_NAME]
    return found


def find_library() -> str:
    """The path (or soname) of the library to load."""
    override = os.environ.get("MIZULIVE_LIB")
    if override:
        path = Path(override)
        if not path.is_file():
            raise LibraryError(f"MIZULIVE_LIB={override!r} is not a file")
        # Absolute: dlopen of a bare name would search the system paths instead.
        return str(path.resolve())
    for path in candidates():
        if path.is_file():
            return str(path)
    system = ctypes.util.find_library("mizulive")
    if system:
        return system
    looked = ", ".join(str(p) for p in candidates())
    raise LibraryError(
        f"cannot find {LIBRARY_NAME} (looked in {looked} and the system library path); "
        "reinstall the package (pip install ./bindings/python) or set MIZULIVE_LIB to its path"
    )


def load(path: str | None = None, abi_version: int = ABI_VERSION) -> ctypes.CDLL:
    """Loads the library at ``path`` (default: :func:`find_library`), checks its ABI
    and declares every function. Raises :class:`LibraryError` on any mismatch."""
    path = path or find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise LibraryError(f"cannot load {path}: {e}") from e
    try:
        abi = lib.lv_abi_version
    except AttributeError:
        raise LibraryError(f"{path} is not libmizulive (it has no lv_abi_version)") from None
    abi.argtypes = []
    abi.restype = c_uint32
    found = abi()
    if found != abi_version:
        raise LibraryError(
            f"{path} speaks mizulive ABI version {found}, but this Python package speaks "
            f"version {abi_version}: rebuild the library (cargo build --release) and "
            "reinstall the package (pip install ./bindings/python), or point MIZULIVE_LIB "
            "at a matching library"
        )
    # The same library (dlopen hands back the handle it already has), called without
    # releasing the GIL.
    holding = ctypes.PyDLL(path)
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            fn = getattr(holding if name in HOLD_GIL else lib, name)
        except AttributeError:
            raise LibraryError(f"{path} lacks {name}: it is older than this package") from None
        fn.restype = restype
        fn.argtypes = argtypes
        setattr(lib, name, fn)
    return lib


lib = load()
path: str = lib._name


def _load_speedups() -> Any:
    """``mizulive._speedups`` (``_speedups.c``) set up for ``lib``, or ``None`` when it
    was not built (no C compiler or Python headers at install time), does not load,
    or ``MIZULIVE_PURE_PYTHON`` is set (to anything but ``0``). Without it every call
    goes through ctypes: the same behaviour, at a higher cost per event."""
    if os.environ.get("MIZULIVE_PURE_PYTHON", "0") != "0":
        return None
    try:
        from . import _speedups
    except ImportError:
        return None
    names = ("lv_get_state", "lv_set_state", "lv_mark", "lv_info_topic", "lv_state_cache", "lv_set_state_cache")
    _speedups.setup(*(ctypes.cast(getattr(lib, name), c_void_p).value or 0 for name in names))
    return _speedups


#: The compiled per-event path, or ``None`` (see :func:`_load_speedups`).
speedups = _load_speedups()


def last_error() -> str:
    """This thread's last library error message."""
    msg = lib.lv_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def check(rc: int) -> None:
    """Raises :class:`MizuliveError` with the thread's last error unless ``rc`` is OK.
    Call it right after the failing call, on the same thread."""
    if rc != LV_OK:
        raise MizuliveError(rc, last_error())


def enc(text: str, what: str = "string") -> bytes:
    """UTF-8 bytes for a C string argument; a NUL would silently cut it short."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    if "\0" in text:
        raise ValueError(f"{what} must not contain NUL characters")
    return text.encode("utf-8")


def dec(raw: bytes | None) -> str | None:
    """A library string as ``str`` (``None`` stays ``None``)."""
    return None if raw is None else raw.decode("utf-8", "replace")


# Built once: json.dumps with non-default arguments builds an encoder on every call.
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _make_c_encode() -> Callable[[object], str] | None:
    """The C encoder behind ``_encoder`` without ``JSONEncoder.encode``'s Python layers
    (which rebuild it on every call), or ``None`` when this Python has none or it does
    not take the arguments ``JSONEncoder`` gives it here. A fresh circular-reference
    memo per call: a shared one could see another thread's objects."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    e = _encoder
    # One encoder per thread, made on its first use: its memo of the containers being
    # written is empty again after every value it wrote whole, and is dropped with
    # the encoder when a value fails halfway.
    mine = threading.local()

    def encode(value: object) -> str:
        c = getattr(mine, "encoder", None)
        if c is None:
            c = mine.encoder = make(
                {},
                e.default,
                json.encoder.encode_basestring,
                None,
                e.key_separator,
                e.item_separator,
                e.sort_keys,
                e.skipkeys,
                e.allow_nan,
            )
        try:
            return "".join(c(value, 0))
        except BaseException:
            mine.encoder = None
            raise

    probe = {"a": [1, -2.5, 'é\n"', None, True], "b": {}}
    try:
        same = encode(probe) == e.encode(probe)
    except (TypeError, ValueError):
        same = False
    return encode if same else None


_encode: Callable[[object], str] = _make_c_encode() or _encoder.encode

# The decoder's C scanner: the library hands over compact UTF-8 JSON, so ``json.loads``'
# encoding detection and whitespace matching are not needed.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def from_json(raw: bytes) -> Any:
    """Decodes one JSON value written by the library."""
    if _loads is not None:
        try:
            return _loads(raw)
        except ValueError:
            pass  # json reads it (a lone surrogate, deep nesting) or says where it is wrong
    text = raw.decode("utf-8")
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        return json.loads(text)  # raises the JSONDecodeError that says where
    if end != len(text):
        return json.loads(text)
    return value


_INT_MIN, _INT_END = -(2**63), 2**64
_LEAVES = frozenset((str, float, bool, type(None)))
_LEAVES_AND_INT = _LEAVES | {int}
_STR = frozenset((str,))
_INT = frozenset((int,))
_DICT = frozenset((dict,))
_SEQUENCES = frozenset((list, tuple))
_CONTAINERS = (dict, list, tuple)
_CONTAINER_TYPES = frozenset(_CONTAINERS)


def _check_ints(ints: Collection[int]) -> None:
    # min and max run in C.
    if ints and not (min(ints) >= _INT_MIN and max(ints) < _INT_END):
        big = next(v for v in ints if not _INT_MIN <= v < _INT_END)
        raise ValueError(f"integer {big} does not fit in 64 bits")


def _check(value: object) -> None:
    """Refuses what ``json`` would change on the way instead of failing: object keys
    that are not strings (``{7: 1}`` would come back as ``{"7": 1}``) and integers
    the library cannot hold exactly (it keeps 64-bit integers, else floats).

    The state is checked a level of nesting at a time, every container of a level at
    once: their keys' and values' types are gathered by ``map`` and ``chain``, which
    run in C, so a list of a thousand records costs a few passes in C, not a Python
    loop per record (which cost more than encoding them)."""
    # The common state, a small dict of scalars, without the walk's sets.
    if type(value) is dict and len(value) <= 16:
        for k, v in value.items():
            if type(k) is not str:
                break
            t = type(v)
            if t is int:
                if not _INT_MIN <= v < _INT_END:
                    break
            elif t not in _LEAVES:
                break
        else:
            return
    if not isinstance(value, _CONTAINERS):
        if isinstance(value, int) and not isinstance(value, bool):
            _check_ints((int(value),))
        return
    level: list[Any] = [value]
    # Containers already checked, by id: one the state holds twice is checked once,
    # and a state that holds itself ends the walk (json then names the circular
    # reference).
    seen: set[int] = set()
    while level:
        items: Any
        if len(level) == 1:
            one = level[0]
            if id(one) in seen:
                return
            seen.add(id(one))
            if isinstance(one, dict):
                _check_keys((one,))
                items = one.values()
            else:
                items = one
        else:
            ids = set(map(id, level))
            if len(ids) < len(level) or not seen.isdisjoint(ids):
                by_id = dict(zip(map(id, level), level))
                ids -= seen
                level = list(map(by_id.__getitem__, ids))
            seen |= ids
            kinds = set(map(type, level))
            if kinds <= _DICT:
                dicts, sequences = level, []
            elif kinds <= _SEQUENCES:
                dicts, sequences = [], level
            else:
                dicts = [c for c in level if isinstance(c, dict)]
                sequences = [c for c in level if not isinstance(c, dict)]
            if dicts:
                _check_keys(dicts)
            items = list(chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(sequences)))
        types = set(map(type, items))
        if int in types:
            _check_ints(items if types == _INT else [v for v in items if type(v) is int])
        if types <= _LEAVES_AND_INT:
            return
        # What is not a leaf: containers make the next level; an int of a subclass
        # (an IntEnum) is checked as an int; anything else is json's to refuse.
        level = [v for v in items if type(v) not in _LEAVES_AND_INT]
        if not types - _LEAVES_AND_INT <= _CONTAINER_TYPES:
            _check_ints([int(v) for v in level if isinstance(v, int) and not isinstance(v, bool)])
            level = [v for v in level if isinstance(v, _CONTAINERS)]


def _check_keys(dicts: Collection[Any]) -> None:
    """Refuses an object key that is not a string in any of ``dicts``."""
    if set(map(type, chain.from_iterable(dicts))) <= _STR:
        return
    keys = [k for k in chain.from_iterable(dicts) if not isinstance(k, str)]
    if keys:  # not `next(..., None)`: the key may be None
        raise TypeError(f"object key {keys[0]!r} is not a string (JSON object keys are strings)")


def to_json(value: object, what: str = "value") -> bytes:
    """Compact JSON bytes for the library. Raises ``TypeError``/``ValueError`` (with
    ``what`` in the message) for values JSON cannot carry or would alter: NaN and
    infinities, non-string object keys, integers beyond 64 bits."""
    if _dumps is not None:
        # Plain JSON types only; anything else (and every error) takes the path below.
        fast = _dumps(value)
        if fast is not None:
            return fast
    return checked_json(value, what)


def checked_json(value: object, what: str = "value") -> bytes:
    """:func:`to_json` without the compiled encoder: for a value it declined."""
    try:
        _check(value)
        text = _encode(value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{what} is not JSON-serializable: {e}") from e
    return text.encode("utf-8")


def read_state(ctx: int) -> Any:
    """The session's state through ctypes and json, or ``None`` when ``lv_get_state``
    fails (``last_error()`` says why)."""
    raw = lib.lv_get_state(ctx)
    return None if raw is None else from_json(raw)


def _store_nothing(ctx: int, state: object) -> int | None:
    return None


# The calls a callback makes on every event: through the compiled module when there
# is one, else through ctypes (which keeps the GIL for these, see HOLD_GIL) and json.
#: The session's state decoded, or None when lv_get_state fails; with the compiled
#: module, ValueError for the rare text its reader leaves to :func:`read_state`.
load_state: Callable[[int], Any] = speedups.load_state if speedups else read_state
#: Encodes and writes the state: the status, or None for a state the compiled encoder
#: leaves to :func:`checked_json` and ``set_state`` (always, without the module).
store_state: Callable[[int, object], int | None] = speedups.store_state if speedups else _store_nothing
set_state: Callable[[int, bytes], int] = speedups.set_state if speedups else lib.lv_set_state
mark_region: Callable[[int, bytes], int] = speedups.mark if speedups else lib.lv_mark


def _info_topic(ctx: int) -> str | None:
    return dec(lib.lv_info_topic(ctx))


#: The topic of the message an info callback got, or None (a timer's).
info_topic: Callable[[int], str | None] = speedups.info_topic if speedups else _info_topic
_dumps: Callable[[object], bytes | None] | None = speedups.dumps if speedups else None
_loads: Callable[[bytes], Any] | None = speedups.loads if speedups else None
