from dataclasses import dataclass

from pyview import LiveView, LiveViewSocket, Stream


@dataclass
class Item:
    id: int
    text: str


@dataclass
class Items:
    count: int
    # The list as a stream (pyview's Phoenix streams): an add sends the new item only,
    # and the server does not keep the items.
    items: Stream[Item]


class ListLiveView(LiveView[Items]):
    async def mount(self, socket: LiveViewSocket[Items], session):
        socket.context = Items(0, Stream(name="items"))

    async def handle_event(self, event, payload, socket: LiveViewSocket[Items]):
        if event == "add":
            socket.context.count += 1
            n = socket.context.count
            socket.context.items.insert(Item(n, f"item-{n}"))
