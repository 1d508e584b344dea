"""The event JSON read two ways (the library's own layout by pattern, anything else
decoded whole) and the state written by a reused encoder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ProbePage, Signal

import mizulive
from mizulive import _lib
from mizulive.page import _EVENT_SHAPE, Event

META_OFF = '"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}'

# As the library writes them (src/protocol: Event::write_json), and a few it never
# writes (other order, whitespace, nested objects), which must read alike.
DOCUMENTS = [
    '{"type":"click","name":"inc","target":null,"values":{},"form":{},"field":null,"key":null,' + META_OFF + "}",
    '{"type":"click","name":"bump","target":null,"values":{"row":"17"},"form":{},"field":null,"key":null,'
    + META_OFF
    + "}",
    '{"type":"submit","name":"save","target":"cart","values":{"by":" 4 ","raw":12,"f":-1.5e+3,"t":true,"n":null},'
    '"form":{"tags":["a","b"],"check":[],"one":"x","none":null},"field":"title","key":"Enter",'
    '"meta":{"shift":true,"ctrl":false,"alt":true,"meta":false}}',
    '{"type":"change","name":"q","target":null,"values":{},"form":{"q":["say \\"hi\\"\\nnow \\\\ é \\ud83d\\ude00"]},'
    '"field":"q","key":null,' + META_OFF + "}",
    '{"type":"keyup","name":"k","target":null,"values":{"été":"日本"},"form":{},"field":null,"key":"ArrowDown",'
    '"meta":{"shift":false,"ctrl":true,"alt":false,"meta":true}}',
    '{"type":"click","name":"a\\"b","target":"\\u00e9","values":{},"form":{},"field":null,"key":null,' + META_OFF + "}",
    '{"type":"click","name":"x","target":null,"values":{"o":{"nested":"{}"}},"form":{},"field":null,"key":null,'
    + META_OFF
    + "}",
    '{"type":"click","name":"x","target":null,"values":{"brace":"}{"},"form":{},"field":null,"key":null,'
    + META_OFF
    + "}",
    '{"name":"late","type":"click"}',
    '{ "type": "click", "name": "spaced" }',
]


def fields(e: Event) -> tuple[Any, ...]:
    return (e.type, e.name, e.target, dict(e.values), dict(e.form), e.field, e.key, e.meta)


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_an_event_reads_alike_by_pattern_and_decoded_whole(doc: str) -> None:
    raw = doc.encode()
    assert fields(Event.from_raw(raw)) == fields(Event.from_json(json.loads(doc)))


def test_names_with_escapes_and_non_ascii_reach_handle(serve: Any) -> None:
    seen = Signal()
    raws: list[bytes] = []

    class Page(ProbePage):
        def handle(self, s: mizulive.Session, e: mizulive.Event) -> None:
            raws.append(_lib.lib.lv_event_json(s._ctx))
            seen.put(e)

    _, client = serve(Page)
    with client.live("/probe") as live:
        assert live.event('say "hi"', target="café", values={"v": "}{"}).ok
        assert live.event("plain", values={"row": "3"}).ok
    first, e = seen.wait_for(lambda v: len(v) == 2)
    assert isinstance(first, Event) and isinstance(e, Event)
    assert (first.name, first.target, dict(first.values)) == ('say "hi"', "café", {"v": "}{"})
    assert (e.name, e.target, dict(e.values), e.meta) == ("plain", None, {"row": "3"}, mizulive.KeyMeta())
    # The pattern reads the layout the library writes (were the writer to change, every
    # event would quietly take the slower road); a name with an escape takes that road.
    assert _EVENT_SHAPE.fullmatch(raws[1]) is not None, raws[1]
    assert _EVENT_SHAPE.fullmatch(raws[0]) is None, raws[0]


def test_a_state_that_failed_halfway_encodes_once_mended() -> None:
    # The encoder met the list, then failed inside it: its memo of the containers
    # being written must not outlive the failure, or the mended list would read as
    # a circular reference.
    items: list[Any] = [1.0, float("nan")]
    state = {"items": items}
    with pytest.raises(ValueError, match="not JSON-serializable"):
        _lib.to_json(state, "state")
    items[1] = 2.0
    assert _lib.to_json(state, "state") == b'{"items":[1.0,2.0]}'
