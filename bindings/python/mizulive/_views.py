"""The ``views`` argument of :class:`~mizulive.App`: a folder, package resources, or
templates by name, turned into the library's ``views`` option."""

from __future__ import annotations

import os
import sys
from typing import Mapping, Union

from .errors import ErrorCode, MizuliveError

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:
    from importlib.abc import Traversable

__all__ = ["Traversable", "Views", "option"]

#: What ``App(views=...)`` accepts.
Views = Union[str, "os.PathLike[str]", Traversable, Mapping[str, str]]

# The folders of a views tree; nothing else of a resource folder is read.
_FOLDERS = ("layouts", "pages", "partials")


def option(views: Views) -> str | dict[str, str]:
    """The ``views`` option: a folder's path (read by the library, reloaded in dev
    mode), or the templates themselves by name (``"pages/counter/index.html"``).

    A :class:`~importlib.resources.abc.Traversable` that is a folder on disk (what
    ``importlib.resources.files()`` returns for a package installed as files) is
    passed as a path; any other (inside a zip file, a namespace package) is read
    into memory here, once."""
    if isinstance(views, (str, os.PathLike)):
        return os.fspath(views)
    if isinstance(views, Mapping):
        return dict(views)
    if callable(getattr(views, "iterdir", None)) and callable(getattr(views, "read_bytes", None)):
        return _read(views)
    raise TypeError(
        "views must be a folder (str or os.PathLike), package resources "
        "(importlib.resources.files(...) / 'views') or a dict of template name to source, "
        f"not {type(views).__name__}"
    )


def _read(root: Traversable) -> dict[str, str]:
    views: dict[str, str] = {}
    found = False
    for folder in _FOLDERS:
        top = root.joinpath(folder)
        if not top.is_dir():
            continue
        found = True
        stack: list[tuple[str, Traversable]] = [(folder, top)]
        while stack:
            name, node = stack.pop()
            for child in node.iterdir():
                child_name = f"{name}/{child.name}"
                if child.is_dir():
                    stack.append((child_name, child))
                    continue
                try:
                    views[child_name] = child.read_bytes().decode("utf-8")
                except UnicodeDecodeError as e:
                    raise MizuliveError(ErrorCode.CONFIG, f"views: {child_name} is not UTF-8 text ({e})") from None
    if not found:
        raise MizuliveError(ErrorCode.CONFIG, f"views: {root} has no {', '.join(f + '/' for f in _FOLDERS)} folder")
    return views
