'use strict';
// The client runtime's handling of controls, in a real browser, against the widgets
// app (e2e/apps/python/widgets.py; the runtime is the same for every host). Run
// through e2e/run.sh, or: node --test tests/runtime.test.js
//
// Every wait is a condition with a timeout; `quiet` pauses only show that something
// does NOT happen.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

const T = { timeout: 30000 };
let app = null;
let browser = null;
let failed = false;

before(async () => {
  fs.mkdirSync(h.SHOTS, { recursive: true });
  const [a, b] = await Promise.allSettled([h.startApp('python', { dev: true, app: 'widgets' }), h.launchBrowser()]);
  if (a.status === 'fulfilled') app = a.value;
  if (b.status === 'fulfilled') browser = b.value;
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (app && !app.exited) app.child.kill('SIGKILL');
  if (failed && app) console.log(`--- last output of the widgets app ---\n${h.tail(app)}`);
});

// Each case gets its own browser context and a freshly mounted /widgets page.
function widgets(name, fn) {
  test(name, T, async () => {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
    try {
      const page = await h.openLive(context, new URL('/widgets', app.url).href);
      await fn(page);
      const errors = page.__log.filter((l) => l.type === 'pageerror');
      assert.deepEqual(errors, [], 'no script errors');
    } catch (e) {
      failed = true;
      for (const p of context.pages()) {
        await p.screenshot({ path: path.join(h.SHOTS, `runtime-fail-${name.split(' ')[0]}.png`) }).catch(() => {});
      }
      throw e;
    } finally {
      await context.close().catch(() => {});
    }
  });
}

const textIs = (page, selector, want, what) =>
  h.eventually(async () => (await h.text(page, selector)) === want, { what: what || `${selector} = ${want}` });

// Replies received so far; an event's effects are on the page once its reply is.
const replied = (page, n) => h.eventually(() => page.__frames.replies.length >= n, { what: `${n} replies` });

widgets('r1 a focused select shows the server\'s choice, so the same pick fires again', async (page) => {
  await page.focus('#pick');
  await page.selectOption('#pick', 'alice');
  await textIs(page, '#picks', 'alice');
  await h.eventually(async () => (await page.inputValue('#pick')) === '', { what: 'the select back on "choose"' });
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pick', 'the select kept focus');
  await page.selectOption('#pick', 'alice');
  await textIs(page, '#picks', 'alice,alice');
});

widgets('r2 a refused radio: the group shows the server\'s plan again', async (page) => {
  assert.equal(await page.isChecked('#plan-free'), true);
  await page.click('#plan-pro'); // not check(): the server undoes it at once
  await textIs(page, '#plan-note', 'pro is not available');
  await h.eventually(async () => (await page.isChecked('#plan-free')) && !(await page.isChecked('#plan-pro')), {
    what: 'free checked, pro not',
  });
});

widgets('r3 a checkbox and a link inside a clickable row keep working', async (page) => {
  await page.click('#done-1');
  await h.eventually(async () => (await page.getAttribute('#row-1', 'class')) === 'selected', { what: 'row 1 selected' });
  assert.equal(await page.isChecked('#done-1'), true, 'the checkbox toggled');
  await page.click('#link-2');
  await h.eventually(async () => (await page.getAttribute('#row-2', 'class')) === 'selected', { what: 'row 2 selected' });
  assert.equal(new URL(page.url()).hash, '#row-2', 'the link was followed');
  assert.equal(await page.isChecked('#done-1'), true, 'row 1\'s checkbox kept');
});

widgets('r4 focus moving inside a container neither enters nor leaves it', async (page) => {
  await page.focus('#outside');
  await page.focus('#menu-a');
  await textIs(page, '#menu-count', '1/0');
  await page.keyboard.press('Tab'); // to #menu-b, inside the menu
  assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-b');
  await page.focus('#outside');
  await textIs(page, '#menu-count', '1/1');
  const kinds = page.__frames.events.filter((f) => f.type === 'focus' || f.type === 'blur').map((f) => f.type);
  assert.deepEqual(kinds, ['focus', 'blur']);
});

widgets('r5 a resetting form with a field named "reset": cleared on reply, retyped text is a change again', async (page) => {
  await page.fill('#draft', 'hi');
  await page.focus('#keys'); // blur: the change goes out
  await textIs(page, '#drafts', 'hi');
  await page.focus('#draft');
  await page.press('#draft', 'Enter');
  await textIs(page, '#posts', 'hi');
  await h.eventually(async () => (await page.inputValue('#draft')) === '', { what: 'the draft cleared' });
  await h.eventually(async () => !(await page.getAttribute('#composer', 'class'))?.includes('lv-loading'), {
    what: 'no loading class left on the form',
  });
  await page.fill('#draft', 'hi');
  await page.focus('#keys');
  await textIs(page, '#drafts', 'hi,hi');
});

widgets('r6 key filters: Space by name, IME-confirming Enter skipped', async (page) => {
  await page.focus('#keys');
  // An Enter that confirms an IME composition, as Chromium on macOS reports it: the
  // keydown while composing, then a plain keyup.
  await page.evaluate(() => {
    const el = document.getElementById('keys');
    const ev = (type, init) => el.dispatchEvent(new KeyboardEvent(type, { bubbles: true, key: 'Enter', code: 'Enter', ...init }));
    ev('keydown', { isComposing: true });
    ev('keyup', {});
    ev('keyup', { isComposing: true });
  });
  await page.keyboard.press('Space');
  await page.keyboard.press('Enter');
  await textIs(page, '#keys-seen', 'Space,Enter');
  const keys = page.__frames.events.filter((f) => f.type === 'keyup').map((f) => f.key);
  assert.deepEqual(keys, [' ', 'Enter']);
});

widgets('r7 a scroll command whose selector matches nothing leaves the page where it is', async (page) => {
  await page.click('#scroll-missing'); // scrolled into view first: far down the page
  const y = await page.evaluate(() => window.scrollY);
  assert.ok(y > 1000, `scrolled down to the button (${y})`);
  await textIs(page, '#scrolls', '1');
  await replied(page, 1);
  assert.equal(await page.evaluate(() => window.scrollY), y);
});

// The child-by-child changes (remove, set, text, append) of the last patch that
// changed #items or its children, as JSON; {"whole":true} when it sent #items whole.
function lastChildChanges(page) {
  const p = page.__frames.patches.filter((f) => (f.regions && f.regions.items) || f.remove || f.set || f.text || f.append);
  if (!p.length) return '';
  const { regions, remove, set, text, append } = p[p.length - 1];
  return JSON.stringify(regions && regions.items ? { whole: true } : { remove, set, text, append });
}

widgets('r9 a keyed region is patched child by child, and fetched whole when the page no longer matches', async (page) => {
  const ids = () => page.evaluate(() => [...document.querySelectorAll('#items > li')].map((li) => li.id).join());
  const lastItems = () => lastChildChanges(page);
  const marked = (id) =>
    h.eventually(async () => (await page.getAttribute(`#item-${id}`, 'class').catch(() => null)) === 'marked', {
      what: `item ${id} marked`,
    });

  await page.click('#items-add');
  await h.eventually(async () => (await ids()) === 'item-1,item-2,item-3', { what: 'an item appended' });
  await page.click('#items-add');
  await h.eventually(async () => (await ids()) === 'item-1,item-2,item-3,item-4', { what: 'two items appended' });
  await h.eventually(() => /^\{"append":\{"items":"<li id=\\"item-4\\"/.test(lastItems()), { what: 'appended alone' });

  // Two items change: only they are sent, and each is morphed, not replaced.
  await page.click('#mark-3');
  await marked(3);
  await page.evaluate(() => (document.getElementById('item-3').__kept = true));
  await page.click('#mark-1');
  await marked(1);
  await h.eventually(() => /^\{"set":\{"item-1":[^}]*"item-3":[^}]*\}\}$/.test(lastItems()), {
    what: 'items 1 and 3 set, nothing else',
  });
  assert.equal(await page.getAttribute('#item-3', 'class'), null, 'item 3 no longer marked');
  assert.ok(await page.evaluate(() => document.getElementById('item-3').__kept), 'the same element');

  await page.click('#items-drop');
  await h.eventually(async () => (await ids()) === 'item-2,item-3,item-4', { what: 'item 1 removed' });
  await h.eventually(() => lastItems() === '{"remove":["item-1"]}', { what: 'removed alone' });

  // Something else removed item 2; the server changes it: the runtime rejoins for the
  // whole body rather than lose the change.
  await page.evaluate(() => document.getElementById('item-2').remove());
  await page.click('#mark-2-outside');
  await marked(2);
  assert.equal(await ids(), 'item-2,item-3,item-4');
  assert.ok(page.__log.some((l) => /differs from the server/.test(l.text)), 'the resync is logged');
});

widgets('r10 a changed text is set in its node alone; a child changed by something else is fetched whole', async (page) => {
  const lastItems = () => lastChildChanges(page);
  const item = (id) => page.evaluate((id) => document.getElementById(`item-${id}`).textContent, id);
  await page.evaluate(() => (document.getElementById('item-1').__kept = true));
  await page.click('#rename-1');
  await h.eventually(async () => (await item(1)) === 'item 1 <one> & only mark', { what: 'item 1 renamed' });
  // Only the text: the item's text nodes are its label and its button's.
  assert.equal(lastItems(), '{"text":{"item-1":[2,0,"item 1 <one> & only "]}}');
  assert.ok(await page.evaluate(() => document.getElementById('item-1').__kept), 'the same element');
  assert.equal(await page.evaluate(() => document.querySelector('#item-1 button').id), 'mark-1');

  // Something else added a text node to item 2: the server's text cannot be placed,
  // so the runtime rejoins for the whole body.
  await page.evaluate(() => document.getElementById('item-2').append(' (edited)'));
  await page.click('#rename-2');
  await h.eventually(async () => (await item(2)) === 'item 2 two mark', { what: 'item 2 as the server has it' });
  assert.ok(page.__log.some((l) => /differs from the server/.test(l.text)), 'the resync is logged');
});

test('r8 a click while the socket is still joining is sent once it has joined', T, async () => {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  try {
    const page = await context.newPage();
    h.watchConsole(page);
    // A slow link: the server's first frame (joined) reaches the page 1.5 s late.
    let joinedHeld = false;
    await page.routeWebSocket(/\/_live\/websocket$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        if (joinedHeld) return ws.send(m);
        joinedHeld = true;
        setTimeout(() => ws.send(m), 1500);
      });
    });
    await page.goto(new URL('/widgets', app.url).href, { waitUntil: 'load' });
    await h.eventually(() => joinedHeld, { what: 'the join answer held back' });
    assert.equal(await page.locator('[data-lv].lv-connected').count(), 0, 'not joined yet');
    await page.click('#row-1', { position: { x: 400, y: 5 } }); // the row itself
    await h.connected(page);
    await h.eventually(async () => (await page.getAttribute('#row-1', 'class')) === 'selected', {
      what: 'row 1 selected by the held click',
    });
    assert.deepEqual(page.__log.filter((l) => l.type === 'pageerror'), []);
  } finally {
    await context.close().catch(() => {});
  }
});

test('r11 a page of an older protocol is refused, reloads once, and does not loop', T, async () => {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  try {
    const page = await context.newPage();
    h.watchConsole(page);
    // The runtime of a page loaded before an upgrade: its join says protocol 1. Every
    // load is one, so the reload cannot cure it; the runtime must then stop.
    let joins = 0;
    await page.routeWebSocket(/\/_live\/websocket$/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((m) => ws.send(m));
      ws.onMessage((m) => {
        const f = JSON.parse(m);
        if (f.t === 'join') {
          joins++;
          f.v = 1;
        }
        server.send(JSON.stringify(f));
      });
    });
    let loads = 0;
    page.on('load', () => loads++);
    await page.goto(new URL('/widgets', app.url).href, { waitUntil: 'load' });
    const refusals = () => page.__log.filter((l) => /unsupported_version/.test(l.text)).length;
    await h.eventually(() => loads === 2 && joins === 2, { what: 'one reload after the first refusal' });
    await h.eventually(() => refusals() >= 1, { what: 'the second refusal shown' });
    await h.eventually(async () => (await page.locator('[data-lv].lv-disconnected').count()) === 1, {
      what: 'the page shown disconnected',
    });
    await h.quiet(1500);
    assert.equal(loads, 2, 'no second reload within 10 s');
    assert.equal(joins, 2, 'no further join');
  } finally {
    await context.close().catch(() => {});
  }
});
