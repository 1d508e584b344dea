"""Library logs into :mod:`logging`.

The library hands each record to :func:`_log` on a thread of its own (never a socket
thread). A record of target ``mizulive::session`` goes to the logger
``mizulive.lib.session``; another crate's target ``x::y`` to ``mizulive.lib.x.y``.
Levels map to :mod:`logging`'s (error, warning, info, debug; trace is level 5) and
filter twice: in the library (``MIZULIVE_LOG``, default ``info``), then in the
logger. A record naming a session or a route carries it as ``record.session`` and
``record.route`` too (the message keeps it, for the plain formatters).

Before the interpreter shuts down, :func:`uninstall` takes the sink back and waits
until the library has dropped it, so no record arrives while Python finalizes.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading

from . import _lib
from ._lib import lib

_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}
_loggers: dict[str, logging.Logger] = {}
_lock = threading.Lock()
# Sink key -> set once the library dropped that sink (no record comes after it).
_dropped: dict[int, threading.Event] = {}
_keys = itertools.count(1)
_current: int | None = None


def _logger(target: str) -> logging.Logger:
    logger = _loggers.get(target)
    if logger is None:
        parts = [p for p in target.split("::") if p]
        if parts and parts[0] == "mizulive":
            parts = parts[1:]
        logger = logging.getLogger(".".join(["mizulive.lib", *parts]))
        _loggers[target] = logger
    return logger


def _fields(message: str) -> dict[str, str] | None:
    """The fields the library appends to a message as `` key=value`` that a handler
    may want apart: ``session`` (the session id) and ``route``."""
    fields: dict[str, str] | None = None
    rest = message
    while True:
        head, sp, last = rest.rpartition(" ")
        key, eq, value = last.partition("=")
        if not sp or not eq or not value or key not in ("session", "route"):
            return fields
        if fields is None:
            fields = {}
        fields[key] = value
        rest = head


def _log(level: int, target: bytes | None, message: bytes | None, user: int | None) -> None:
    # A log record must never take the library down: nothing escapes.
    with contextlib.suppress(BaseException):
        logger = _logger((target or b"mizulive").decode("utf-8", "replace"))
        lvl = _LEVELS.get(level, logging.INFO)
        if logger.isEnabledFor(lvl):
            text = (message or b"").decode("utf-8", "replace")
            logger.log(lvl, "%s", text, extra=_fields(text))


def _drop(user: int | None) -> None:
    with contextlib.suppress(BaseException):
        done = _dropped.pop(user or 0, None)
        if done is not None:
            done.set()


_log_fn = _lib.LOG_FN(_log)
_drop_fn = _lib.DROP_FN(_drop)


def install() -> None:
    """Routes the library's logs to :mod:`logging` (idempotent)."""
    global _current
    with _lock:
        if _current is not None:
            return
        key = next(_keys)
        _dropped[key] = threading.Event()
        rc = lib.lv_set_log_callback(_log_fn, key, _drop_fn)
        if rc != _lib.LV_OK:
            _dropped.pop(key, None)
            _lib.check(rc)
        _current = key


def uninstall(timeout: float = 2.0) -> None:
    """Gives the library's logs back to stderr and waits (up to ``timeout`` seconds)
    until the last record was delivered."""
    global _current
    with _lock:
        key, _current = _current, None
        if key is None:
            return
        done = _dropped.get(key)
        lib.lv_set_log_callback(_lib.LOG_FN(), None, _lib.DROP_FN())
    if done is not None:
        done.wait(timeout)
