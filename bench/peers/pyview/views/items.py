from dataclasses import dataclass, field

from pyview import LiveView, LiveViewSocket


@dataclass
class Items:
    items: list[str] = field(default_factory=list)


class ListLiveView(LiveView[Items]):
    async def mount(self, socket: LiveViewSocket[Items], session):
        socket.context = Items()

    async def handle_event(self, event, payload, socket: LiveViewSocket[Items]):
        if event == "add":
            items = socket.context.items
            items.append(f"item-{len(items) + 1}")
