from dataclasses import dataclass

from pyview import LiveView, LiveViewSocket, Stream

ROWS = 100


@dataclass
class Row:
    id: int
    value: int = 0


@dataclass
class Table:
    # What the page shows, kept here because a bump needs the current number.
    values: list[int]
    # The rows as a stream (pyview's Phoenix streams): the first render sends all of
    # them, a bump re-inserts only the changed row, which the client replaces in place.
    rows: Stream[Row]


class TableLiveView(LiveView[Table]):
    async def mount(self, socket: LiveViewSocket[Table], session):
        values = [0] * ROWS
        socket.context = Table(values, Stream([Row(i, v) for i, v in enumerate(values)], name="rows"))

    async def handle_event(self, event, payload, socket: LiveViewSocket[Table]):
        if event != "bump":
            return
        # phx-value-row arrives as a string; anything but a row index is ignored.
        try:
            row = int(payload.get("row", ""))
        except (TypeError, ValueError):
            return
        if 0 <= row < ROWS:
            socket.context.values[row] += 1
            socket.context.rows.insert(Row(row, socket.context.values[row]))
