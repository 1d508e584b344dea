"""The browser session: a small JSON map per browser, as a mutable mapping."""

from __future__ import annotations

from typing import Any, Callable, Iterator, MutableMapping

from . import _lib
from ._lib import check, enc
from .errors import ErrorCode, MizuliveError


class BrowserSession(MutableMapping[str, Any]):
    """The map this browser carries from page to page (and node to node): what a
    login hook recorded, a voter id, a chosen theme. It is read from the library the
    first time it is touched. ``browser["key"] = value`` (any JSON-serializable value)
    and ``del browser["key"]`` go to the library at once and are stored when the
    callback (or auth hook) succeeds; the next page this browser loads sees them. A map
    over the size limit (``max_browser_session_bytes``) raises and changes nothing.
    """

    __slots__ = ("_items", "_read", "_remove", "_set")

    def __init__(
        self,
        read: Callable[[], bytes | None],
        set_json: Callable[[bytes, bytes], int],
        remove: Callable[[bytes], int],
    ) -> None:
        self._read = read
        self._set = set_json
        self._remove = remove
        self._items: dict[str, Any] | None = None

    def _map(self) -> dict[str, Any]:
        if self._items is None:
            raw = self._read()
            if raw is None:
                raise MizuliveError(ErrorCode.STATE, _lib.last_error())
            items = _lib.from_json(raw)
            self._items = items if isinstance(items, dict) else {}
        return self._items

    def __getitem__(self, key: str) -> Any:
        return self._map()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        items = self._map()
        check(self._set(enc(key, "key"), _lib.to_json(value, f"browser[{key!r}]")))
        items[key] = value

    def __delitem__(self, key: str) -> None:
        items = self._map()
        if key not in items:
            raise KeyError(key)
        check(self._remove(enc(key, "key")))
        del items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())

    def __repr__(self) -> str:
        return f"BrowserSession({self._map()!r})"
