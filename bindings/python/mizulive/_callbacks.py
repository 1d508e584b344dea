"""The C callbacks: module-level ctypes trampolines and what they dispatch to.

The trampolines are created once and live as long as the module, so the library can
never call a collected ``CFUNCTYPE``. A page or auth hook travels through the
library's ``user_data`` as a small integer key into :data:`_objects`, never as a
pointer to a Python object; the library's drop callback removes the key.

No exception leaves a trampoline: ctypes would only print it and hand the library a
meaningless return value. A failing callback is logged (with its traceback) and
answers ``LV_ERR_CALLBACK``, so the session keeps its previous state.

With the compiled module (``_lib.speedups``), the page callbacks the library calls on
every event (mount, event, info) and the thread-exit hook are its C functions instead,
which do the same as the trampolines here without ctypes in between; close, auth and
drop keep the trampolines. A page's event and info then run in the module's
``BindingCore`` (PageBinding's base) without a Python call between the library and
the page's handler.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from . import _lib
from ._browser import BrowserSession
from ._lib import LV_ERR_CALLBACK, LV_OK, dec, enc, info_topic, lib, speedups
from .auth import AuthHook, Redirect, Request
from .errors import CallbackError, NotFound
from .page import Event, Page, Session, read_event

if TYPE_CHECKING:
    from .app import App

log = logging.getLogger("mizulive")

_objects: dict[int, Any] = {}
_ids = itertools.count(1)
_local = threading.local()

# ctypes runs each callback from a foreign thread under PyGILState_Ensure/Release,
# which creates and destroys a Python thread state every time: a large part of a
# callback's cost. One extra Ensure keeps each library thread's thread state alive
# between callbacks (and so its threading.local data); the library calls
# on_thread_exit on each host thread as it ends, which releases it there.
_keep_thread_state = ctypes.pythonapi.PyGILState_Ensure
_keep_thread_state.argtypes = []
_keep_thread_state.restype = ctypes.c_int
_release_thread_state = ctypes.pythonapi.PyGILState_Release
_release_thread_state.argtypes = [ctypes.c_int]
_release_thread_state.restype = None


def register(obj: Any) -> int:
    """Keeps ``obj`` alive under a fresh key for ``user_data``."""
    key = next(_ids)
    _objects[key] = obj
    return key


def unregister(key: int) -> None:
    """Forgets ``key`` (the library will not call back with it)."""
    _objects.pop(key, None)


def in_callback() -> bool:
    """True on a library thread while it runs one of our callbacks."""
    return getattr(_local, "busy", False) or (speedups is not None and speedups.in_callback())


class _Entered:
    """Marks the current thread as inside a callback (see :func:`in_callback`)."""

    __slots__ = ()

    def __enter__(self) -> None:
        local = _local
        if speedups is not None:
            # One thread state kept per thread, by the module that releases it.
            speedups.keep_thread_state()
        elif not getattr(local, "kept", False):
            # Inside a ctypes callback the GIL is held: this returns "locked", and
            # releasing with it later leaves the GIL to the callback around it.
            local.kept_state = _keep_thread_state()
            local.kept = True
        local.busy = True

    def __exit__(self, *exc: object) -> None:
        _local.busy = False


_entered = _Entered()


def _last_resort(where: str, exc: BaseException | None = None) -> None:
    """Logs an exception that escaped the dispatch code itself (``exc``, else the one
    being handled); never raises (if logging itself fails, nothing is left to tell)."""
    with contextlib.suppress(BaseException):
        log.error("mizulive: unexpected error in %s", where, exc_info=exc if exc is not None else True)


class _PyBindingCore:
    """PageBinding's per-event part: the event and info callbacks.

    With the compiled module, ``_speedups.BindingCore`` takes this class's place under
    :class:`PageBinding`; it runs an event or message its readers take in C and hands
    any other to this class's function of the same name."""

    __slots__ = ("app", "codec", "events", "handle", "info_fn", "topics")

    app: App
    codec: Any
    events: dict[str, Callable[..., Any]]
    handle: Callable[..., Any]
    info_fn: Callable[..., Any]
    topics: dict[str, Callable[..., Any]]

    if TYPE_CHECKING:

        def _fail(self, ctx: int, what: str | Event, exc: BaseException) -> int: ...

    def event(self, ctx: int, raw: bytes | None) -> int:
        # _run's work written out: this runs for every event.
        s: Session[Any] = Session(self.app, ctx, None, self.codec)
        e: Event | None = None
        try:
            if read_event is not None and raw:
                e = read_event(raw)
            if e is None:
                e = Event._from_raw_python(raw or b"{}")
            self.events.get(e.name, self.handle)(s, e)
            if s._dirty:
                s._write_back(ctx)
            return LV_OK
        except BaseException as exc:
            # An event that could not be read is named "handle".
            return self._fail(ctx, "handle" if e is None else e, exc)
        finally:
            s._retire()

    def info(self, ctx: int, raw: bytes | None) -> int:
        # As event(): a publish to many sessions runs this for each of them.
        topic = info_topic(ctx)
        s: Session[Any] = Session(self.app, ctx, topic, self.codec)
        try:
            msg = _lib.from_json(raw or b"null")
            (self.info_fn if topic is None else self.topics.get(topic, self.info_fn))(s, msg)
            if s._dirty:
                s._write_back(ctx)
            return LV_OK
        except BaseException as exc:
            return self._fail(ctx, "info", exc)
        finally:
            s._retire()


if TYPE_CHECKING or speedups is None:
    _BindingBase = _PyBindingCore
else:
    _BindingBase = speedups.BindingCore
    speedups.set_binding_class(_PyBindingCore)


class PageBinding(_BindingBase):
    """Runs one registered page's callbacks against its :class:`Page` instance."""

    __slots__ = ("page", "route")

    def __init__(self, app: App, route: str, page: Page[Any]) -> None:
        self.app = app
        self.route = route
        self.page = page
        cls = type(page)
        self.codec = cls._state_codec
        # Bound once: the event's and the topic's method, by name.
        self.events = {n: getattr(page, m) for n, m in cls._event_routes.items()}
        self.handle = page.handle
        self.info_fn = page.info
        self.topics = {n: getattr(page, m) for n, m in cls._topic_routes.items()}

    def mount(self, ctx: int, params: bytes | None) -> int:
        s: Session[Any] = Session(self.app, ctx, None, self.codec)
        return self._run(ctx, s, "mount", self.page.mount if self.codec is None else self._mount_typed, s)

    def _mount_typed(self, s: Session[Any]) -> None:
        self.page.mount(s)
        # A state the mount did not set starts as the dataclass's defaults (the
        # library's new state is {}), so the first render sees every field.
        s.state  # noqa: B018

    def close(self, ctx: int, reason: bytes | None) -> None:
        s: Session[Any] = Session(self.app, ctx, None, self.codec)
        try:
            self.page.close(s, dec(reason) or "")
        except BaseException:
            self._log_exception("close")
        finally:
            s._retire()

    def _run(self, ctx: int, s: Session, what: str | Event, fn: Callable[..., Any], *args: Any) -> int:
        try:
            fn(*args)
            s._finish(write_back=True)
            return LV_OK
        except BaseException as exc:
            return self._fail(ctx, what, exc)
        finally:
            s._retire()

    def _fail(self, ctx: int, what: str | Event, exc: BaseException) -> int:
        # An event is named only when it failed: most events succeed.
        if isinstance(what, Event):
            what = f"handle({what.name!r})"
        if isinstance(exc, NotFound) and what == "mount":
            # An answer, not a fault: the page GET answers 404.
            log.info("%s %s.mount: not found: %s", self.route, type(self.page).__name__, exc)
            lib.lv_set_status(ctx, 404)
            message = str(exc)
        elif isinstance(exc, CallbackError):
            log.warning("%s %s.%s failed: %s", self.route, type(self.page).__name__, what, exc)
            message = str(exc)
        else:
            self._log_exception(what, exc)
            message = f"{type(exc).__name__}: {exc}"
        # The message reaches the browser in dev mode; lv_error returns LV_ERR_CALLBACK.
        lib.lv_error(ctx, enc(message.replace("\0", " ")))
        return LV_ERR_CALLBACK

    def _log_exception(self, what: str, exc: BaseException | None = None) -> None:
        log.error(
            "%s %s.%s raised",
            self.route,
            type(self.page).__name__,
            what,
            exc_info=exc if exc is not None else True,
        )


class AuthBinding:
    """Runs the app's auth hook and turns its answer into the library's decision."""

    __slots__ = ("hook",)

    def __init__(self, hook: AuthHook) -> None:
        self.hook = hook

    def __call__(self, req: int, raw: bytes | None) -> int:
        try:
            browser = BrowserSession(
                lambda: lib.lv_auth_browser_session(req),
                lambda key, value: lib.lv_auth_browser_set(req, key, value),
                lambda key: lib.lv_auth_browser_remove(req, key),
            )
            request = dataclasses.replace(Request.from_json(_lib.from_json(raw or b"{}")), browser=browser)
            result = self.hook(request)
            if result is None or result is True:
                return LV_OK
            if result is False:
                return LV_ERR_CALLBACK
            if isinstance(result, Redirect):
                _lib.check(lib.lv_auth_redirect(req, enc(result.location, "location")))
                return LV_OK
            if isinstance(result, str):
                _lib.check(lib.lv_auth_set_user(req, enc(result, "user id")))
                return LV_OK
            raise TypeError(
                f"an auth hook returns a user id (str), None/True, False or a Redirect, not {type(result).__name__}"
            )
        except BaseException:
            log.error("auth hook %r raised; refusing the request (403)", self.hook, exc_info=True)
            return LV_ERR_CALLBACK


# -- the trampolines: typed functions, each wrapped once in its CFUNCTYPE. The wrappers
# are module globals, so they live as long as the process and the library can never
# call a collected one.


def _mount(ctx: int, params: bytes | None, user: int | None) -> int:
    try:
        with _entered:
            return int(_objects[user or 0].mount(ctx, params))
    except BaseException:
        _last_resort("on_mount")
        return LV_ERR_CALLBACK


def _event(ctx: int, raw: bytes | None, user: int | None) -> int:
    try:
        with _entered:
            return int(_objects[user or 0].event(ctx, raw))
    except BaseException:
        _last_resort("on_event")
        return LV_ERR_CALLBACK


def _info(ctx: int, raw: bytes | None, user: int | None) -> int:
    try:
        with _entered:
            return int(_objects[user or 0].info(ctx, raw))
    except BaseException:
        _last_resort("on_info")
        return LV_ERR_CALLBACK


def _close(ctx: int, reason: bytes | None, user: int | None) -> None:
    try:
        with _entered:
            _objects[user or 0].close(ctx, reason)
    except BaseException:
        _last_resort("on_close")


def _auth(req: int, raw: bytes | None, user: int | None) -> int:
    try:
        with _entered:
            return int(_objects[user or 0](req, raw))
    except BaseException:
        _last_resort("auth")
        return LV_ERR_CALLBACK


def _thread_exit(user: int | None) -> None:
    # Within this call's own Ensure/Release: releasing the kept Ensure here leaves
    # one, and the Release ctypes does on return then frees the thread state.
    try:
        local = _local
        if getattr(local, "kept", False):
            local.kept = False
            _release_thread_state(local.kept_state)
    except BaseException:
        _last_resort("thread exit")


def _drop(user: int | None) -> None:
    try:
        unregister(user or 0)
    except BaseException:
        _last_resort("drop")


on_close = _lib.CLOSE_FN(_close)
on_auth = _lib.AUTH_FN(_auth)
on_drop = _lib.DROP_FN(_drop)
if speedups is None:
    on_mount = _lib.MOUNT_FN(_mount)
    on_event = _lib.EVENT_FN(_event)
    on_info = _lib.INFO_FN(_info)
    on_thread_exit = _lib.THREAD_EXIT_FN(_thread_exit)
else:
    # The module's C functions by address; it calls the bindings in _objects.
    _addresses = speedups.bind(_objects, _last_resort)
    on_mount = _lib.MOUNT_FN(_addresses[0])
    on_event = _lib.EVENT_FN(_addresses[1])
    on_info = _lib.INFO_FN(_addresses[2])
    on_thread_exit = _lib.THREAD_EXIT_FN(_addresses[3])
