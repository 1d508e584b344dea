"""What the Python host pays to read a session's state and write it back, by shape.

A callback that touches ``s.state`` decodes it from the library's JSON, and after it
the binding writes it back: in Python, it checks the state (object keys that are not
strings, integers beyond 64 bits: what ``json`` would alter without a word) and
encodes it (``mizulive._lib.to_json``); with the compiled module
(``mizulive._speedups``) one pass in C does both, and decodes too. A page whose state
is a dataclass also converts it from and to JSON values (``mizulive._state``). All of
it grows with the state; this prints, for a few shapes of state, the microseconds per
step, the best of five runs of a count sized to take about 50 ms. No library call;
``make bench-python-state`` runs it with the package installed in ``.venv``, where
the compiled module is (the columns for it read "-" without it).
"""

from __future__ import annotations

import dataclasses
import functools
import platform
import timeit
from collections.abc import Callable
from typing import Any, Optional

from mizulive import _lib, _state

SHAPES: dict[str, Any] = {
    "counter: 2 scalars": {"bc": 0, "count": 1},
    "table: 100 ints": {"rows": list(range(100))},
    "list: 200 strings": {"items": [f"item-{i}" for i in range(200)]},
    "todo: 200 records of 3": {"items": [{"id": i, "text": f"item {i}", "done": i % 2 == 0} for i in range(200)]},
    "grid: 200 lists of 3 ints": {"rows": [[i, i + 1, i + 2] for i in range(200)]},
    "chat: 50 records, nested": {
        "messages": [{"id": i, "user": {"name": f"u{i % 7}", "admin": False}, "text": "hi " * 10} for i in range(50)],
        "draft": "",
    },
}


@dataclasses.dataclass
class Todo:
    id: int
    text: str
    done: bool = False


@dataclasses.dataclass
class Todos:
    items: list[Todo] = dataclasses.field(default_factory=list)
    draft: str = ""


@dataclasses.dataclass
class Task:
    id: int
    text: str
    due: Optional[str] = None
    estimate: Optional[float] = None


@dataclasses.dataclass
class Tasks:
    items: list[Task] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Chat:
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    draft: str = ""


TYPED: dict[str, Any] = {
    "todo: 200 records of 3": Todos(items=[Todo(i, f"item {i}", i % 2 == 0) for i in range(200)]),
    "tasks: 200 records, 2 of 4 fields Optional": Tasks(
        items=[Task(i, f"task {i}", None if i % 2 else "2026-12-06", 1.5 if i % 3 else None) for i in range(200)]
    ),
    "chat: 50 records, nested": Chat(messages=SHAPES["chat: 50 records, nested"]["messages"]),
}

RUNS = 5
TARGET_SECONDS = 0.05  # per run: the count is sized so that one run takes about this


def micros(fn: Callable[[], object]) -> float:
    """Best of RUNS runs, in microseconds per call."""
    once = timeit.timeit(fn, number=1)
    count = max(1, min(100_000, int(TARGET_SECONDS / max(once, 1e-7))))
    return min(timeit.repeat(fn, number=count, repeat=RUNS)) / count * 1e6


def python_write_back(state: object) -> bytes:
    """``to_json``'s path without the compiled module: the check, then ``json``."""
    _lib._check(state)
    return _lib._encode(state).encode()


def python_read(raw: bytes) -> object:
    """``from_json``'s path without the compiled module."""
    loads, _lib._loads = _lib._loads, None
    try:
        return _lib.from_json(raw)
    finally:
        _lib._loads = loads


def main() -> None:
    compiled = _lib.speedups
    print(f"Python {platform.python_version()}; µs per call, best of {RUNS} runs")
    print()
    print("| state | bytes | check | encode | write-back | write-back, compiled | read | read, compiled |")
    print("| --- | --: | --: | --: | --: | --: | --: | --: |")
    for name, state in SHAPES.items():
        raw = python_write_back(state)
        check = micros(functools.partial(_lib._check, state))
        encode = micros(functools.partial(_lib._encode, state))
        whole = micros(functools.partial(python_write_back, state))
        read = micros(functools.partial(python_read, raw))
        fast_write = f"{micros(functools.partial(compiled.dumps, state)):.1f}" if compiled else "-"
        fast_read = f"{micros(functools.partial(compiled.loads, raw)):.1f}" if compiled else "-"
        cells = [f"{len(raw):,}", f"{check:.1f}", f"{encode:.1f}", f"{whole:.1f}", fast_write, f"{read:.1f}", fast_read]
        print(f"| {name} | {' | '.join(cells)} |")
    print()
    print("A dataclass state, converted from JSON values on the read and to them before the write-back:")
    print()
    print("| state | load | dump |")
    print("| --- | --: | --: |")
    for name, typed in TYPED.items():
        codec = _state.codec(type(typed))
        values = codec.dump(typed, "state")
        load = micros(functools.partial(codec.load, values, "state"))
        dump = micros(functools.partial(codec.dump, typed, "state"))
        print(f"| {name} | {load:.1f} | {dump:.1f} |")


if __name__ == "__main__":
    main()
