'use strict';
// A test proxy in front of several nodes: each TCP connection (HTTP and WebSocket
// alike) goes to the first backend of the list that accepts one, so a dead node is
// skipped. No HTTP parsing, no stickiness: like a plain TCP load balancer in
// failover mode.
//
//   const proxy = await startProxy(['http://127.0.0.1:4001/', 'http://127.0.0.1:4002/']);
//   proxy.url         // http://127.0.0.1:<port>/
//   proxy.last        // index of the backend that took the latest connection (-1: none yet)
//   proxy.served      // connections taken, per backend
//   proxy.onReply = async (i, chunk) => {}  // sees (and may hold) each chunk from backend i
//   await proxy.close()

const net = require('node:net');

// Connecting to a backend that neither accepts nor refuses (a stopped process) gives up
// after this long and tries the next one.
const CONNECT_TIMEOUT_MS = 2000;

function startProxy(backendUrls) {
  const backends = backendUrls.map((u) => {
    const { hostname, port } = new URL(u);
    return { host: hostname, port: Number(port) };
  });
  const live = new Set(); // every open socket, both sides, for close()
  const proxy = { url: null, last: -1, served: backends.map(() => 0), refused: 0 };

  const track = (sock) => {
    live.add(sock);
    sock.on('close', () => live.delete(sock));
  };

  // Connects to backends[i], or to the next one if that fails; null once none is left.
  function dial(i, cb) {
    if (i >= backends.length) return cb(null, -1);
    const up = net.connect(backends[i]);
    up.setTimeout(CONNECT_TIMEOUT_MS, () => up.destroy(new Error('connect timeout')));
    const failed = () => {
      up.destroy();
      dial(i + 1, cb);
    };
    up.once('error', failed);
    up.once('connect', () => {
      up.removeListener('error', failed);
      up.setTimeout(0);
      cb(up, i);
    });
  }

  const server = net.createServer((client) => {
    track(client);
    client.pause(); // bytes wait in the kernel until a backend is chosen
    client.on('error', () => client.destroy());
    dial(0, (up, i) => {
      if (!up) {
        proxy.refused++;
        return client.destroy();
      }
      if (client.destroyed) return up.destroy();
      track(up);
      proxy.last = i;
      proxy.served[i]++;
      up.setNoDelay(true);
      client.setNoDelay(true);
      // Backend to browser, one chunk at a time through proxy.onReply when set (a test
      // can hold a reply until it has killed a node).
      let sent = Promise.resolve();
      up.on('data', (chunk) => {
        up.pause();
        sent = sent
          .then(() => proxy.onReply && proxy.onReply(i, chunk))
          .then(() => (client.write(chunk) ? up.resume() : client.once('drain', () => up.resume())))
          .catch(() => client.destroy());
      });
      // Either side closing (a node killed: its kernel closes the socket) closes the
      // other, so the browser sees the drop at once, after what was read from it.
      up.on('error', () => up.destroy());
      up.on('close', () => sent.then(() => client.end()));
      client.on('close', () => up.destroy());
      client.pipe(up);
      client.resume();
    });
  });

  proxy.close = () =>
    new Promise((resolve) => {
      for (const s of live) s.destroy();
      server.close(() => resolve());
    });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      proxy.url = `http://127.0.0.1:${server.address().port}/`;
      resolve(proxy);
    });
  });
}

module.exports = { startProxy };
