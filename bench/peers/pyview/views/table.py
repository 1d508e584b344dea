from dataclasses import dataclass, field

from pyview import LiveView, LiveViewSocket

ROWS = 100


@dataclass
class Row:
    id: int
    value: int = 0


@dataclass
class Table:
    rows: list[Row] = field(default_factory=lambda: [Row(i) for i in range(ROWS)])


class TableLiveView(LiveView[Table]):
    async def mount(self, socket: LiveViewSocket[Table], session):
        socket.context = Table()

    async def handle_event(self, event, payload, socket: LiveViewSocket[Table]):
        if event != "bump":
            return
        # phx-value-row arrives as a string; anything but a row index is ignored.
        try:
            row = int(payload.get("row", ""))
        except (TypeError, ValueError):
            return
        if 0 <= row < ROWS:
            socket.context.rows[row].value += 1
