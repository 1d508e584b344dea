"""The auth hook's view of a request, and how it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, MutableMapping, Union
from urllib.parse import parse_qs

__all__ = ["AuthHook", "AuthResult", "Redirect", "Request"]


@dataclass(frozen=True)
class Request:
    """A page request as the auth hook sees it. Header names are lower-case."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    #: This browser's session map: read it, and set or delete keys (stored unless the
    #: hook refuses the request), e.g. ``req.browser["user"] = "ada"`` on login.
    browser: MutableMapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Request:
        """Builds a request from the library's request JSON."""
        return cls(
            method=str(raw.get("method") or ""),
            path=str(raw.get("path") or ""),
            query=str(raw.get("query") or ""),
            headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
            cookies={str(k): str(v) for k, v in (raw.get("cookies") or {}).items()},
        )

    @property
    def args(self) -> dict[str, list[str]]:
        """The query string parsed: name -> values."""
        return parse_qs(self.query, keep_blank_values=True)


@dataclass(frozen=True)
class Redirect:
    """Returned by an auth hook: answer the request with a 303 to ``location``."""

    location: str


#: What an auth hook returns: a user id (allow as that user), ``None`` or ``True``
#: (allow, anonymous), ``False`` (refuse with 403) or a :class:`Redirect`.
AuthResult = Union[str, bool, None, Redirect]
AuthHook = Callable[[Request], AuthResult]
