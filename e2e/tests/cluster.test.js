'use strict';
// The conformance app (e2e/SPEC.md) on two nodes sharing one real redis-server, behind
// a test proxy (tests/proxy.js) that sends each connection to the first node alive.
// Node 1 is killed with SIGKILL under a live page; the browser carries on on node 2
// without a reload. For the host named by E2E_HOST (c, python or go); run through
// e2e/run.sh, or: E2E_HOST=c node --test tests/cluster.test.js
//
// Every wait is a condition with a timeout.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');
const { startProxy } = require('./proxy');

const HOST = process.env.E2E_HOST || 'c';
const T = { timeout: 60000 };
const INC = 'button[data-lv-click="inc"]';
// Same on both nodes: a token signed by one verifies on the other.
const SECRET = 'e2e-cluster-secret-0123456789abcdef';
// The dead node's liveness key expires after 3 s; then the waiting join goes through.
const FAILOVER_MS = 15000;

let redis = null;
let browser = null;
const running = new Set(); // nodes and proxies still to close

before(async () => {
  fs.mkdirSync(h.SHOTS, { recursive: true });
  for (const f of fs.readdirSync(h.SHOTS)) if (f.startsWith(`${HOST}-cluster-fail-`)) fs.rmSync(path.join(h.SHOTS, f));
  const [r, b] = await Promise.allSettled([h.startRedis(), h.launchBrowser()]);
  if (r.status === 'fulfilled') redis = r.value;
  if (b.status === 'fulfilled') browser = b.value;
  if (r.status === 'rejected') throw r.reason;
  if (b.status === 'rejected') throw b.reason;
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const x of running) await x.close().catch(() => {});
  if (redis) await redis.stop();
});

// Two nodes of the host's app on the suite's Redis and the proxy in front, node 1
// first. close() kills what is left.
async function startCluster() {
  const env = { MIZULIVE_REDIS: redis.url, MIZULIVE_SECRET: SECRET };
  const started = await Promise.allSettled([h.startApp(HOST, { env }), h.startApp(HOST, { env })]);
  const nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const close = async () => {
    for (const n of nodes) if (!n.exited) n.child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exitedPromise));
  };
  const bad = started.find((s) => s.status === 'rejected');
  if (bad) {
    await close();
    throw bad.reason;
  }
  const proxy = await startProxy(nodes.map((n) => n.url));
  const cluster = {
    nodes,
    proxy,
    url: (p) => new URL(p, proxy.url).href,
    // SIGKILL: no shutdown, no handover; the node's sessions are left in Redis.
    kill: async (i) => {
      nodes[i].child.kill('SIGKILL');
      const res = await nodes[i].exitedPromise;
      assert.equal(res.signal, 'SIGKILL');
    },
    close: async () => {
      running.delete(cluster);
      await proxy.close();
      await close();
    },
  };
  running.add(cluster);
  return cluster;
}

// A scenario gets a fresh cluster and browser contexts, closed after it; on failure each
// open page is saved as screenshots/<host>-cluster-fail-<n>-<i>.png and the nodes'
// last output is printed.
function scenario(name, fn) {
  test(name, T, async () => {
    const mine = [];
    const ctx = async (opts = {}) => {
      const c = await browser.newContext({ viewport: { width: 800, height: 600 }, ...opts });
      mine.push(c);
      return c;
    };
    const cluster = await startCluster();
    try {
      await fn({ ctx, cluster, url: cluster.url });
    } catch (e) {
      const n = name.split(' ')[0];
      let i = 0;
      for (const c of mine) {
        for (const p of c.pages()) {
          await p.screenshot({ path: path.join(h.SHOTS, `${HOST}-cluster-fail-${n}-${i++}.png`) }).catch(() => {});
        }
      }
      cluster.nodes.forEach((node, k) => console.log(`--- last output of ${HOST} node ${k + 1} ---\n${h.tail(node)}`));
      throw e;
    } finally {
      for (const c of mine) await c.close().catch(() => {});
      await cluster.close();
    }
  });
}

// The `joined` frames a page receives, over all its sockets, and whether it loaded
// anew (a reload would show in both the marker and this count).
function trackPage(page) {
  const t = { joined: [], loads: 0 };
  page.on('load', () => t.loads++);
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => {
      try {
        const m = JSON.parse(typeof f.payload === 'string' ? f.payload : f.payload.toString());
        if (m && m.t === 'joined') t.joined.push(m);
      } catch (_) {
        /* not JSON: not ours */
      }
    });
  });
  return t;
}

async function openLive(context, url) {
  const page = await context.newPage();
  h.watchConsole(page);
  const t = trackPage(page);
  await page.goto(url, { waitUntil: 'load', timeout: 10000 });
  await h.connected(page);
  await page.evaluate(() => (window.__marker = 'before the kill'));
  return { page, t };
}

// Kills node 1 and waits until every page has joined again (on node 2, resumed, with
// the whole body) and is live; asserts none of them reloaded.
async function killAndResume(cluster, pages) {
  for (const { page, t } of pages) {
    t.joinsBefore = t.joined.length;
    t.loadsBefore = t.loads;
    // Watches the root's class from here on: the drop shows, then the live state again.
    await page.evaluate(() => {
      const r = document.querySelector('[data-lv]');
      window.__lvDropped = false;
      new MutationObserver(() => {
        if (r.classList.contains('lv-disconnected')) window.__lvDropped = true;
      }).observe(r, { attributes: true, attributeFilter: ['class'] });
    });
  }
  const killedAt = Date.now();
  await cluster.kill(0);
  await Promise.all(
    pages.map(({ page }) =>
      page.waitForFunction(
        () => window.__lvDropped && document.querySelector('[data-lv]').classList.contains('lv-connected'),
        null,
        { timeout: FAILOVER_MS, polling: 50 },
      ),
    ),
  );
  const took = Date.now() - killedAt;
  assert.equal(cluster.proxy.last, 1, 'the latest connection went to node 2');
  for (const { page, t } of pages) {
    assert.equal(await page.evaluate(() => window.__marker), 'before the kill', 'the page was not reloaded');
    assert.equal(t.loads, t.loadsBefore, 'no load event since the kill');
    const j = t.joined.slice(t.joinsBefore);
    assert.ok(j.length >= 1, 'joined again after the kill');
    const last = j[j.length - 1];
    const seen = JSON.stringify(last).slice(0, 200);
    assert.equal(last.resumed, true, `the session was resumed, not mounted afresh: ${seen}`);
    assert.equal(typeof last.root, 'string', 'the resume sent the whole body');
  }
  return took;
}

const countIs = (page, n, timeout = 10000) =>
  page.waitForFunction((want) => document.getElementById('count')?.textContent.trim() === String(want), n, {
    timeout,
    polling: 25,
  });

const number = async (page, sel) => Number(await h.text(page, sel));

// -- 21

scenario('21 cluster counter: node 1 killed, the count carries on on node 2', async ({ ctx, url, cluster }) => {
  const counter = await openLive(await ctx(), url('/counter'));
  const { page } = counter;
  for (let i = 1; i <= 3; i++) {
    await page.click(INC);
    await countIs(page, i);
  }
  assert.deepEqual(cluster.proxy.served.map((n) => n > 0), [true, false], 'node 1 served everything so far');
  const took = await killAndResume(cluster, [counter]);
  assert.equal(await h.text(page, '#count'), '3', 'the state came over from node 1');
  assert.match(await h.text(page, '#log'), /inc 1 → 3/);
  await page.click(INC);
  await countIs(page, 4);
  assert.match(await h.text(page, '#log'), /inc 1 → 4/);
  assert.equal(await page.evaluate(() => window.__marker), 'before the kill');
  console.log(`${HOST}: live again on node 2 ${took} ms after the kill`);
});

// -- 22

scenario('22 cluster form and feed: the timer ticks and items arrive on node 2', async ({ ctx, url, cluster }) => {
  const context = await ctx();
  const form = await openLive(context, url('/form'));
  const feed = await openLive(context, url('/feed'));
  await form.page.waitForFunction(() => Number(document.getElementById('ticks').textContent) >= 2, null, {
    timeout: 5000,
  });
  await feed.page.waitForFunction(() => document.querySelectorAll('#items .item').length >= 2, null, { timeout: 5000 });
  const ticks = await number(form.page, '#ticks');

  await killAndResume(cluster, [form, feed]);

  // The clock restarted from the stored state (a fresh mount would start at 0) and
  // keeps ticking: node 2 re-armed the timer.
  const resumedAt = await number(form.page, '#ticks');
  assert.ok(resumedAt >= ticks, `ticks went on from the stored state (${ticks} before the kill, ${resumedAt} after)`);
  await form.page.waitForFunction((x) => Number(document.getElementById('ticks').textContent) >= x + 3, resumedAt, {
    timeout: 5000,
  });

  // Items keep arriving: node 2 re-subscribed the session (both nodes publish on feed,
  // so only their arrival is checked).
  await feed.page.evaluate(() => {
    window.__feedPatches = 0;
    new MutationObserver(() => window.__feedPatches++).observe(document.getElementById('items'), {
      childList: true,
      subtree: true,
      characterData: true,
    });
  });
  await feed.page.waitForFunction(() => window.__feedPatches >= 3, null, { timeout: 5000 });
  assert.ok((await feed.page.locator('#items .item').count()) <= 5);

  // Events still work on the form after the move.
  await form.page.bringToFront();
  const v0 = await number(form.page, '#validations');
  await form.page.click('#name');
  await form.page.keyboard.type('after the kill', { delay: 10 });
  await form.page.waitForFunction((v) => Number(document.getElementById('validations').textContent) > v, v0, {
    timeout: 5000,
  });
  for (const { page } of [form, feed]) assert.equal(await page.evaluate(() => window.__marker), 'before the kill');
});

// -- 23

scenario('23 cluster without JavaScript: node 1 killed between the 303 and its GET', async ({ ctx, url, cluster }) => {
  const context = await ctx({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(url('/form'));
  assert.equal(await page.locator('[data-lv].lv-connected').count(), 0, 'no runtime ran');

  // Node 1 answers the POST; its 303 reaches the browser only once node 1 is dead, so
  // the GET it leads to (and whatever follows) lands on node 2.
  let killed = false;
  cluster.proxy.onReply = async (i, chunk) => {
    if (i === 0 && !killed && /^HTTP\/1\.[01] 303 /.test(chunk.toString('latin1', 0, 16))) {
      killed = true;
      await cluster.kill(0);
    }
  };
  await page.fill('#name', 'Before Kill');
  await page.click('#save');
  await h.eventually(async () => (await page.locator('.flash').count()) === 1, {
    timeout: FAILOVER_MS,
    what: 'the flash after the redirect',
  });
  assert.ok(killed, 'node 1 answered the POST with a 303, then was killed');
  assert.equal(cluster.proxy.last, 1, 'node 2 answered the GET');
  assert.equal(await h.text(page, '.flash'), 'Saved Before Kill', 'the flash set on node 1');
  assert.equal(await h.text(page, '#saved'), '1', 'the save made on node 1');
  assert.equal(new URL(page.url()).pathname, '/form');

  // The next POST, on node 2, goes on from there.
  await page.fill('#name', 'After Kill');
  await page.click('#save');
  await h.eventually(async () => (await h.text(page, '#saved')) === '2', { what: 'the second save' });
  assert.equal(await h.text(page, '.flash'), 'Saved After Kill');
});

// -- 24

scenario('24 cluster: an event in flight at the kill and a click during the failover, each applied once', async ({
  ctx,
  url,
  cluster,
}) => {
  const counter = await openLive(await ctx(), url('/counter'));
  const { page, t } = counter;
  await page.click(INC);
  await countIs(page, 1);
  const loads = t.loads;
  // `slow` sleeps a second in its callback on node 1, which dies meanwhile: its reply
  // never comes, so the page sends it again to node 2.
  await page.click('#slow');
  await page.waitForFunction(() => document.getElementById('slow').classList.contains('lv-loading'), null, {
    timeout: 5000,
    polling: 10,
  });
  await cluster.kill(0);
  // A click while the page is reconnecting is held, not posted as a page load.
  await page.waitForFunction(() => document.querySelector('[data-lv]').classList.contains('lv-disconnected'), null, {
    timeout: 5000,
    polling: 10,
  });
  await page.click(INC);
  await countIs(page, 3, FAILOVER_MS);
  // Each once, in the order they were made: the slow one, then the held click.
  await h.eventually(async () => /slow 1 → 2[\s\S]*inc 1 → 3/.test(await h.text(page, '#log')), {
    what: 'the log after the failover',
  });
  const log = await h.text(page, '#log');
  assert.equal((log.match(/slow 1/g) || []).length, 1, `slow applied once: ${log}`);
  assert.equal(await page.evaluate(() => window.__marker), 'before the kill', 'the page was not reloaded');
  assert.equal(t.loads, loads, 'no load event since the kill');
  assert.equal(cluster.proxy.last, 1, 'node 2 serves the page now');
});
