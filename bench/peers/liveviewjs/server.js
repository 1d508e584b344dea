// The peer benchmark's pages (bench/peers/PAGES.md) on liveviewjs 0.8.1, wired into
// Express and ws the way liveviewjs's own Express example does: express-session for the
// CSRF token, the adaptor's HTTP middleware for the first render, its WebSocket handler
// for the Phoenix LiveView protocol, and SingleProcessPubSub for the broadcast.
//
//   PORT=0 node server.js   ->   peer listening on http://127.0.0.1:PORT
"use strict";

const { Server } = require("http");
const express = require("express");
const session = require("express-session");
const { WebSocketServer } = require("ws");
const { createLiveView, html, live_title_tag, safe, SingleProcessPubSub } = require("liveviewjs");
const { NodeExpressLiveViewServer } = require("@liveviewjs/express");

// One bus for the whole process; the server's sockets subscribe through the same one.
const pubSub = new SingleProcessPubSub();
const BCAST_TOPIC = "bcast";
// The server-wide broadcast number every /counter shows as bc-<n>. The whole text is one
// dynamic (not "bc-" static plus a number) so a push carries the text a user sees.
let broadcasts = 0;

const ROWS = 100;

const counterLiveView = createLiveView({
  mount: (socket) => {
    socket.assign({ count: 0, bcast: `bc-${broadcasts}` });
    // The HTTP render has no socket to push to; only the live one listens.
    if (socket.connected) {
      socket.subscribe(BCAST_TOPIC);
    }
  },
  handleEvent: (event, socket) => {
    switch (event.type) {
      case "inc":
        socket.assign({ count: socket.context.count + 1 });
        break;
      case "broadcast":
        broadcasts += 1;
        // Every subscriber, this session included, renders it in handleInfo.
        pubSub.broadcast(BCAST_TOPIC, { type: BCAST_TOPIC, n: broadcasts });
        break;
    }
  },
  handleInfo: (info, socket) => {
    if (info.type === BCAST_TOPIC) {
      socket.assign({ bcast: `bc-${info.n}` });
    }
  },
  render: (context) => html`<main>
  <h1>Counter</h1>
  <p>Count: <span id="count">${context.count}</span></p>
  <p>Broadcast: <span id="bcast">${context.bcast}</span></p>
  <button phx-click="inc">+1</button>
  <button phx-click="broadcast">Broadcast</button>
</main>`,
});

const tableLiveView = createLiveView({
  mount: (socket) => {
    socket.assign({ values: new Array(ROWS).fill(0) });
  },
  handleEvent: (event, socket) => {
    if (event.type !== "bump") {
      return;
    }
    // phx-value-row arrives as a string; anything but a row index is ignored.
    const row = Number(event.row);
    if (!Number.isInteger(row) || row < 0 || row >= ROWS) {
      return;
    }
    const values = socket.context.values.slice();
    values[row] += 1;
    socket.assign({ values });
  },
  render: (context) => html`<main>
  <h1>Table</h1>
  <table>
    <tbody>
      ${context.values.map(
        (value, i) =>
          html`<tr><td>row-${i}</td><td>name-${i}</td><td>${value}</td><td><button phx-click="bump" phx-value-row="${i}">bump</button></td></tr>`
      )}
    </tbody>
  </table>
</main>`,
});

const listLiveView = createLiveView({
  mount: (socket) => {
    socket.assign({ items: [] });
  },
  handleEvent: (event, socket) => {
    if (event.type === "add") {
      const items = socket.context.items;
      socket.assign({ items: [...items, `item-${items.length + 1}`] });
    }
  },
  render: (context) => html`<main>
  <h1>List</h1>
  <button phx-click="add">Add</button>
  <ul>
    ${context.items.map((item) => html`<li>${item}</li>`)}
  </ul>
</main>`,
});

const router = {
  "/counter": counterLiveView,
  "/table": tableLiveView,
  "/list": listLiveView,
};

// The page around the live root: the CSRF token the socket's join must carry, nothing
// else (the benchmark does not load the browser client).
const pageTemplate = (titleOptions, csrfToken, content) => html`<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="csrf-token" content="${csrfToken}" />
    ${live_title_tag(titleOptions.title ?? "", { suffix: titleOptions.suffix ?? "" })}
  </head>
  <body>
    ${safe(content)}
  </body>
</html>`;

const signingSecret = process.env.SESSION_SECRET || "mizulive-bench-liveviewjs";

const app = express();
app.use(
  session({
    secret: signingSecret,
    resave: false,
    rolling: true,
    saveUninitialized: true,
    cookie: { sameSite: "strict", maxAge: 1000 * 60 * 60 },
    store: new session.MemoryStore(),
  })
);

const liveView = new NodeExpressLiveViewServer(
  router,
  pageTemplate,
  { title: "bench" },
  { serDeSigningSecret: signingSecret, pubSub, onError: (err) => console.error(err) }
);
app.use(liveView.httpMiddleware());

const httpServer = new Server();
httpServer.on("request", app);
const wsServer = new WebSocketServer({ server: httpServer });
liveView.wsMiddleware()(wsServer);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(0));
}

const port = Number(process.env.PORT || 0);
httpServer.listen(port, "127.0.0.1", () => {
  const { address, port: bound } = httpServer.address();
  console.log(`peer listening on http://${address}:${bound}`);
});
