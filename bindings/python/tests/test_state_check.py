"""The write-back's check of a state (``_lib._check``): it refuses exactly what JSON
would alter, whatever the state's shape, and ends on states that share or hold
themselves."""

from __future__ import annotations

import collections
import enum
import random
import threading
from typing import Any

import pytest

from mizulive import _lib


class Big(enum.IntEnum):
    SMALL = 3
    HUGE = 2**70


class Mode(str, enum.Enum):
    ON = "on"


def faults(value: Any, seen: frozenset[int] = frozenset()) -> set[str]:
    """What the check must refuse, read one value at a time: the kinds of fault the
    state holds ("key", "int"). Slow and plain on purpose."""
    if isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            return set()
        seen = seen | {id(value)}
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                found.add("key")
            found |= faults(v, seen)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= faults(v, seen)
    elif isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        found.add("int")
    return found


def checked(value: Any) -> str | None:
    """The kind of fault the check refused ``value`` for, or None."""
    try:
        _lib._check(value)
    except (TypeError, ValueError) as e:
        message = str(e)
    else:
        return None
    if "is not a string (JSON object keys are strings)" in message:
        return "key"
    if "does not fit in 64 bits" in message:
        return "int"
    return message


LEAVES: list[Any] = ["a", "", 0, -1, 2**63, 2**64 - 1, -(2**63), 1.5, True, False, None, Big.SMALL, Mode.ON]
FAULTS: list[Any] = [2**64, -(2**63) - 1, Big.HUGE]
KEYS: list[Any] = ["k", "id", "text", Mode.ON]
BAD_KEYS: list[Any] = [7, 3.5, None, True, ("t",)]


def shape(rng: random.Random, depth: int, fault: bool) -> Any:
    """A random state: records, lists of lists, tuples, dict subclasses, at most
    four levels deep; with ``fault``, maybe one key or integer JSON would alter."""
    roll = rng.random()
    if depth >= 4 or roll < 0.3:
        if fault and rng.random() < 0.05:
            return rng.choice(FAULTS)
        return rng.choice(LEAVES)
    width = rng.randint(0, 6)
    if roll < 0.65:
        make = rng.choice([dict, collections.OrderedDict])
        out = make()
        for _ in range(width):
            key = rng.choice(BAD_KEYS) if fault and rng.random() < 0.05 else rng.choice(KEYS) + str(rng.randint(0, 9))
            out[key] = shape(rng, depth + 1, fault)
        return out
    items = [shape(rng, depth + 1, fault) for _ in range(width)]
    return tuple(items) if roll < 0.75 else items


def test_refuses_what_a_plain_walk_refuses_on_random_states() -> None:
    rng = random.Random(20261206)
    refused = 0
    for i in range(600):
        state = {"items": [shape(rng, 1, fault=i % 2 == 1) for _ in range(rng.randint(1, 30))]}
        if i % 4 == 3:
            state["records"] = [{"id": n, "text": "t"} for n in range(rng.randint(2, 40))]
            state["records"][rng.randrange(len(state["records"]))][rng.choice(BAD_KEYS)] = 1
        want = faults(state)
        got = checked(state)
        # One of the faults is named; which one, when there are several, is the
        # check's order.
        assert (got in want) if want else got is None, (got, want, state)
        refused += bool(want)
    assert 50 < refused < 300, f"the random states should hold faults about half the time, not {refused} of 600"


def test_a_list_of_records_is_checked_in_every_record() -> None:
    records = [{"id": i, "text": f"item {i}", "done": False} for i in range(500)]
    assert checked({"items": records}) is None
    records[437][7] = "seven"
    assert checked({"items": records}) == "key"
    del records[437][7]
    records[437]["votes"] = {7: 1}
    assert checked({"items": records}) == "key"
    del records[437]["votes"]
    records[499]["id"] = 2**64
    assert checked({"items": records}) == "int"
    records[499]["id"] = Big.HUGE
    assert checked({"items": records}) == "int"
    records[499]["id"] = 499
    grid = [[i, i + 1, (i, 2.5, None)] for i in range(300)]
    assert checked({"grid": grid}) is None
    grid[150][2] = (1, -(2**63) - 1)
    assert checked({"grid": grid}) == "int"


def test_shared_and_circular_states_end() -> None:
    shared = {"deep": [{"x": 1}]}
    assert checked({"a": shared, "b": shared, "c": [shared, shared]}) is None
    shared["deep"][0][5] = 1
    assert checked({"a": shared, "b": [shared]}) == "key"
    twice: list[Any] = []
    twice.extend([twice, twice])  # without the ids, each level would be twice as wide
    assert checked(twice) is None
    # A cycle through levels of several containers each.
    pair: list[list[Any]] = [[], []]
    pair[0].append(pair[1])
    pair[1].append(pair[0])
    done = threading.Event()
    threading.Thread(target=lambda: (checked({"pair": pair, "more": [pair, [pair]]}), done.set()), daemon=True).start()
    assert done.wait(10), "the check went round the cycle"
    me: dict[str, Any] = {}
    me["me"] = [me, {"me": me}]
    assert checked(me) is None
    with pytest.raises(ValueError, match="Circular reference"):
        _lib.to_json(me)


def test_a_key_of_none_is_refused() -> None:
    # json writes it as "null": the state would come back with another key.
    assert checked({None: 1}) == "key"
    assert checked({"a": [{"b": 1}, {None: 2}]}) == "key"
    with pytest.raises(TypeError, match="object key None is not a string"):
        _lib.to_json({"votes": {None: 1}}, "state")


@pytest.mark.parametrize(
    ("value", "fault"),
    [(2**64, "int"), (Big.HUGE, "int"), (Big.SMALL, None), (True, None), ("x", None), (None, None), ((), None)],
)
def test_a_state_that_is_no_container(value: Any, fault: str | None) -> None:
    assert checked(value) == fault
