'use strict';
// Shared plumbing for the browser suite: starting a host's conformance app, launching
// Debian's Chromium through playwright-core, and condition-based waits.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const E2E = path.resolve(__dirname, '..');
const ROOT = path.resolve(E2E, '..');
const VIEWS = path.join(E2E, 'views');
const SHOTS = path.join(E2E, 'screenshots');
const HOSTS = ['c', 'python', 'go', 'go-embed', 'python-asgi'];

// How each host's app is started (built beforehand by run.sh). E2E_APP_CMD overrides
// the conformance app (whitespace-separated argv), for trying the suite against another
// implementation. `name` "widgets" is the runtime tests' app, in Python only.
function appCommand(host, name = 'conformance') {
  if (name !== 'conformance') {
    if (host !== 'python') throw new Error(`the ${name} app exists in Python only`);
    return pythonCommand(name);
  }
  if (process.env.E2E_APP_CMD) {
    const argv = process.env.E2E_APP_CMD.trim().split(/\s+/);
    return { cmd: argv[0], args: argv.slice(1), env: {} };
  }
  switch (host) {
    case 'c':
      return { cmd: path.join(E2E, 'apps/c/conformance'), args: [], env: {} };
    case 'go':
      return { cmd: path.join(E2E, 'apps/go/conformance'), args: [], env: {} };
    // The same Go app, its pages served from its own net/http server (lv.Mount).
    case 'go-embed':
      return { cmd: path.join(E2E, 'apps/go/conformance'), args: [], env: { E2E_EMBED: '1' } };
    case 'python':
      return pythonCommand(name);
    // The same Python app, served by uvicorn through app.asgi().
    case 'python-asgi': {
      const command = pythonCommand(name);
      return { ...command, env: { ...command.env, E2E_EMBED: '1' } };
    }
    default:
      throw new Error(`E2E_HOST must be one of ${HOSTS.join(', ')} (got ${JSON.stringify(host)})`);
  }
}

// The package `make python` installed in the project's virtualenv, with its compiled
// per-event path, as users run it; else (E2E_PYTHON, or no virtualenv) the source
// tree's, by PYTHONPATH.
function pythonCommand(name) {
  const venv = path.join(ROOT, '.venv/bin/python');
  const args = [path.join(E2E, `apps/python/${name}.py`)];
  if (!process.env.E2E_PYTHON && fs.existsSync(venv)) {
    return { cmd: venv, args, env: {} };
  }
  const pp = [path.join(ROOT, 'bindings/python'), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  return { cmd: process.env.E2E_PYTHON || 'python3', args, env: { PYTHONPATH: pp } };
}

const BANNER = /^(\w+) listening on (http:\/\/[^/\s]+\/)$/;

// Starts the app (`name`: conformance or widgets), resolves once its first stdout
// line (the banner) is read. `env` adds to its environment (MIZULIVE_REDIS, ...).
async function startApp(host, { dev, app: name = 'conformance', env: extra = {}, bannerTimeout = 20000 } = {}) {
  const { cmd, args, env } = appCommand(host, name);
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env,
      ...extra,
      MIZULIVE_ADDR: '127.0.0.1:0',
      MIZULIVE_VIEWS: VIEWS,
      MIZULIVE_DEV: dev ? '1' : '0',
      MIZULIVE_LOG: process.env.MIZULIVE_LOG || 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app = {
    host,
    dev,
    child,
    url: null,
    output: [], // stdout and stderr lines, for diagnostics
    exited: null, // {code, signal} once it exited
  };
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      app.exited = { code, signal };
      resolve(app.exited);
    });
  });
  app.exitedPromise = exited;
  const keep = (line) => {
    app.output.push(line);
    if (app.output.length > 400) app.output.shift();
  };
  let errBuf = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    errBuf += d;
    const lines = errBuf.split('\n');
    errBuf = lines.pop();
    lines.forEach((l) => keep('[stderr] ' + l));
  });
  let outBuf = '';
  let first = null;
  const banner = new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`cannot start ${cmd}: ${e.message}`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      outBuf += d;
      const lines = outBuf.split('\n');
      outBuf = lines.pop();
      for (const l of lines) {
        keep('[stdout] ' + l);
        if (first === null) {
          first = l.replace(/\r$/, '');
          const m = BANNER.exec(first);
          if (m && m[1] === name) resolve(m[2]);
          else reject(new Error(`first stdout line is not the banner: ${JSON.stringify(first)}`));
        }
      }
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`${cmd} exited (code ${code}, signal ${signal}) before its banner\n${tail(app)}`)));
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no banner from ${cmd} within ${bannerTimeout} ms\n${tail(app)}`)), bannerTimeout);
  });
  try {
    app.url = await Promise.race([banner, timeout]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return app;
}

// SIGINT, then the exit status (SIGKILL and an error after `timeout`).
async function stopApp(app, timeout = 10000) {
  if (!app) return null;
  if (app.exited) return app.exited;
  app.child.kill('SIGINT');
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), timeout);
  });
  const res = await Promise.race([app.exitedPromise, late]);
  clearTimeout(timer);
  if (!res) {
    app.child.kill('SIGKILL');
    await app.exitedPromise;
    throw new Error(`app did not exit within ${timeout} ms of SIGINT\n${tail(app)}`);
  }
  return res;
}

function tail(app, n = 40) {
  return app.output.slice(-n).join('\n');
}

// A real redis-server on a free port of 127.0.0.1, nothing saved, in its own temporary
// dir; resolves to {url, port, stop()} once it accepts connections. The port is picked
// by binding port 0 and closing it, so another process may take it meanwhile: a
// server that exits before it is ready is tried again on a new port (3 times).
async function startRedis({ readyTimeout = 10000 } = {}) {
  const bin = process.env.E2E_REDIS_SERVER || 'redis-server';
  let lastError = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mizulive-e2e-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Not left behind by a test process that ends without calling stop().
    const orphan = () => child.kill('SIGKILL');
    process.once('exit', orphan);
    const out = [];
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const ready = new Promise((resolve, reject) => {
      child.on('error', (e) => reject(new Error(`cannot start ${bin} (apt-get install redis-server): ${e.message}`)));
      let buf = '';
      const scan = (d) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop();
        for (const l of lines) {
          out.push(l);
          if (/Ready to accept connections/.test(l)) resolve();
        }
      };
      child.stdout.setEncoding('utf8').on('data', scan);
      child.stderr.setEncoding('utf8').on('data', scan);
      exited.then(({ code, signal }) => {
        const last = out.slice(-10).join('\n');
        reject(new Error(`redis-server exited (code ${code}, signal ${signal}) before it was ready:\n${last}`));
      });
    });
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`redis-server not ready within ${readyTimeout} ms`)), readyTimeout);
    });
    const stop = async () => {
      process.removeListener('exit', orphan);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
      await Promise.race([ready, late]);
      return { url: `redis://127.0.0.1:${port}/`, port, stop };
    } catch (e) {
      lastError = e;
      await stop();
      if (/cannot start/.test(e.message)) break;
    } finally {
      clearTimeout(timer);
    }
  }
  throw lastError;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = require('node:net').createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

// A plain launch: playwright gives it a fresh temporary user-data dir.
function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30000,
  });
}

// Retries `fn` (which throws or returns a falsy value while not yet satisfied) until
// it returns something truthy; its last error explains a timeout.
async function eventually(fn, { timeout = 10000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = null;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// A bounded pause, used only to show that something does NOT happen.
const quiet = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits for a live page to be joined (the runtime's class on the root).
async function connected(page, timeout = 10000) {
  await page.waitForSelector('[data-lv].lv-connected', { timeout, state: 'attached' });
}

async function openLive(context, url, timeout = 10000) {
  const page = await context.newPage();
  watchConsole(page);
  trackFrames(page);
  await page.goto(url, { waitUntil: 'load', timeout });
  await connected(page, timeout);
  return page;
}

// Console messages and page errors of `page`, kept on page.__log.
function watchConsole(page) {
  if (page.__log) return page.__log;
  const log = (page.__log = []);
  page.on('console', (m) => log.push({ type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => log.push({ type: 'pageerror', text: String(e && e.message) }));
  return log;
}

// Event frames the page sent and replies it got, over all its sockets (attach before
// the page connects: openLive does). Kept on page.__frames.
function trackFrames(page) {
  if (page.__frames) return page.__frames;
  const t = (page.__frames = { events: [], replies: [], patches: [], sockets: 0 });
  page.on('websocket', (ws) => {
    t.sockets++;
    ws.on('framesent', (f) => {
      const m = parse(f.payload);
      if (m && m.t === 'event') t.events.push(m);
    });
    ws.on('framereceived', (f) => {
      const m = parse(f.payload);
      // A patch is the one frame without a `t`; one with a ref is that event's reply
      // as well, a success (docs/protocol.md).
      const patch = m && m.t === undefined;
      if (m && m.t === 'reply') t.replies.push(m);
      if (patch && typeof m.ref === 'number') t.replies.push({ t: 'reply', ref: m.ref, ok: true });
      if (patch) t.patches.push(m);
    });
  });
  return t;
}

function parse(s) {
  try {
    return JSON.parse(typeof s === 'string' ? s : s.toString());
  } catch (_) {
    return null;
  }
}

async function text(page, selector) {
  return (await page.textContent(selector, { timeout: 5000 })).trim();
}

module.exports = {
  E2E,
  ROOT,
  VIEWS,
  SHOTS,
  HOSTS,
  startApp,
  stopApp,
  tail,
  startRedis,
  launchBrowser,
  eventually,
  quiet,
  connected,
  openLive,
  watchConsole,
  trackFrames,
  text,
};
