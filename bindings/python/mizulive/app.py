"""The :class:`App`: options, pages, the auth hook, and the server's life."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar, overload

from . import _callbacks, _lib, _logbridge, _views
from ._lib import LV_ERR_TIMEOUT, LV_OK, check, enc, lib
from .asgi import DEFAULT_MAX_FORM_BYTES, DEFAULT_OUTBOUND_QUEUE, ASGIApp
from .auth import AuthHook
from .errors import ErrorCode, MizuliveError
from .page import Page

__all__ = ["App"]

log = logging.getLogger("mizulive")

if TYPE_CHECKING:
    from . import testing

P = TypeVar("P", bound="Page[Any]")

# App states. Calls are allowed while OPEN or CLOSING (lv_app_shutdown runs callbacks that
# may publish). The handle is never freed while the App object lives: the library
# keeps a shut-down app valid, and frees it when the App is garbage (see close()), so
# no thread can be about to call in and no call needs counting.
_OPEN, _CLOSING, _CLOSED = range(3)

# Every app not yet closed (kept alive until then), so interpreter exit can close it
# before finalizing.
_open_apps: set[App] = set()


class App:
    """A mizulive application: a views folder, pages, and (once started) a server.

    ``views`` is the folder with ``layouts/``, ``pages/`` and ``partials/`` (a relative
    path is taken from the current directory; dev mode reloads it on change). To ship
    the views inside a package, pass its resources, which also work from a zip file
    or a wheel: ``views=importlib.resources.files("myapp") / "views"``. A dict of
    template name (``"pages/counter/index.html"``) to source works too. ``static`` is a
    folder whose files the app serves at ``static_prefix``: ``/static/app.css`` is
    ``static/app.css``. The other keyword arguments are the
    library's options (``secret``, ``redis``, ``host_threads``, ``grace_ms``,
    ``allowed_origins``, ``metrics``, ... as listed in ``docs/c-api.md``); an unknown
    one raises :class:`MizuliveError`. Left out, ``secret`` and ``redis`` come from the
    ``MIZULIVE_SECRET`` and ``MIZULIVE_REDIS`` environment variables.

    An app serves until :meth:`close` (or the end of a ``with`` block, or interpreter
    exit). ``run()`` is ``start()`` plus waiting for Ctrl-C or SIGTERM.

    Example::

        app = mizulive.App(views="views", dev=True)
        app.page("/counter", Counter)
        app.run()    # $MIZULIVE_ADDR or 127.0.0.1:3000
    """

    def __init__(
        self,
        views: _views.Views = "views",
        dev: bool = False,
        *,
        static: str | os.PathLike[str] | None = None,
        static_prefix: str = "/static/",
        **options: Any,
    ) -> None:
        self._lock = threading.Lock()
        self._state = _CLOSED
        self._closed = threading.Event()
        _logbridge.install()
        opts = {"views": _views.option(views), "dev": bool(dev), **options}
        if static is not None:
            # The built-in server's static files (the "static_dir" and "static_prefix"
            # options): the folder's files at static_prefix + their path.
            opts["static_dir"] = os.fspath(static)
            opts["static_prefix"] = static_prefix
        elif static_prefix != "/static/":
            raise ValueError("static_prefix needs static: the folder to serve there")
        ptr = lib.lv_app_new(_lib.to_json(opts, "options"))
        if not ptr:
            raise MizuliveError(ErrorCode.CONFIG, _lib.last_error())
        # Each host thread releases the Python thread state it kept as it ends.
        lib.lv_app_set_thread_exit(ptr, _callbacks.on_thread_exit, None, _lib.DROP_FN())
        self._ptr: int | None = ptr
        self._state = _OPEN
        self._pages: dict[str, Page[Any]] = {}
        self._options = opts
        self._asgi: ASGIApp | None = None
        # Open in-process test pages (mizulive.testing.LivePage), closed by close().
        self._tests: weakref.WeakSet[Any] = weakref.WeakSet()
        _open_apps.add(self)

    # -- pages and hooks

    @overload
    def page(self, route: str, page: P | type[P]) -> P: ...

    @overload
    def page(self, route: str, page: None = None) -> Callable[[type[P]], type[P]]: ...

    def page(self, route: str, page: Page[Any] | type[Page[Any]] | None = None) -> Any:
        """Registers ``page`` (a :class:`Page` subclass or instance) at ``route``
        (``"/counter"``, ``"/rooms/{room}"``) and returns the instance. Without
        ``page`` it is a class decorator::

            @app.page("/counter")
            class Counter(mizulive.Page): ...

        A missing template or a bad region map raises :class:`MizuliveError` here.
        """
        if page is None:

            def decorate(cls: type[P]) -> type[P]:
                self.page(route, cls)
                return cls

            return decorate
        instance = page() if isinstance(page, type) else page
        if not isinstance(instance, Page):
            raise TypeError(f"page must be a mizulive.Page subclass or instance, not {type(instance).__name__}")
        template = getattr(instance, "template", None)
        if not isinstance(template, str):
            raise TypeError(f"{type(instance).__name__}.template must name a page template")
        regions = dict(instance.regions or {})
        layout = instance.layout
        key = _callbacks.register(_callbacks.PageBinding(self, route, instance))
        spec = _lib.LvPage(
            template=enc(template, "template"),
            regions=_lib.to_json(regions, "regions") if regions else None,
            layout=None if layout is None else enc(layout, "layout"),
            on_mount=_callbacks.on_mount,
            on_event=_callbacks.on_event,
            on_info=_callbacks.on_info,
            on_close=_callbacks.on_close,
            user_data=key,
            drop=_callbacks.on_drop,
        )
        with self._use() as ptr:
            rc = lib.lv_app_register_page(ptr, enc(route, "route"), ctypes.byref(spec))
            if rc != LV_OK:
                # The library did not take user_data: it is still ours to forget.
                _callbacks.unregister(key)
                check(rc)
        self._pages[route] = instance
        return instance

    def auth(self, hook: AuthHook | None) -> AuthHook | None:
        """Installs ``hook`` as the auth hook (``None`` removes it); usable as a
        decorator. It runs for every page GET, no-JS form POST (``method`` ``POST``)
        and WebSocket join (asked as a GET of the page, with the upgrade's headers)
        with a :class:`~mizulive.Request` and returns a user id, ``None``/``True``
        (anonymous), ``False`` (403) or a :class:`~mizulive.Redirect`. An exception
        refuses the request (403). A POST or join for which it returns another user
        than the one the session was mounted for is refused."""
        with self._use() as ptr:
            if hook is None:
                check(lib.lv_app_set_auth(ptr, _lib.AUTH_FN(), None, _lib.DROP_FN()))
                return None
            key = _callbacks.register(_callbacks.AuthBinding(hook))
            rc = lib.lv_app_set_auth(ptr, _callbacks.on_auth, key, _callbacks.on_drop)
            if rc != LV_OK:
                _callbacks.unregister(key)
                check(rc)
        return hook

    # -- serving

    def asgi(self) -> ASGIApp:
        """This app as an ASGI 3 application, to serve its pages from the host's own
        web server (Starlette, FastAPI, any ASGI server on asyncio) instead of
        :meth:`start`/:meth:`run`: the library then opens no port of its own.
        Pages and ``/_live/`` live at the root of the site, so mount it at ``/``
        after the site's own routes::

            live = app.asgi()
            site = Starlette(routes=[Route("/hello", hello),
                                     Mount("/static", StaticFiles(directory="static")),
                                     Mount("/", app=live)])

        Every defence holds as on the built-in server (tokens, CSRF, the Origin
        check, limits, the auth hook). The same object comes back on every call.
        Close the app when the site stops (``await live.aclose()`` in its lifespan);
        as the server's top-level app, its lifespan shutdown does that itself.
        """
        with self._lock:
            if self._asgi is None:
                # lv_app_new checked both: a body is read up to one byte past the
                # form limit, and a socket's client that lets more frames than the
                # outbound queue wait is closed.
                limit = self._options.get("max_form_bytes", DEFAULT_MAX_FORM_BYTES)
                queued = self._options.get("outbound_queue", DEFAULT_OUTBOUND_QUEUE)
                self._asgi = ASGIApp(self, max_body=int(limit), max_queued=int(queued))
            return self._asgi

    def start(self, addr: str | None = None) -> str:
        """Binds ``addr`` (``"127.0.0.1:3000"``; port 0 picks a free one; ``None`` uses
        ``$MIZULIVE_ADDR``, else ``127.0.0.1:3000``) and serves in the background.
        Returns the bound address."""
        with self._use() as ptr:
            check(lib.lv_app_start(ptr, None if addr is None else enc(addr, "addr")))
        return self.address

    @property
    def address(self) -> str:
        """The bound address, e.g. ``"127.0.0.1:41234"`` (after :meth:`start`)."""
        buf = ctypes.create_string_buffer(256)
        with self._use() as ptr:
            check(lib.lv_app_local_addr(ptr, buf, len(buf)))
        return buf.value.decode()

    @property
    def url(self) -> str:
        """``http://`` plus :attr:`address`."""
        return f"http://{self.address}"

    @property
    def running(self) -> bool:
        """True from :meth:`start` until the app shuts down."""
        if self._state != _OPEN:
            return False
        try:
            self.address  # noqa: B018 (raises before start)
        except MizuliveError:
            return False
        return not self.wait(0)

    def wait(self, timeout: float | None = None) -> bool:
        """Waits up to ``timeout`` seconds (``None``: no limit) for the app to shut
        down; True once it has. Waits in slices of 200 ms so Ctrl-C gets through."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            slice_ms = 200
            if deadline is not None:
                slice_ms = max(0, min(200, int((deadline - time.monotonic()) * 1000)))
            try:
                with self._use() as ptr:
                    rc = lib.lv_app_wait(ptr, slice_ms)
            except MizuliveError as e:
                if e.code == ErrorCode.STATE and self._state == _CLOSED:
                    return True
                raise
            if rc == LV_OK:
                return True
            if rc != LV_ERR_TIMEOUT:
                check(rc)
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def run(
        self,
        addr: str | None = None,
        *,
        banner: str | None = "mizulive listening on {url}",
    ) -> None:
        """Starts the app (unless started), prints ``banner`` (formatted with ``url``
        and ``address``) on stdout, and serves until Ctrl-C, SIGTERM or :meth:`close`;
        then closes the app and returns. Configures :mod:`logging` (INFO to stderr)
        if nothing else did."""
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            address = self.address
        except MizuliveError:
            address = self.start(addr)
        with _stop_signals():
            try:
                # Only here: whoever reads the banner as "ready" may stop the app at once.
                if banner:
                    print(banner.format(url=f"http://{address}", address=address), flush=True)
                self.wait()
            except KeyboardInterrupt:
                log.info("stopping")
            finally:
                with _second_interrupt_exits():
                    self.close()

    def close(self) -> None:
        """Stops serving (gracefully: browsers are told to reconnect, callbacks in
        flight finish, ``Page.close`` runs with ``"shutdown"``) and frees the app.
        Idempotent, safe from any thread, also while other threads are calling the
        app. From inside a callback it cannot wait for itself: it then starts the
        close on another thread and returns. Callbacks still running after the
        ``shutdown_timeout_ms`` option (default 20000) are left to finish on their
        own; the library logs how many."""
        if _callbacks.in_callback():
            with self._lock:
                if self._state != _OPEN:
                    return
            threading.Thread(target=self.close, name="mizulive-close").start()
            return
        with self._lock:
            if self._state == _OPEN:
                self._state = _CLOSING
                ptr = self._ptr
                owner = True
            else:
                owner = False
        if not owner:
            self._closed.wait()
            return
        for page in list(self._tests):
            page.close()
        try:
            # Callbacks still run during lv_app_shutdown and may call in (publish).
            lib.lv_app_shutdown(ptr)
        finally:
            with self._lock:
                self._state = _CLOSED
                asgi = self._asgi
            if asgi is not None:
                asgi._closed()
            # The shut-down handle only holds memory now. It is freed once this App
            # is garbage: a call needs the App, so none can be on its way in then.
            weakref.finalize(self, _free, ptr)
            if _lib.speedups is not None:
                _lib.speedups.release_dropped()  # the states its sessions kept
            self._closed.set()
            _open_apps.discard(self)

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- push and tools

    def test(
        self,
        path: str,
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> testing.LivePage:
        """Opens ``path`` in an in-process headless browser for a test (no server
        needed): see :class:`mizulive.testing.LivePage`. Use it as a context manager,
        or let :meth:`close` close it."""
        from .testing import LivePage

        return LivePage(self, path, cookies=cookies, headers=headers, timeout=timeout)

    def publish(self, topic: str, msg: Any) -> None:
        """Publishes ``msg`` (JSON-serializable) on ``topic``: every session subscribed
        to it gets it in :meth:`Page.info`. Safe from any thread; never blocks on
        sessions."""
        payload = _lib.to_json(msg, "msg")
        with self._use() as ptr:
            check(lib.lv_app_publish(ptr, enc(topic, "topic"), payload))

    @property
    def session_count(self) -> int:
        """Live sessions (with or without a socket)."""
        with self._use() as ptr:
            return int(lib.lv_app_session_count(ptr))

    def render(self, template: str, context: dict[str, Any] | None = None) -> str:
        """Renders a template of the views folder (``"pages/counter/index.html"``,
        ``"partials/counter/stats.html"``) with ``context`` and no session: for tests
        and tools. ``context`` holds the template variables, e.g. ``{"state": {...}}``."""
        out = ctypes.c_void_p()
        with self._use() as ptr:
            check(lib.lv_app_render(ptr, enc(template, "template"), _lib.to_json(context or {}, "context"), out))
        try:
            return ctypes.string_at(out.value or 0).decode("utf-8")
        finally:
            lib.lv_string_free(out)

    @property
    def pages(self) -> dict[str, Page]:
        """The registered pages by route."""
        return dict(self._pages)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has finished."""
        return self._closed.is_set()

    def __repr__(self) -> str:
        state = ["open", "closing", "closed"][self._state]
        return f"<mizulive.App {state} pages={list(self._pages)}>"

    # -- internals

    @contextlib.contextmanager
    def _use(self) -> Iterator[int]:
        """Lends the handle for one call, unless the app is closed. A call racing with
        :meth:`close` is safe: the library keeps the app alive for calls in flight,
        and the handle itself lives as long as this object."""
        ptr = self._ptr
        if self._state == _CLOSED or ptr is None:
            raise MizuliveError(ErrorCode.STATE, "the app is closed")
        yield ptr


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """During :meth:`App.run` on the main thread, SIGINT and SIGTERM stop the app.

    SIGTERM gets a handler that raises :class:`KeyboardInterrupt`, like Ctrl-C. SIGINT
    keeps Python's handler, or the program's own; only when it is ignored (a process
    started in the background by a shell) does it get Python's default handler, so a
    supervisor's SIGINT stops a Python app as it stops the C examples.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    installed: list[tuple[int, Any]] = []
    try:
        installed.append((signal.SIGTERM, signal.signal(signal.SIGTERM, interrupt)))
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            installed.append((signal.SIGINT, signal.signal(signal.SIGINT, signal.default_int_handler)))
    except (ValueError, OSError):
        pass
    try:
        yield
    finally:
        for signum, previous in reversed(installed):
            signal.signal(signum, previous)


@contextlib.contextmanager
def _second_interrupt_exits() -> Iterator[None]:
    """While :meth:`App.run` closes the app, a second Ctrl-C kills the process at once
    (the default action) instead of raising half-way through the close."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _free(ptr: Any) -> None:
    """Frees a shut-down app, then the states its sessions kept (see ``release_dropped``)."""
    lib.lv_app_free(ptr)
    if _lib.speedups is not None:
        _lib.speedups.release_dropped()


@atexit.register
def _close_all_at_exit() -> None:
    """Closes every app before the interpreter finalizes: a library thread must never
    call into a finalizing interpreter. Then takes the log sink back."""
    for app in list(_open_apps):
        try:
            app.close()
        except BaseException:
            print(f"mizulive: closing {app!r} at exit failed", file=sys.stderr)
    _logbridge.uninstall()
