'use strict';
// The conformance app (e2e/SPEC.md) in a real browser, for the host named by E2E_HOST
// (c, python, go, go-embed or python-asgi). Run through e2e/run.sh, or: E2E_HOST=c node --test tests/
//
// Every wait is a condition with a timeout; the few fixed pauses (`quiet`) only show
// that something does NOT happen.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

const HOST = process.env.E2E_HOST || 'c';
const T = { timeout: 45000 };
const INC = 'button[data-lv-click="inc"]';

let app = null; // the dev-mode instance every scenario shares
let browser = null;
const contexts = new Set();
let failed = false;

before(async () => {
  fs.mkdirSync(h.SHOTS, { recursive: true });
  for (const f of fs.readdirSync(h.SHOTS)) if (f.startsWith(`${HOST}-fail-`)) fs.rmSync(path.join(h.SHOTS, f));
  // Both started at once; whichever succeeded is kept for after() to close.
  const [a, b] = await Promise.allSettled([h.startApp(HOST, { dev: true }), h.launchBrowser()]);
  if (a.status === 'fulfilled') app = a.value;
  if (b.status === 'fulfilled') browser = b.value;
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (app && !app.exited) {
    app.child.kill('SIGKILL');
  }
  if (failed && app) console.log(`--- last output of the ${HOST} app ---\n${h.tail(app)}`);
});

// A scenario gets fresh browser contexts (own cookies and storage), closed after it;
// on failure each open page is saved as screenshots/<host>-fail-<n>-<i>.png.
function scenario(name, fn) {
  test(name, T, async () => {
    const mine = [];
    const ctx = async (opts = {}) => {
      const c = await browser.newContext({ viewport: { width: 800, height: 600 }, ...opts });
      contexts.add(c);
      mine.push(c);
      return c;
    };
    try {
      await fn({ ctx, url: (p) => new URL(p, app.url).href });
    } catch (e) {
      failed = true;
      const n = name.split(' ')[0];
      let i = 0;
      for (const c of mine) {
        for (const p of c.pages()) {
          await p.screenshot({ path: path.join(h.SHOTS, `${HOST}-fail-${n}-${i++}.png`) }).catch(() => {});
        }
      }
      throw e;
    } finally {
      for (const c of mine) {
        contexts.delete(c);
        await c.close().catch(() => {});
      }
    }
  });
}

const countIs = (page, n, timeout = 10000) =>
  page.waitForFunction((want) => document.getElementById('count')?.textContent.trim() === String(want), n, {
    timeout,
    polling: 25,
  });

async function dropSockets() {
  const res = await fetch(new URL('/_live/dev/drop-sockets', app.url), { method: 'POST' });
  assert.ok(res.ok, `POST /_live/dev/drop-sockets answered ${res.status}`);
  await res.text();
}

// Records every lv-connected/lv-disconnected state of the root (transitions are fast).
function recordStates(page) {
  return page.evaluate(() => {
    const r = document.querySelector('[data-lv]');
    const st = () => (r.classList.contains('lv-disconnected') ? 'disconnected' : r.classList.contains('lv-connected') ? 'connected' : 'none');
    window.__lvStates = [st()];
    new MutationObserver(() => {
      const s = st();
      if (window.__lvStates[window.__lvStates.length - 1] !== s) window.__lvStates.push(s);
    }).observe(r, { attributes: true, attributeFilter: ['class'] });
  });
}

// -- 1

scenario('1 counter: three clicks show 3, only dirty regions change', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/counter'));
  assert.equal(await h.text(page, '#count'), '0');
  // Marks outside the patched regions: an attribute and the node's identity.
  await page.evaluate(() => {
    const t = document.getElementById('title');
    t.setAttribute('data-e2e', 'kept');
    window.__title = t;
  });
  for (let i = 0; i < 3; i++) await page.click(INC);
  await countIs(page, 3);
  await page.waitForFunction(() => /inc 1 → 3/.test(document.getElementById('log').textContent), null, { timeout: 5000 });
  const kept = await page.evaluate(() => {
    const t = document.getElementById('title');
    return { attr: t.getAttribute('data-e2e'), same: t === window.__title };
  });
  assert.deepEqual(kept, { attr: 'kept', same: true }, '#title (not a region) was left alone');
  assert.equal(await page.locator('#log li').count(), 3);
  // No hover or focus ring in the picture (docs/screenshot-counter.png comes from it).
  await page.mouse.move(0, 0);
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: path.join(h.SHOTS, `${HOST}-counter.png`) });
});

// -- 2

scenario('2 typing survives timer patches: focus, caret and text kept', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/form'));
  const frames = h.trackFrames(page);
  const ticks = async () => Number(await h.text(page, '#ticks'));
  await page.waitForFunction(() => Number(document.getElementById('ticks').textContent) >= 1, null, { timeout: 5000 });
  await page.click('#name');
  const t0 = await ticks();
  const typed = 'hello world, typing on';
  await page.keyboard.type(typed, { delay: 50 });
  const t1 = await ticks();
  assert.ok(t1 - t0 >= 2, `#ticks should advance while typing (was ${t0}, then ${t1})`);
  // Caret into the middle, insert there.
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
  await page.keyboard.type('X', { delay: 20 });
  const want = typed.slice(0, -3) + 'X' + typed.slice(-3);
  const sentAtEnd = frames.events.length;
  // The debounced validate for the final text goes out and is answered; the clock
  // keeps patching meanwhile.
  await h.eventually(() => frames.events.length > sentAtEnd && frames.replies.length >= frames.events.length, {
    what: 'the final validate and its reply',
  });
  const t2 = await ticks();
  await page.waitForFunction((t) => Number(document.getElementById('ticks').textContent) >= t + 3, t2, { timeout: 5000 });
  const last = frames.events[frames.events.length - 1];
  assert.equal(last.name, 'validate');
  assert.deepEqual(last.form.name, [want]);
  const st = await page.evaluate(() => {
    const el = document.getElementById('name');
    return { focused: document.activeElement === el, value: el.value, start: el.selectionStart, end: el.selectionEnd };
  });
  assert.deepEqual(st, { focused: true, value: want, start: want.length - 3, end: want.length - 3 });
  assert.ok(Number(await h.text(page, '#validations')) >= 1, 'validate patches arrived');
  assert.equal(await page.locator('#errors .error').count(), 0);
});

// -- 3

scenario('3 debounced validation: few server validations, error shown and cleared', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/form'));
  const frames = h.trackFrames(page);
  const validations = async () => Number(await h.text(page, '#validations'));
  const settle = async (sent) => {
    await h.eventually(() => frames.events.length > sent && frames.replies.length >= frames.events.length, {
      what: 'a validate and its reply',
    });
  };
  const v0 = await validations();
  await page.click('#name');
  const name = 'Genevieve Alexandra'; // 19 keystrokes
  let sent = frames.events.length;
  await page.keyboard.type(name, { delay: 20 });
  await settle(sent);
  await page.waitForFunction((v) => Number(document.getElementById('validations').textContent) > v, v0, { timeout: 5000 });
  // Nothing more is coming: longer than the 300 ms debounce.
  await h.quiet(500);
  const v1 = await validations();
  const n = v1 - v0;
  assert.ok(n >= 1 && n < name.length / 2, `${name.length} keystrokes gave ${n} validations (want 1..${Math.ceil(name.length / 2) - 1})`);
  assert.equal(await page.inputValue('#name'), name);

  // Too short, then long enough.
  await page.keyboard.press('ControlOrMeta+A');
  sent = frames.events.length;
  await page.keyboard.type('Al', { delay: 20 });
  await page.waitForFunction(
    () => document.querySelector('#errors .error')?.textContent.trim() === 'Name must be at least 3 characters',
    null,
    { timeout: 5000 },
  );
  await settle(sent);
  sent = frames.events.length;
  await page.keyboard.type('i', { delay: 20 });
  await page.waitForFunction(() => !document.querySelector('#errors .error'), null, { timeout: 5000 });
  await settle(sent);
  assert.equal(await page.inputValue('#name'), 'Ali');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'name');
});

// -- 4

scenario('4 slow event: lv-loading on the button and its form while in flight', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/counter'));
  const c0 = Number(await h.text(page, '#count'));
  await page.click('#slow');
  const during = await page.waitForFunction(
    () => {
      const b = document.getElementById('slow');
      return (
        b.classList.contains('lv-loading') &&
        b.form.classList.contains('lv-loading') && { count: document.getElementById('count').textContent.trim() }
      );
    },
    null,
    { timeout: 2000, polling: 10 },
  );
  assert.equal((await during.jsonValue()).count, String(c0), 'the count changes only with the reply');
  await page.waitForFunction(
    (want) => {
      const b = document.getElementById('slow');
      return (
        document.getElementById('count').textContent.trim() === String(want) &&
        !b.classList.contains('lv-loading') &&
        !b.form.classList.contains('lv-loading')
      );
    },
    c0 + 1,
    { timeout: 5000 },
  );
  assert.match(await h.text(page, '#log'), new RegExp(`slow 1 → ${c0 + 1}`));
  assert.equal(await page.locator('.lv-loading').count(), 0);
});

// -- 5

scenario('5 JavaScript disabled: counter and form work by POST, flash shows once', async ({ ctx, url }) => {
  const context = await ctx({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(url('/counter'));
  assert.equal(await page.locator('[data-lv].lv-connected').count(), 0, 'no runtime ran');
  for (let i = 1; i <= 3; i++) {
    await page.click(INC);
    await h.eventually(async () => (await h.text(page, '#count')) === String(i), { what: `count ${i} after a POST` });
    assert.equal(new URL(page.url()).pathname, '/counter');
  }
  assert.match(await h.text(page, '#log'), /inc 1 → 3/);

  await page.goto(url('/form'));
  assert.equal(await page.locator('.flash').count(), 0);
  await page.fill('#name', 'Nojs Norma');
  await page.click('#save');
  await h.eventually(async () => (await page.locator('.flash').count()) === 1, { what: 'the flash after the redirect' });
  assert.equal(await h.text(page, '.flash'), 'Saved Nojs Norma');
  assert.equal(new URL(page.url()).pathname, '/form');
  assert.equal(await h.text(page, '#saved'), '1');
  await page.reload();
  await h.eventually(async () => (await page.locator('#name').count()) === 1, { what: 'the reloaded form' });
  assert.equal(await page.locator('.flash').count(), 0, 'the flash shows once');
});

// -- 6

scenario('6 chat: a message reaches the other browser without reload', async ({ ctx, url }) => {
  const room = `e2e-${HOST}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const a = await h.openLive(await ctx(), url(`/rooms/${room}`));
  const b = await h.openLive(await ctx(), url(`/rooms/${room}`));
  assert.equal(await h.text(a, '#room'), room);
  await b.evaluate(() => (window.__marker = 'b'));
  const has = (page, msg) =>
    page.waitForFunction(
      (m) => [...document.querySelectorAll('#messages .message')].some((li) => li.textContent.trim() === m),
      msg,
      { timeout: 5000 },
    );
  await a.fill('#text', 'hello from A');
  await a.press('#text', 'Enter');
  await Promise.all([has(a, 'hello from A'), has(b, 'hello from A')]);
  const emptied = (p) => h.eventually(async () => (await p.inputValue('#text')) === '', { what: 'the sent text cleared' });
  await emptied(a);
  await b.fill('#text', 'hi A, this is B');
  await b.click('#send');
  await Promise.all([has(a, 'hi A, this is B'), has(b, 'hi A, this is B')]);
  await emptied(b);
  assert.equal(await b.evaluate(() => window.__marker), 'b', 'B was not reloaded');
  for (const p of [a, b]) {
    assert.deepEqual(
      await p.$$eval('#messages .message', (els) => els.map((e) => e.textContent.trim())),
      ['hello from A', 'hi A, this is B'],
    );
  }
  await a.screenshot({ path: path.join(h.SHOTS, `${HOST}-chat.png`) });
});

// -- 7

scenario('7 dropped sockets: reconnect, same state, typed text kept, events work', async ({ ctx, url }) => {
  const context = await ctx();
  const counter = await h.openLive(context, url('/counter'));
  await counter.click(INC);
  await countIs(counter, 1);
  await counter.click(INC);
  await countIs(counter, 2);

  const form = await h.openLive(context, url('/form'));
  await form.click('#name');
  await form.keyboard.type('keep me', { delay: 10 });
  const v0 = Number(await h.text(form, '#validations'));

  await recordStates(counter);
  await recordStates(form);
  await dropSockets();
  const cycled = () =>
    window.__lvStates.includes('disconnected') && window.__lvStates[window.__lvStates.length - 1] === 'connected';
  await Promise.all([
    counter.waitForFunction(cycled, null, { timeout: 10000, polling: 25 }),
    form.waitForFunction(cycled, null, { timeout: 10000, polling: 25 }),
  ]);
  assert.equal(await h.text(counter, '#count'), '2', 'same session after the reconnect');
  assert.equal(await form.inputValue('#name'), 'keep me', 'typed text kept');

  await counter.click(INC);
  await countIs(counter, 3);
  // The form is live again: the clock ticks and a validate gets through.
  const t = Number(await h.text(form, '#ticks'));
  await form.waitForFunction((x) => Number(document.getElementById('ticks').textContent) > x + 1, t, { timeout: 5000 });
  await form.bringToFront();
  await form.click('#name');
  await form.keyboard.press('End');
  await form.keyboard.type(' more', { delay: 10 });
  await form.waitForFunction((v) => Number(document.getElementById('validations').textContent) > v, v0, { timeout: 5000 });
  assert.equal(await form.inputValue('#name'), 'keep me more');
});

// -- 8

scenario('8 redirect, navigate and a flash that shows once', async ({ ctx, url }) => {
  const context = await ctx();
  const page = await h.openLive(context, url('/form'));

  // redirect: a full page load of /counter
  await page.evaluate(() => (window.__marker = 'redirect'));
  await page.click('#redirect');
  await page.waitForURL((u) => u.pathname === '/counter', { timeout: 5000 });
  await h.connected(page);
  assert.equal(await h.text(page, '#title'), 'Counter');
  assert.equal(await page.evaluate(() => window.__marker), undefined, 'a redirect is a full load');

  // navigate: pushState and a body swap, no reload; the feed is live
  await page.goto(url('/form'));
  await h.connected(page);
  const before = await page.evaluate(() => {
    window.__marker = 'navigate';
    return history.length;
  });
  await page.click('#navigate');
  await page.waitForURL((u) => u.pathname === '/feed', { timeout: 5000 });
  await page.waitForFunction(() => document.querySelector('h1')?.textContent.trim() === 'Feed', null, { timeout: 5000 });
  await h.connected(page);
  const after = await page.evaluate(() => ({ marker: window.__marker, length: history.length }));
  assert.deepEqual(after, { marker: 'navigate', length: before + 1 }, 'pushState without a reload');
  const first = await page.waitForFunction(
    () => {
      const m = /item (\d+)/.exec(document.querySelector('#items .item')?.textContent || '');
      return m && Number(m[1]);
    },
    null,
    { timeout: 5000 },
  );
  const n = await first.jsonValue();
  await page.waitForFunction((x) => {
    const m = /item (\d+)/.exec(document.querySelector('#items .item')?.textContent || '');
    return m && Number(m[1]) >= x + 2;
  }, n, { timeout: 5000 });
  assert.ok((await page.locator('#items .item').count()) <= 5);

  // flash, with JavaScript: shown by the save patch, gone on the next render of its region
  await page.goto(url('/form'));
  await h.connected(page);
  await page.fill('#name', 'Flash Gordon');
  await page.click('#save');
  await page.waitForFunction(() => document.querySelector('#flash .flash')?.textContent.trim() === 'Saved Flash Gordon', null, {
    timeout: 5000,
  });
  assert.equal(await h.text(page, '#saved'), '1');
  // A refused save re-renders the flash region: the flash does not come back. Typing
  // sends a (debounced) validate that shows the same error, so wait for it first, then
  // for the save's own reply (one more validation) before looking at the flash.
  await page.fill('#name', 'x');
  await page.waitForFunction(() => !!document.querySelector('#errors .error'), null, { timeout: 5000 });
  const validations = Number(await h.text(page, '#validations'));
  await page.click('#save');
  await page.waitForFunction((v) => Number(document.querySelector('#validations')?.textContent) === v + 1, validations, {
    timeout: 5000,
  });
  assert.equal(await page.locator('#flash .flash').count(), 0, 'the flash shows once');
  await page.reload();
  await h.connected(page);
  assert.equal(await page.locator('#flash .flash').count(), 0, 'not after a reload either');
});

// -- 9

scenario('9 host error: dev overlay with the detail; no detail without dev mode', async ({ ctx, url }) => {
  // dev mode (the shared instance)
  const page = await h.openLive(await ctx(), url('/counter'));
  await page.click(INC);
  await countIs(page, 1);
  await page.click('#boom');
  await page.waitForSelector('#lv-error-overlay', { state: 'visible', timeout: 5000 });
  assert.match(await h.text(page, '#lv-error-overlay'), /boom: the detailed reason/);
  assert.equal(await h.text(page, '#count'), '1', 'the failed event changed nothing');
  assert.ok(page.__log.some((m) => m.type === 'warning' && /host_error/.test(m.text)), 'the reply is logged');
  await page.click('#lv-error-overlay'); // dismiss
  await page.click(INC);
  await countIs(page, 2);
  assert.equal(await h.text(page, '#count'), '2');

  // without dev mode
  const prod = await h.startApp(HOST, { dev: false });
  try {
    const p = await h.openLive(await ctx(), new URL('/counter', prod.url).href);
    assert.equal(await p.evaluate(() => JSON.parse(document.getElementById('lv-boot').textContent).dev), false);
    await p.click(INC);
    await countIs(p, 1);
    await p.click('#boom');
    const warning = await h.eventually(
      () => p.__log.find((m) => m.type === 'warning' && /^mizulive:/.test(m.text)),
      { timeout: 5000, what: 'the failed reply on the console' },
    );
    assert.match(warning.text, /host_error/);
    assert.doesNotMatch(warning.text, /detailed reason|boom:/, 'no detail without dev mode');
    assert.equal(await p.locator('#lv-error-overlay').count(), 0, 'no overlay without dev mode');
    assert.equal(await h.text(p, '#count'), '1');
    await p.click(INC);
    await countIs(p, 2);
    assert.equal(await p.locator('#lv-error-overlay').count(), 0);
    const hook = await fetch(new URL('/_live/dev/drop-sockets', prod.url), { method: 'POST' });
    assert.ok(!hook.ok, `the dev hook does not exist without dev mode (got ${hook.status})`);
    await hook.text();
  } finally {
    const res = await h.stopApp(prod);
    assert.deepEqual(res, { code: 0, signal: null }, `the non-dev instance exits 0 on SIGINT\n${h.tail(prod)}`);
  }
});

// -- exactly once and form recovery

async function endSessions() {
  const res = await fetch(new URL('/_live/dev/end-sessions', app.url), { method: 'POST' });
  assert.ok(res.ok, `POST /_live/dev/end-sessions answered ${res.status}`);
  await res.text();
}

// Marks the live root; a fresh mount's body (joined.root) morphs the mark away.
const markRoot = (page) => page.evaluate(() => document.querySelector('[data-lv]').setAttribute('data-e2e-old', ''));
const remounted = (page) =>
  page.waitForFunction(() => !document.querySelector('[data-lv]').hasAttribute('data-e2e-old') &&
    document.querySelector('[data-lv]').classList.contains('lv-connected'), null, { timeout: 10000, polling: 25 });

scenario('11 lost replies: events in flight when the socket dies are sent again and applied once', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/counter'));
  const frames = h.trackFrames(page);
  const c0 = Number(await h.text(page, '#count'));
  await page.click('#slow');
  await page.waitForFunction(() => document.getElementById('slow').classList.contains('lv-loading'), null, {
    timeout: 2000,
    polling: 10,
  });
  // Queued behind the slow callback on the server; the socket dies before either
  // reply is written (and before the server takes the click), as a network failure would.
  await page.click(INC);
  await h.eventually(() => frames.events.some((e) => e.name === 'inc'), { what: 'the inc frame sent' });
  await page.evaluate(() => window.mizulive.socket().close());
  await countIs(page, c0 + 2);
  await page.waitForFunction(() => !document.querySelector('.lv-loading'), null, { timeout: 5000 });
  const log = await h.text(page, '#log');
  assert.equal(log.match(/slow 1 →/g)?.length, 1, `slow applied once: ${log}`);
  assert.equal(log.match(/inc 1 →/g)?.length, 1, `inc applied once: ${log}`);
  // The same numbers went out twice, under new refs, and each copy got a reply.
  const slow = frames.events.filter((e) => e.name === 'slow');
  assert.equal(slow.length, 2, 'the slow event was sent again');
  assert.equal(slow[0].eid, slow[1].eid);
  assert.notEqual(slow[0].ref, slow[1].ref);
  for (const e of frames.events.slice(frames.events.indexOf(slow[1]))) {
    assert.ok(frames.replies.some((r) => r.ref === e.ref && r.ok), `no ok reply to ${JSON.stringify(e)}`);
  }
  assert.equal(Number(await h.text(page, '#count')), c0 + 2);
});

scenario('12 form recovery: after the session is gone, the fresh one gets the typed input', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/form'));
  const frames = h.trackFrames(page);
  await page.click('#name');
  await page.keyboard.type('ab', { delay: 20 });
  await page.waitForFunction(() => !!document.querySelector('#errors .error'), null, { timeout: 5000 });
  await h.eventually(() => frames.replies.length >= frames.events.length, { what: 'the validate reply' });
  // Unfocused, and as if the old session had rendered the field with another value:
  // the fresh render then changes the field's markup, and the morph resets it.
  await page.evaluate(() => {
    document.activeElement.blur();
    document.getElementById('name').setAttribute('value', 'old render');
  });
  await markRoot(page);
  await endSessions();
  await remounted(page);
  await page.waitForFunction(
    () => document.querySelector('#errors .error')?.textContent.trim() === 'Name must be at least 3 characters',
    null,
    { timeout: 5000 },
  );
  assert.equal(await page.inputValue('#name'), 'ab');
  assert.equal(await h.text(page, '#validations'), '1', 'the new session validated once');
  const last = frames.events[frames.events.length - 1];
  assert.equal(last.name, 'validate');
  assert.deepEqual(last.form.name, ['ab']);
});

scenario('13 form recovery: a form with data-lv-recover="ignore" is left out', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/form'));
  const frames = h.trackFrames(page);
  await page.click('#scratch-name');
  await page.keyboard.type('zz', { delay: 20 });
  await page.waitForFunction(() => !!document.querySelector('#errors .error'), null, { timeout: 5000 });
  await page.evaluate(() => document.activeElement.blur());
  await markRoot(page);
  const after = frames.events.length;
  await endSessions();
  await remounted(page);
  // The sign-up form (empty) is recovered: one validate on the new session.
  await page.waitForFunction(() => document.getElementById('validations').textContent.trim() === '1', null, { timeout: 5000 });
  // Events run in order: once this one shows, no recovery of the scratch form follows.
  await page.click('#name');
  await page.keyboard.type('abcd', { delay: 20 });
  await page.waitForFunction(() => document.getElementById('validations').textContent.trim() === '2', null, { timeout: 5000 });
  assert.equal(await page.locator('#errors .error').count(), 0, 'the ignored form was not sent');
  const names = frames.events.slice(after).map((e) => e.form.name);
  assert.ok(!names.some((n) => n && n[0] === 'zz'), `the scratch form was sent: ${JSON.stringify(names)}`);
});

// -- shutdown

scenario('10 shutdown: SIGINT stops the app with status 0, the browser sees it', async ({ ctx, url }) => {
  const page = await h.openLive(await ctx(), url('/counter'));
  const res = await h.stopApp(app);
  assert.deepEqual(res, { code: 0, signal: null }, `exit status on SIGINT\n${h.tail(app)}`);
  await page.waitForSelector('[data-lv].lv-disconnected', { state: 'attached', timeout: 5000 });
});
