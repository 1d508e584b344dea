"""Typed page state: a dataclass converted from and to the library's JSON.

A page declared as ``class Counter(mizulive.Page[CounterState])`` with a dataclass
``CounterState`` sees ``s.state`` as a ``CounterState``. :func:`codec` builds, once
per class, a loader (JSON value -> instance) and a dumper (instance -> JSON value)
from the dataclass's type hints; both check every value against its declared type
and name the field that does not fit: ``state.items[2].done: expected bool, got
str 'yes'``.

Supported: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``, ``list[X]``,
``tuple[X, ...]`` (a JSON array), ``dict[str, X]``, ``Optional[X]`` and other
unions, ``Literal[...]``, ``Enum`` subclasses (by value) and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from typing import Any, Callable, Dict, Union

__all__ = ["Codec", "codec"]

# Where a value sits in the state, for error messages: the root's name, or a node
# (parent, ".field"), (parent, index) or (parent, "[", key). Nodes cost a tuple each;
# the text is made only for an error (a state of a few hundred records formatted a
# path for every field and item it converted, which cost more than converting them).
_Path = Union[str, "tuple[Any, ...]"]
_Conv = Callable[[Any, _Path], Any]
_UNION_TYPES: tuple[Any, ...] = (Union,) + ((types.UnionType,) if sys.version_info >= (3, 10) else ())
_MISSING = dataclasses.MISSING


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _where(path: _Path) -> str:
    """The text of ``path``: ``state.items[2].done``."""
    parts = []
    while type(path) is tuple:
        if len(path) == 3:
            parts.append(f"[{path[2]!r}]")
        elif type(path[1]) is int:
            parts.append(f"[{path[1]}]")
        else:
            parts.append(path[1])
        path = path[0]
    return str(path) + "".join(reversed(parts))


def _expected(what: str, value: Any, path: _Path) -> TypeError:
    return TypeError(f"{_where(path)}: expected {what}, got {type(value).__name__} {_show(value)}")


class Codec:
    """The conversions of one state dataclass."""

    __slots__ = ("cls", "dump", "load")

    def __init__(self, cls: type, load: _Conv, dump: _Conv) -> None:
        self.cls = cls
        self.load = load
        self.dump = dump


_codecs: dict[type, Codec] = {}


def codec(cls: type) -> Codec:
    """The codec of dataclass ``cls``; raises ``TypeError`` naming the field whose
    type cannot be carried as JSON."""
    found = _codecs.get(cls)
    if found is None:
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"a page's state type must be a dataclass (or dict), not {cls!r}")
        load, dump = _convs(cls, cls.__name__, {})
        found = _codecs[cls] = Codec(cls, load, dump)
    return found


def _convs(tp: Any, where: str, seen: dict[type, tuple[_Conv, _Conv]]) -> tuple[_Conv, _Conv]:
    """(load, dump) for the type ``tp``; ``where`` names it in errors at build time."""
    if tp is Any or tp is object:
        return _same, _same
    if tp is type(None) or tp is None:
        return _none, _none
    if tp is bool:
        return _bool, _bool
    if tp is int:
        return _int, _int
    if tp is float:
        return _float_load, _float_dump
    if tp is str:
        return _str, _str
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp, seen)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, typing.List) or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        item = _convs(args[0] if args else Any, f"{where}[]", seen)
        return _array(item[0], list), _array(item[1], list)
    if origin in (dict, typing.Dict):
        if args and args[0] is not str:
            raise TypeError(f"{where}: JSON object keys are strings, so a dict's key type must be str, not {args[0]!r}")
        value = _convs(args[1] if args else Any, f"{where}[]", seen)
        return _object(value[0]), _object(value[1])
    if origin in _UNION_TYPES:
        return _union([_convs(a, where, seen) for a in args], args)
    if origin is typing.Literal:
        return _literal(args), _literal(args)
    if tp in (list, dict):
        return _convs(typing.List[Any] if tp is list else Dict[str, Any], where, seen)
    raise TypeError(
        f"{where}: {_type_name(tp)} is not a type mizulive can keep in the state as JSON "
        "(use str, int, float, bool, None, Any, list, dict[str, ...], Optional, Literal, an Enum or a dataclass)"
    )


def _type_name(tp: Any) -> str:
    name = getattr(tp, "__qualname__", None)
    if not isinstance(name, str):
        return repr(tp)
    module = getattr(tp, "__module__", "builtins")
    return name if module == "builtins" else f"{module}.{name}"


def _same(v: Any, path: _Path) -> Any:
    return v


def _none(v: Any, path: _Path) -> Any:
    if v is not None:
        raise _expected("None", v, path)
    return v


def _bool(v: Any, path: _Path) -> Any:
    if type(v) is not bool:
        raise _expected("bool", v, path)
    return v


def _int(v: Any, path: _Path) -> Any:
    if not isinstance(v, int) or isinstance(v, bool):
        raise _expected("int", v, path)
    return v


def _float_load(v: Any, path: _Path) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _expected("float", v, path)
    return float(v)


def _float_dump(v: Any, path: _Path) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _expected("float", v, path)
    return v


def _str(v: Any, path: _Path) -> Any:
    if not isinstance(v, str):
        raise _expected("str", v, path)
    return v


# Stands for "every value" in what a converter passes on (_same's).
_ANY: frozenset[type] = frozenset((object,))
_STR = frozenset((str,))
# The exact types each leaf converter returns unchanged: a value of one of these needs
# no call. A subclass (an IntEnum for int) still goes through the converter.
_KEEPS: dict[Any, frozenset[type]] = {
    _str: _STR,
    _int: frozenset((int,)),
    _bool: frozenset((bool,)),
    _none: frozenset((type(None),)),
    _float_load: frozenset((float,)),
    _float_dump: frozenset((float,)),
}


def _passes_on(conv: _Conv) -> frozenset[type]:
    """The exact types ``conv`` returns unchanged (:data:`_ANY` for ``_same``), or an
    empty set when it may change any value."""
    if conv is _same:
        return _ANY
    return _KEEPS.get(conv, frozenset())


def _enum(cls: type[enum.Enum]) -> tuple[_Conv, _Conv]:
    def load(v: Any, path: _Path) -> Any:
        try:
            return cls(v)
        except ValueError:
            values = ", ".join(repr(m.value) for m in cls)
            raise TypeError(f"{_where(path)}: {_show(v)} is not a value of {cls.__name__} ({values})") from None

    def dump(v: Any, path: _Path) -> Any:
        if not isinstance(v, cls):
            raise _expected(cls.__name__, v, path)
        return v.value

    return load, dump


def _array(item: _Conv, make: type) -> _Conv:
    # Items that convert to themselves (all of an exact type the item converter passes
    # on, or any value for Any) are copied by one pass in C.
    same = _passes_on(item)

    def conv(v: Any, path: _Path) -> Any:
        if not isinstance(v, (list, tuple)):
            raise _expected("a list", v, path)
        if same is _ANY or (same and set(map(type, v)) <= same):
            return make(v)
        out = [item(x, (path, i)) for i, x in enumerate(v)]
        return out if make is list else make(out)

    return conv


def _object(value: _Conv) -> _Conv:
    same = _passes_on(value)

    def conv(v: Any, path: _Path) -> Any:
        if not isinstance(v, dict):
            raise _expected("a dict", v, path)
        if (same is _ANY or (same and set(map(type, v.values())) <= same)) and set(map(type, v)) <= _STR:
            return dict(v)
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise TypeError(f"{_where(path)}: a key must be a str, got {type(k).__name__} {_show(k)}")
            out[k] = value(x, (path, "[", k))
        return out

    return conv


def _union(convs: list[tuple[_Conv, _Conv]], args: tuple[Any, ...]) -> tuple[_Conv, _Conv]:
    names = " | ".join("None" if a is type(None) else getattr(a, "__name__", repr(a)) for a in args)
    # None first: Optional[X] is the common case, and None never fits X.
    optional = type(None) in args
    rest = [c for c, a in zip(convs, args) if a is not type(None)]

    def pick(index: int) -> _Conv:
        keeps = _union_keeps([c[index] for c in rest], optional)

        def conv(v: Any, path: _Path) -> Any:
            if type(v) in keeps:
                return v
            if v is None and optional:
                return None
            for c in rest:
                try:
                    return c[index](v, path)
                except TypeError:
                    continue
            raise _expected(names, v, path)

        _KEEPS[conv] = keeps
        return conv

    return pick(0), pick(1)


# The exact types each leaf converter takes: those it passes on, and for a float an
# int too (which it may change). Made before any union adds its own entry to _KEEPS.
_TAKES: dict[Any, frozenset[type]] = {
    **_KEEPS,
    _float_load: frozenset((int, float)),
    _float_dump: frozenset((int, float)),
}


def _union_keeps(members: list[_Conv], optional: bool) -> frozenset[type]:
    """The exact types a union of leaf converters returns unchanged: those that the
    first member to take them passes on (``Union[float, int]`` turns an int into a
    float: int is not among them). Empty when a member is not a leaf."""
    keeps = {type(None)} if optional else set()
    taken = set(keeps)
    for member in members:
        if member not in _TAKES:
            return frozenset()
        keeps |= _KEEPS[member] - taken
        taken |= _TAKES[member]
    return frozenset(keeps)


def _literal(values: tuple[Any, ...]) -> _Conv:
    def conv(v: Any, path: _Path) -> Any:
        if not any(v == x and type(v) is type(x) for x in values):
            raise TypeError(f"{_where(path)}: {_show(v)} is not one of {', '.join(repr(x) for x in values)}")
        return v

    return conv


def _dataclass(cls: type, seen: dict[type, tuple[_Conv, _Conv]]) -> tuple[_Conv, _Conv]:
    if cls in seen:
        return seen[cls]
    # A recursive dataclass (a tree) refers to itself: the placeholders late-bind.
    # Per field: its name, its converters, its default (_MISSING when it has none), its
    # path segment, and the exact types both converters pass on unchanged: one type
    # (None when there are several, or none) and the set of them (for an Optional),
    # which skip the call for most fields.
    fields_conv: list[tuple[str, _Conv, _Conv, Any, str, Any, frozenset[type]]] = []

    def load(v: Any, path: _Path) -> Any:
        if not isinstance(v, dict):
            raise _expected(f"an object for {cls.__name__}", v, path)
        kwargs = {}
        for name, ld, _, default, segment, fast, keeps in fields_conv:
            if name in v:
                x = v[name]
                kwargs[name] = x if type(x) is fast or type(x) in keeps else ld(x, (path, segment))
            elif default is _MISSING:
                raise TypeError(f"{_where((path, segment))}: missing ({cls.__name__}.{name} has no default)")
        if not names.issuperset(v):
            unknown = [k for k in v if k not in names]
            raise TypeError(
                f"{_where(path)}: {cls.__name__} has no field {unknown[0]!r} "
                f"(its fields: {', '.join(sorted(names)) or 'none'})"
            )
        return cls(**kwargs)

    def dump(v: Any, path: _Path) -> Any:
        if type(v) is not cls and not isinstance(v, cls):
            raise _expected(cls.__name__, v, path)
        return {
            name: x if type(x := getattr(v, name)) is fast or type(x) in keeps else dp(x, (path, segment))
            for name, _, dp, _, segment, fast, keeps in fields_conv
        }

    seen[cls] = (load, dump)
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:
        raise TypeError(f"{cls.__name__}: its type hints do not resolve: {e}") from e
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        ld, dp = _convs(hints.get(f.name, Any), f"{cls.__name__}.{f.name}", seen)
        has_default = f.default is not _MISSING or f.default_factory is not _MISSING
        # What both pass on (Any's "everything" is no exact type: it keeps the call).
        keeps = _passes_on(ld) & _passes_on(dp) - _ANY
        fast = next(iter(keeps)) if len(keeps) == 1 else None
        fields_conv.append((f.name, ld, dp, None if has_default else _MISSING, "." + f.name, fast, keeps))
    names = frozenset(name for name, *_ in fields_conv)
    return load, dump
