"""Exceptions and status codes of the mizulive binding."""

from __future__ import annotations

import contextlib
import enum


class ErrorCode(enum.IntEnum):
    """The library's status codes (``LV_OK`` and ``LV_ERR_*`` in ``mizulive.h``)."""

    OK = 0
    NULL = 1
    UTF8 = 2
    JSON = 3
    CONFIG = 4
    PAGE = 5
    TEMPLATE = 6
    IO = 7
    STATE = 8
    NOT_FOUND = 9
    CALLBACK = 10
    REENTRANT = 11
    TIMEOUT = 12
    BUFFER = 13
    BUSY = 14
    REQUEST = 15
    POINTER = 16
    PANIC = 99


class MizuliveError(Exception):
    """A library call failed.

    ``code`` is the library's status (an :class:`ErrorCode` when known) and
    ``message`` the library's own explanation of the failure.
    """

    def __init__(self, code: int, message: str) -> None:
        with contextlib.suppress(ValueError):
            code = ErrorCode(code)
        self.code: ErrorCode | int = code
        self.message = message
        name = code.name if isinstance(code, ErrorCode) else str(code)
        super().__init__(f"{message} ({name})" if message else name)


class LibraryError(ImportError):
    """``libmizulive`` could not be found or loaded, or speaks another ABI version."""


class CallbackError(Exception):
    """Raise it in a page callback to fail the callback on purpose.

    The session keeps the state it had before the callback, the browser gets an error
    reply carrying ``message`` (shown in dev mode only), and the log gets one warning
    line without a traceback. Any other exception fails the callback the same way but
    is logged with its traceback.
    """


class NotFound(CallbackError):
    """Raise it in :meth:`Page.mount` when what the route names does not exist: the page
    GET answers 404 Not Found (with ``message`` in dev mode) instead of 500, no
    session is kept, and the log gets one info line. For another status, call
    :meth:`Session.set_status` in ``mount`` and then raise :class:`CallbackError`.
    """

    def __init__(self, message: str = "not found") -> None:
        super().__init__(message)
