"""The peer benchmark's pages (bench/peers/PAGES.md) on pyview-web 0.9.0, served by uvicorn
as pyview's examples are (`uvicorn examples.app:app`: asyncio loop, h11, wsproto).

    PORT=0 python serve.py   ->   peer listening on http://127.0.0.1:PORT

The banner is printed once uvicorn listens, with the port it got when PORT is 0.
"""

import os

import uvicorn
from pyview import PyView
from starlette.staticfiles import StaticFiles

from views import CounterLiveView, ListLiveView, TableLiveView

app = PyView()
# pyview's default root template loads its browser client from here.
app.mount("/static", StaticFiles(packages=[("pyview", "static")]), name="static")
app.add_live_view("/counter", CounterLiveView)
app.add_live_view("/table", TableLiveView)
app.add_live_view("/list", ListLiveView)


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        print(f"peer listening on http://{host}:{port}", flush=True)


def main():
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "0")),
        log_level="warning",
        # SIGINT closes the sockets; do not wait on them for longer than this.
        timeout_graceful_shutdown=5,
    )
    Server(config).run()


if __name__ == "__main__":
    main()
