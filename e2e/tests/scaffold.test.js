'use strict';
// The apps `mizulive new` writes, in a real browser: run.sh generates one per language
// into E2E_SCAFFOLD_DIR (c/, go/, python/), builds them and runs their own `make test`;
// this starts each as `make run` would and clicks through it: the counter counts, and
// an item added on one page of the live list appears on another page.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const h = require('./harness');

const DIR = process.env.E2E_SCAFFOLD_DIR;
const T = { timeout: 45000 };
const BANNER = /^app on (http:\/\/[^/\s]+)\/counter/;

let browser = null;
before(async () => {
  assert.ok(DIR, 'E2E_SCAFFOLD_DIR names the folder run.sh generated the apps into');
  browser = await h.launchBrowser();
});
after(async () => {
  if (browser) await browser.close().catch(() => {});
});

// How `make run` starts each app (built by run.sh), in the app's own folder.
function command(lang) {
  const dir = path.join(DIR, lang);
  switch (lang) {
    case 'c':
      return { cmd: path.join(dir, 'app'), args: [], dir };
    case 'go':
      return { cmd: path.join(dir, 'app'), args: [], dir };
    case 'python':
      return { cmd: process.env.E2E_PYTHON || 'python3', args: ['app.py'], dir };
    default:
      throw new Error(`no scaffold for ${lang}`);
  }
}

// Starts the app, resolves with {child, url, output} once its banner is read.
async function start(lang) {
  const { cmd, args, dir } = command(lang);
  const env = { ...process.env, MIZULIVE_ADDR: '127.0.0.1:0', MIZULIVE_LOG: 'warn' };
  delete env.MIZULIVE_DEV;
  delete env.MIZULIVE_VIEWS;
  const child = spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  child.stderr.setEncoding('utf8').on('data', (d) => output.push(d));
  let timer;
  try {
    const url = await new Promise((resolve, reject) => {
      let buf = '';
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`${lang} app exited (${code}) before its banner\n${output.join('')}`)));
      child.stdout.setEncoding('utf8').on('data', (d) => {
        buf += d;
        const m = BANNER.exec(buf.split('\n').find((l) => BANNER.test(l)) || '');
        if (m) resolve(m[1]);
      });
      timer = setTimeout(() => reject(new Error(`no banner from the ${lang} app\n${buf}\n${output.join('')}`)), 20000);
    });
    return { child, url, output };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

async function stop(app) {
  const exited = new Promise((resolve) => app.child.on('exit', (code, signal) => resolve({ code, signal })));
  app.child.kill('SIGINT');
  const res = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 10000))]);
  if (!res) {
    app.child.kill('SIGKILL');
    throw new Error('the app did not stop within 10 s of SIGINT');
  }
  return res;
}

for (const lang of ['c', 'go', 'python']) {
  test(`${lang}: the new app's counter counts and its list reaches every open page`, T, async () => {
    const app = await start(lang);
    const contexts = [];
    try {
      const ctx = async () => {
        const c = await browser.newContext({ viewport: { width: 800, height: 600 } });
        contexts.push(c);
        return c;
      };
      const counter = await h.openLive(await ctx(), `${app.url}/counter`);
      assert.equal(await h.text(counter, '#count'), '0');
      await counter.click('button[data-lv-click="inc"]');
      await counter.click('button[data-lv-click="inc"]');
      await h.eventually(async () => (await h.text(counter, '#count')) === '2', { what: 'count 2' });
      assert.match(await h.text(counter, '#log'), /inc 1 → 2/);

      const ann = await h.openLive(await ctx(), `${app.url}/list`);
      const bob = await h.openLive(await ctx(), `${app.url}/list`);
      await ann.fill('input[name="text"]', 'bring the cake');
      await ann.click('#new-item button');
      for (const page of [ann, bob]) {
        await h.eventually(async () => (await page.locator('#items li').allTextContents()).includes('bring the cake'), {
          what: `the item on ${page === ann ? "ann's" : "bob's"} page`,
        });
      }
      await h.eventually(async () => (await ann.inputValue('input[name="text"]')) === '', { what: 'the field emptied' });
      await ann.click('#new-item button');
      await h.eventually(async () => /Write something first/.test(await h.text(ann, '#new')), { what: 'the refusal' });
      for (const page of [counter, ann, bob]) {
        const errors = page.__log.filter((m) => m.type === 'pageerror' || m.type === 'error');
        assert.deepEqual(errors, [], 'no errors in the console');
      }
    } finally {
      for (const c of contexts) await c.close().catch(() => {});
      const res = await stop(app);
      assert.equal(res.code, 0, `the ${lang} app exits cleanly on SIGINT\n${app.output.join('')}`);
    }
  });
}
