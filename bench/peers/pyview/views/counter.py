from dataclasses import dataclass

from pyview import ConnectedLiveViewSocket, LiveView, LiveViewSocket, is_connected
from pyview.events import InfoEvent

BCAST_TOPIC = "bcast"

# The server-wide broadcast number every /counter shows as bc-<n>.
_broadcasts = 0


@dataclass
class Counter:
    count: int = 0
    # The whole text is one dynamic (not "bc-" static plus a number), so a push carries
    # the text a user sees.
    bcast: str = "bc-0"


class CounterLiveView(LiveView[Counter]):
    async def mount(self, socket: LiveViewSocket[Counter], session):
        socket.context = Counter(bcast=f"bc-{_broadcasts}")
        # The HTTP render has no socket to push to; only the live one listens.
        if is_connected(socket):
            await socket.subscribe(BCAST_TOPIC)

    async def handle_event(self, event, payload, socket: ConnectedLiveViewSocket[Counter]):
        global _broadcasts
        if event == "inc":
            socket.context.count += 1
        elif event == "broadcast":
            _broadcasts += 1
            # Every subscriber, this session included, renders it in handle_info.
            await socket.broadcast(BCAST_TOPIC, _broadcasts)

    async def handle_info(self, event: InfoEvent, socket: ConnectedLiveViewSocket[Counter]):
        if event.name == BCAST_TOPIC:
            socket.context.bcast = f"bc-{event.payload}"
