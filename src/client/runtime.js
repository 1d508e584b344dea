/* mizulive browser runtime: wire protocol v1 (docs/protocol.md). */
(() => {
  'use strict';

  const HEARTBEAT_MS = 30000;
  const BACKOFF_MIN = 250;
  // A join seq ahead of any session's: the server answers with the whole body.
  const RESYNC = Number.MAX_SAFE_INTEGER;
  const BACKOFF_MAX = 10000;
  const VALUE_ATTR = 'data-lv-value-';
  const FIELD = /^(INPUT|SELECT|TEXTAREA)$/;
  // Not free text: reported on `change` only; `value` property not synced.
  const NOT_TEXT = /^(checkbox|radio|file|submit|button|reset|image|hidden)$/;

  let boot = null; // {token, seq, csrf, dev}
  let token = '';
  let seq = 0;
  let ws = null;
  let ref = 0; // never reset: a ref stays unique while its event waits for a reply
  let eid = 0; // the events' numbers for this page load (docs/protocol.md, "Exactly once")
  let joined = false;
  let everJoined = false;
  let pageJoined = false; // this page's session has been joined once (a rejoin may recover forms)
  let stopped = false;
  let attempt = 0;
  let retryTimer = 0;
  let beatTimer = 0;
  let lastRx = 0;
  let navSeq = 0;
  let shownPath = '';
  const pending = new Map(); // ref -> [[element, classes]]
  const timers = new WeakMap(); // element -> {kind: {timer, next}}, works without ids
  const lastSent = new WeakMap();
  const submits = new Map(); // ref -> form of a submit in flight
  const sent = new Map(); // ref -> event frame not answered yet, in the order sent
  const held = []; // events of a socket still joining: [frame, element, also]

  const root = () => document.querySelector('[data-lv]');
  const here = () => location.pathname + location.search;
  const isField = (el) => FIELD.test(el.nodeName);
  const isText = (el) =>
    el.nodeName === 'TEXTAREA' || (el.nodeName === 'INPUT' && !NOT_TEXT.test(el.type));
  const isCheck = (el) => el.type === 'checkbox' || el.type === 'radio';
  const INNER = 'a[href],button,input,select,textarea,label,summary';

  function readBoot(doc) {
    const el = doc.getElementById('lv-boot');
    try {
      return el && JSON.parse(el.textContent);
    } catch (_) {
      return null;
    }
  }

  // -- connection

  const open = () => ws && ws.readyState === 1;

  // Until the socket has first joined (or once the server has told the page to stop),
  // a real form post still works (the no-JS path). A page that was live and is
  // reconnecting holds its events instead: a full page load would lose the page.
  // Attributes, not properties: a field named "method" shadows form.method.
  const fallback = (form) =>
    !joined && (!everJoined || stopped) && form && /^post$/i.test(form.getAttribute('method') || '') &&
    form.hasAttribute('action');

  function send(frame) {
    if (!open()) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    clearTimeout(retryTimer);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(`${proto}//${location.host}/_live/websocket`);
    ws = sock;
    // `ws === sock`: a dropped socket can never act again.
    sock.onopen = () => {
      if (ws !== sock) return;
      lastRx = Date.now();
      send({ t: 'join', v: 4, token, url: location.href, seq });
      beatTimer = setInterval(heartbeat, HEARTBEAT_MS);
    };
    sock.onmessage = (m) => ws === sock && receive(m.data);
    sock.onclose = () => ws === sock && lost();
  }

  // `keep`: the events still unanswered stay (loading classes too), to be sent again
  // if the next join resumes the session.
  function detach(keep) {
    const sock = ws;
    ws = null;
    joined = false;
    clearTimeout(retryTimer);
    clearInterval(beatTimer);
    if (sock && sock.readyState < 2) sock.close(1000);
    if (!keep) {
      unmark([...pending.keys(), ...sent.keys()]);
      held.length = 0;
    }
  }

  function lost() {
    detach(!stopped);
    syncClasses();
    if (stopped) return;
    const base = Math.min(BACKOFF_MIN * 2 ** attempt, BACKOFF_MAX);
    attempt = Math.min(attempt + 1, 8);
    retryTimer = setTimeout(connect, base * (0.5 + Math.random()));
  }

  function heartbeat() {
    // The server answers heartbeats: silence is a dead link the browser may miss.
    if (Date.now() - lastRx > 2 * HEARTBEAT_MS + 5000) return lost();
    send({ t: 'heartbeat' });
  }

  // -- server frames

  function receive(data) {
    lastRx = Date.now();
    let f;
    try {
      f = JSON.parse(data);
    } catch (_) {
      return console.warn('mizulive: unreadable frame', data);
    }
    if (!f || typeof f !== 'object') return;
    switch (f.t) {
      // A patch, the most common frame, carries no tag.
      case undefined: return onPatch(f);
      case 'joined': return onJoined(f);
      case 'command': return runCommands(f.cmds);
      case 'redirect':
        stopped = true;
        return location.assign(f.to);
      case 'navigate': return navigate(f.to, f.replace);
      case 'reply': return onReply(f);
      case 'error': return onError(f);
      case 'close':
        if (f.reconnect === false) stopped = true;
        return;
    }
  }

  function onJoined(f) {
    // A rejoin that found its session gone: what the user typed goes to the new one.
    const again = pageJoined;
    const forms = !f.resumed && again ? capture() : [];
    joined = everJoined = pageJoined = true;
    if (typeof f.eid === 'number') eid = Math.max(eid, f.eid);
    attempt = 0;
    if (f.token) token = f.token;
    if (f.root != null) morphRoot(f.root);
    // Patches carry no number: each one is the next. Resumed without root, seq is
    // where the replayed patches start counting (safe if cut mid-way).
    if (typeof f.seq === 'number') seq = f.seq;
    // A new session: the unanswered events died with the old one (as in LiveView),
    // and so do the ones held while reconnecting (made on the old page).
    if (!f.resumed) {
      unmark([...sent.keys()]);
      if (again) held.length = 0;
    }
    syncClasses();
    resend();
    recover(forms);
    // Only events made on this page's session: clicks during a live navigation were
    // made on the page being left.
    for (const [frame, el, also, madeFor] of held.splice(0)) if (madeFor === token) push(frame, el, also);
  }

  // Sends the events the last socket left unanswered again, in order, with their
  // numbers: the server answers one it already applied without running it again.
  function resend() {
    for (const [old, f] of [...sent]) {
      const r = ++ref;
      f.ref = r;
      sent.delete(old);
      sent.set(r, f);
      for (const m of [pending, submits]) {
        if (m.has(old)) m.set(r, m.get(old));
        m.delete(old);
      }
      send(f);
    }
  }

  // -- form recovery

  const RESTORABLE = /^(INPUT|SELECT|TEXTAREA)$/;
  const restorable = (el) =>
    RESTORABLE.test(el.nodeName) && el.name && el.name !== '_csrf' && !el.name.startsWith('_lv_') &&
    !/^(file|hidden|submit|button|reset|image)$/.test(el.type);

  // Every form of the live root, with what its fields hold now.
  function capture() {
    const r = root();
    if (!r) return [];
    return [...r.querySelectorAll('form')].map((form, i) => {
      const fields = Object.create(null); // name -> [{value, checked, picked}] in order
      for (const el of form.elements) {
        if (!restorable(el)) continue;
        const picked = el.nodeName === 'SELECT' ? [...el.selectedOptions].map((o) => o.value) : null;
        (fields[el.name] = fields[el.name] || []).push({ value: el.value, checked: el.checked, picked });
      }
      return { form, id: form.id, i, values: serialize(new FormData(form)), fields };
    });
  }

  // After a fresh mount: puts the captured values back into the new fields, then
  // sends each form's change event (or its `data-lv-recover` event) with them.
  function recover(forms) {
    const r = root();
    if (!r || !forms.length) return;
    const now = [...r.querySelectorAll('form')];
    for (const c of forms) {
      const form = r.contains(c.form) ? c.form : (c.id && document.getElementById(c.id)) || now[c.i];
      if (!form || form.nodeName !== 'FORM' || !r.contains(form)) continue;
      const how = form.getAttribute('data-lv-recover');
      if (how === 'ignore') continue;
      const el = how ? form : form.closest('[data-lv-change]') || form.querySelector('[data-lv-change]');
      const name = how || (el && el.getAttribute('data-lv-change'));
      if (!name) continue;
      refill(form, c.fields);
      const f = frame('change', el, {}, { form: c.values });
      f.name = name;
      push(f, form);
    }
  }

  function refill(form, fields) {
    const seen = Object.create(null);
    for (const el of form.elements) {
      if (!restorable(el)) continue;
      const n = (seen[el.name] = (seen[el.name] || 0) + 1);
      const was = (fields[el.name] || [])[n - 1];
      if (!was) continue;
      if (was.picked) for (const o of el.options) o.selected = was.picked.includes(o.value);
      else if (isCheck(el)) el.checked = was.checked;
      else if (el.value !== was.value) el.value = was.value;
    }
  }

  function onPatch(f) {
    if (f.root != null) morphRoot(f.root);
    const regions = f.regions || {};
    for (const id of Object.keys(regions)) {
      const el = document.getElementById(id);
      if (el) morphChildren(el, parse(regions[id]));
      else console.warn('mizulive: no region #' + id);
    }
    const missing = applyParts(f);
    if (missing != null) return resync(missing);
    if (f.title != null) document.title = f.title;
    // Counted, unless a resync asked for the whole body (a patch still in flight).
    if (seq !== RESYNC) seq += 1;
    syncClasses();
    // A patch that answers an event is its reply as well (the event succeeded).
    if (typeof f.ref === 'number') onReply({ ref: f.ref, ok: true });
  }

  // Regions patched child by child (children by id, unique in the page): remove,
  // set (morph), text, then append (to a region). The id of a child or region that
  // is not in the page, or not as the server made it (something else changed it),
  // else null.
  function applyParts(f) {
    const byId = (id) => document.getElementById(id);
    for (const id of f.remove || []) {
      const c = byId(id);
      if (c) c.remove();
    }
    const set = f.set || {};
    for (const id of Object.keys(set)) {
      const c = byId(id);
      const next = parse(set[id]).firstElementChild;
      if (!c || !next) return id;
      morph(c, next);
    }
    // [count, index, text, index, text, ...]: new texts for some of the child's text
    // nodes, counted in document order; a child with another count is not the
    // server's.
    const text = f.text || {};
    for (const id of Object.keys(text)) {
      const c = byId(id);
      const t = text[id];
      if (!c) return id;
      const nodes = [];
      const walk = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
      while (walk.nextNode()) nodes.push(walk.currentNode);
      if (nodes.length !== t[0]) return id;
      for (let k = 1; k < t.length; k += 2) {
        if (!nodes[t[k]]) return id;
        nodes[t[k]].nodeValue = t[k + 1];
      }
    }
    const append = f.append || {};
    for (const id of Object.keys(append)) {
      const el = byId(id);
      if (!el) return id;
      el.append(parse(append[id]));
    }
    return null;
  }

  // The page no longer matches what the server patches: rejoin for the whole body.
  function resync(id) {
    console.warn('mizulive: #' + id + ' differs from the server; reloading the body');
    seq = RESYNC;
    if (ws) ws.close();
  }

  function onReply(f) {
    const form = submits.get(f.ref);
    sent.delete(f.ref);
    unmark([f.ref]);
    if (!f.ok) return problem('warn', f.error || {});
    // The patch came first: reset puts the server's values in the fields (through
    // the prototype: a field named "reset" shadows form.reset).
    if (form && form.hasAttribute('data-lv-reset')) {
      HTMLFormElement.prototype.reset.call(form);
      for (const el of form.querySelectorAll('input,textarea')) lastSent.delete(el);
    }
  }

  function onError(f) {
    unmark([...pending.keys()]);
    if (f.recoverable !== false) return problem('warn', f);
    stopped = true;
    // A reload cures what a fresh GET answers anew: an expired token, a user who
    // logged in or out (the GET asks the auth hook, which may send to a login page),
    // a lost browser cookie (the GET sets one), a runtime older than the server's
    // protocol (the page loaded before an upgrade; the GET serves the current one).
    // Others would loop.
    if (RELOAD_CURES.includes(f.code) && reloadOnce()) return;
    problem('error', f);
    lost();
  }

  const RELOAD_CURES = ['token_expired', 'forbidden', 'user_mismatch', 'browser_mismatch', 'unsupported_version'];

  function reloadOnce() {
    // Guard: a fresh token already expired (clock skew) must not loop.
    try {
      if (Date.now() - (+sessionStorage.getItem('lv-reload') || 0) < 10000) return false;
      sessionStorage.setItem('lv-reload', String(Date.now()));
    } catch (_) {
      /* no storage: unguarded */
    }
    location.reload();
    return true;
  }

  function problem(level, err) {
    console[level]('mizulive:', err.code, err.message);
    if (boot.dev) overlay(err.code, err.message);
  }

  function overlay(code, message) {
    let box = document.getElementById('lv-error-overlay');
    if (!box) {
      box = document.createElement('div');
      box.id = 'lv-error-overlay';
      box.setAttribute('role', 'alert');
      // CSSOM, not a style attribute: allowed under a strict CSP.
      Object.assign(box.style, {
        position: 'fixed', left: '1em', right: '1em', bottom: '1em', zIndex: 1e9,
        padding: '1em', background: '#400', color: '#fff', font: '14px monospace', whiteSpace: 'pre-wrap',
      });
      box.addEventListener('click', () => box.remove());
      document.body.appendChild(box);
    }
    box.textContent = `mizulive ${code}: ${message}\n(click to dismiss)`;
  }

  function runCommands(cmds) {
    for (const c of cmds || []) {
      let el = null;
      try {
        el = c.selector && document.querySelector(c.selector);
      } catch (_) {
        /* bad selector: skip */
      }
      if (c.op === 'focus' && el) el.focus();
      else if (c.op === 'scroll' && (el || !c.selector)) scroll(el, c.block === 'end');
    }
  }

  function scroll(el, end) {
    if (!el) return window.scrollTo(0, 0);
    // A scroll container (a chat log) scrolls its content, others into view.
    const own = el.scrollHeight > el.clientHeight && /auto|scroll/.test(getComputedStyle(el).overflowY);
    if (own) el.scrollTop = end ? el.scrollHeight : 0;
    else el.scrollIntoView({ block: end ? 'end' : 'start' });
  }

  async function navigate(to, replace) {
    const url = new URL(to, location.href);
    if (url.origin !== location.origin) return location.assign(url.href);
    // Drop the old socket first: a reconnect would pair the old token with the new URL.
    detach(false);
    pageJoined = false;
    history[replace ? 'replaceState' : 'pushState'](null, '', url.href);
    shownPath = here();
    const mine = ++navSeq;
    let doc;
    try {
      const res = await fetch(url.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      if (res.redirected) history.replaceState(null, '', res.url);
      doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    } catch (_) {
      return location.reload(); // of the new URL
    }
    if (mine !== navSeq) return;
    const next = readBoot(doc);
    if (!next || !doc.querySelector('[data-lv]')) return location.reload();
    shownPath = here();
    boot = next;
    token = next.token;
    seq = +next.seq || 0;
    eid = Math.max(eid, +next.eid || 0);
    attempt = 0;
    // Imported <script>s never run: no second runtime.
    morph(document.body, doc.body);
    syncClasses();
    document.title = doc.title;
    if (!replace && !url.hash) window.scrollTo(0, 0);
    connect();
  }

  // -- classes

  function syncClasses() {
    const r = root();
    if (r) {
      r.classList.toggle('lv-connected', joined);
      r.classList.toggle('lv-disconnected', !joined);
      r.classList.toggle('lv-joined', everJoined);
    }
    remark();
  }

  // A morph resets class attributes: keep in-flight markers.
  function remark() {
    for (const list of pending.values()) for (const [el, cls] of list) el.classList.add(...cls);
  }

  function mark(r, els) {
    const list = [];
    for (const el of new Set(els)) {
      if (!el) continue;
      const extra = (el.getAttribute('data-lv-loading') || '').split(/\s+/).filter(Boolean);
      const cls = ['lv-loading', ...extra];
      el.classList.add(...cls);
      list.push([el, cls]);
    }
    pending.set(r, list);
  }

  function unmark(refs) {
    for (const r of refs) {
      for (const [el, cls] of pending.get(r) || []) el.classList.remove(...cls);
      pending.delete(r);
      submits.delete(r);
      sent.delete(r);
    }
    remark();
  }

  // -- events

  function frame(type, el, e, extra) {
    const values = Object.create(null);
    for (const a of el.attributes) {
      if (a.name.startsWith(VALUE_ATTR)) values[a.name.slice(VALUE_ATTR.length)] = a.value;
    }
    const t = el.closest('[data-lv-target]');
    const f = {
      t: 'event', ref: 0, type, name: el.getAttribute('data-lv-' + type),
      target: t ? t.getAttribute('data-lv-target') : null,
      values, form: {}, key: null,
      meta: { shift: !!e.shiftKey, ctrl: !!e.ctrlKey, alt: !!e.altKey, meta: !!e.metaKey },
    };
    return Object.assign(f, extra);
  }

  // While the socket joins, or a page that was live reconnects, a few events wait for
  // it; before a first socket, and after the server said stop, they are dropped
  // (forms post instead). An empty name is a bad_frame on the server.
  function push(f, el, also) {
    if (!f.name) return false;
    const waiting = !!ws || (everJoined && !stopped);
    if (!joined) return waiting && held.length < 16 && held.push([f, el, also, token]) > 0;
    f.ref = ++ref;
    f.eid = ++eid;
    if (!send(f)) return false;
    sent.set(f.ref, f);
    // A form's submit, sent now or after waiting in `held`: its reply resets it.
    if (f.type === 'submit' && el.nodeName === 'FORM') submits.set(f.ref, el);
    mark(f.ref, [el, el.closest('form'), also]);
    return true;
  }

  function serialize(formData) {
    const out = Object.create(null);
    for (const [k, v] of formData) {
      if (k === '_csrf' || k.startsWith('_lv_')) continue;
      (out[k] = out[k] || []).push(typeof v === 'string' ? v : v.name);
    }
    return out;
  }

  function lone(field) {
    const fd = new FormData();
    if (!field.name) return {};
    if (field.nodeName === 'SELECT') for (const o of field.selectedOptions) fd.append(field.name, o.value);
    else if (!isCheck(field) || field.checked) fd.append(field.name, field.value);
    return serialize(fd);
  }

  function ms(name, els, fallback) {
    for (const el of els) {
      const v = el && el.getAttribute('data-lv-' + name);
      if (v != null && v !== '') return +v || 0;
    }
    return fallback;
  }

  function slot(el, kind) {
    let m = timers.get(el);
    if (!m) timers.set(el, (m = {}));
    return m[kind] || (m[kind] = { timer: 0, next: null });
  }

  function cancel(el, kind) {
    const s = slot(el, kind);
    clearTimeout(s.timer);
    s.timer = 0;
    s.next = null;
  }

  // Run fn now, after `debounce` ms of quiet, or once per `throttle` ms
  // (leading call, then the latest pending one at the end of each window).
  function limit(el, kind, fn, debounce, throttle) {
    const s = slot(el, kind);
    if (debounce > 0) {
      clearTimeout(s.timer);
      s.timer = setTimeout(fn, debounce);
    } else if (throttle > 0) {
      if (s.timer) return void (s.next = fn);
      fn();
      const tick = () => {
        const next = s.next;
        s.next = null;
        s.timer = next ? setTimeout(tick, throttle) : 0;
        if (next) next();
      };
      s.timer = setTimeout(tick, throttle);
    } else fn();
  }

  function find(e, kind) {
    const t = e.target;
    return t && t.closest ? t.closest(`[data-lv-${kind}]`) : null;
  }

  function fire(kind, el, e, extra) {
    const go = () => {
      const f = frame(kind, el, e, extra);
      if (isField(el) && !('value' in f.values)) f.values.value = el.value;
      push(f, el);
    };
    limit(el, kind, go, ms('debounce', [el]), ms('throttle', [el]));
  }

  function keyWanted(el, key) {
    const want = el.getAttribute('data-lv-key');
    if (!want) return true;
    const name = key === ' ' ? 'space' : key === ',' ? 'comma' : key.toLowerCase();
    return want.toLowerCase().split(',').some((k) => k.trim() === name);
  }

  function onSubmit(e) {
    const form = e.target;
    if (!form.hasAttribute || !form.hasAttribute('data-lv-submit') || fallback(form)) return;
    e.preventDefault();
    const fd = new FormData(form);
    const sub = e.submitter;
    if (sub && sub.name) fd.append(sub.name, sub.value);
    const go = () => push(frame('submit', form, e, { form: serialize(fd) }), form, sub);
    limit(form, 'submit', go, ms('debounce', [form]), ms('throttle', [form]));
  }

  function onChange(e) {
    const field = e.target;
    if (!field || !isField(field)) return;
    const el = field.closest('[data-lv-change]');
    if (!el) return;
    const text = isText(field);
    const go = () => sendChange(el, field, e);
    const throttle = ms('throttle', [field, el]);
    if (e.type === 'input') {
      const debounce = ms('debounce', [field, el, field.form], throttle > 0 ? 0 : 300);
      if (text) limit(field, 'change', go, debounce, throttle);
    } else if (text) {
      cancel(field, 'change');
      go();
    } else limit(field, 'change', go, ms('debounce', [field], 0), throttle); // a form's debounce is for typing
  }

  function sendChange(el, field, e) {
    // `input` and `change` both report an edit: send each value once.
    if (isText(field) && lastSent.get(field) === field.value) return;
    const form = field.form ? serialize(new FormData(field.form)) : lone(field);
    const f = frame('change', el, e, { form });
    if (field.name) f.field = field.name;
    if (push(f, el) && isText(field)) lastSent.set(field, field.value);
  }

  function listen() {
    // Capture: a page's stopPropagation cannot hide events.
    const on = (type, fn) => document.addEventListener(type, fn, true);
    on('click', (e) => {
      const el = find(e, 'click');
      if (!el || (el.name === '_lv_click' && fallback(el.form))) return;
      // No submit of a no-JS fallback form; but a checkbox, link or label inside
      // the element (a clickable row) keeps working.
      const inner = e.target.closest(INNER);
      if (!inner || inner === el || !el.contains(inner)) e.preventDefault();
      fire('click', el, e);
    });
    on('submit', onSubmit);
    on('input', onChange);
    on('change', onChange);
    // Keys that confirm an IME composition (Enter ending a conversion) are not
    // keystrokes: skip them and the keyup that follows.
    const composing = new Set();
    for (const kind of ['keyup', 'keydown']) {
      on(kind, (e) => {
        if (e.isComposing || e.keyCode === 229) return void (kind === 'keydown' && composing.add(e.code));
        if (kind === 'keyup' && composing.delete(e.code)) return;
        const el = find(e, kind);
        // Never preventDefault: typing is not blocked. Autofill sends no key.
        if (el && typeof e.key === 'string' && keyWanted(el, e.key)) fire(kind, el, e, { key: e.key });
      });
    }
    // focus/blur do not bubble; their focusin/focusout twins do.
    for (const [type, kind] of [['focusin', 'focus'], ['focusout', 'blur']]) {
      on(type, (e) => {
        const el = find(e, kind);
        // Focus moving between an element's own children neither enters nor leaves it.
        if (el && !el.contains(e.relatedTarget)) fire(kind, el, e);
      });
    }
    // Back/forward across navigate(): load for real (hash-only changes are not).
    window.addEventListener('popstate', () => here() !== shownPath && location.reload());
  }

  // -- morph

  function parse(html) {
    const t = document.createElement('template');
    t.innerHTML = html;
    return t.content;
  }

  function morphRoot(html) {
    const live = root();
    if (!live) return;
    const frag = parse(html);
    const next = frag.querySelector('[data-lv]');
    if (next) morph(live, next);
    else morphChildren(live, frag);
  }

  function morph(from, to) {
    if (from.nodeType !== 1) {
      if (from.nodeValue !== to.nodeValue) from.nodeValue = to.nodeValue;
      return;
    }
    if (from.isEqualNode(to)) return;
    // Except in a form whose submit is in flight: the user sent those values,
    // so the server's copy wins (a chat box clears).
    // Only text being typed is kept: a picked option or a clicked box shows the
    // server's answer.
    const keep = from === document.activeElement && isText(from) && ![...submits.values()].includes(from.form);
    const restore = keep ? save(from) : null;
    syncAttrs(from, to);
    // A focused textarea's children are its default value: leave them.
    const skip = from.hasAttribute('data-lv-ignore') || (restore && from.nodeName === 'TEXTAREA');
    if (!skip) morphChildren(from, to);
    if (restore) restore();
    else syncProps(from, to);
  }

  function syncAttrs(from, to) {
    for (const a of to.attributes) {
      if (from.getAttributeNS(a.namespaceURI, a.localName) !== a.value) {
        from.setAttributeNS(a.namespaceURI, a.name, a.value);
      }
    }
    for (const a of [...from.attributes]) {
      if (!to.hasAttributeNS(a.namespaceURI, a.localName)) from.removeAttributeNS(a.namespaceURI, a.localName);
    }
  }

  function morphChildren(from, to) {
    const byId = new Map();
    for (const c of from.children) if (c.id) byId.set(c.id, c);
    const wanted = new Set();
    for (const c of to.children) if (c.id) wanted.add(c.id);
    let cur = from.firstChild;
    for (let t = to.firstChild; t; t = t.nextSibling) {
      let m = t.id ? byId.get(t.id) : null;
      if (m && m.nodeName === t.nodeName) byId.delete(t.id);
      // By position: same name, not both with ids (a new id gives a fresh
      // element), and not an id another new node claims.
      else if (cur && cur.nodeName === t.nodeName && !(cur.id && (t.id || wanted.has(cur.id)))) m = cur;
      else m = null;
      if (!m) {
        from.insertBefore(document.importNode(t, true), cur);
        continue;
      }
      if (m === cur) cur = cur.nextSibling;
      else if (m.contains(document.activeElement)) {
        // Moving the focused element would blur it: move the others.
        const after = m.nextSibling;
        while (cur !== m) {
          const next = cur.nextSibling;
          from.insertBefore(cur, after);
          cur = next;
        }
        cur = m.nextSibling;
      } else from.insertBefore(m, cur);
      morph(m, t);
    }
    while (cur) {
      const next = cur.nextSibling;
      from.removeChild(cur);
      cur = next;
    }
  }

  function save(el) {
    const { value, checked } = el;
    const picked = el.nodeName === 'SELECT' ? [...el.selectedOptions].map((o) => o.value) : null;
    let start = null;
    let end = null;
    try {
      start = el.selectionStart;
      end = el.selectionEnd;
    } catch (_) {
      /* type without selection */
    }
    return () => {
      if (picked) {
        for (const o of el.options) o.selected = picked.includes(o.value);
        return;
      }
      if (el.checked !== checked) el.checked = checked;
      if (el.value !== value) el.value = value;
      if (start != null && (el.selectionStart !== start || el.selectionEnd !== end)) {
        el.setSelectionRange(start, end);
      }
    };
  }

  // Properties stop following attributes once the user edits a field.
  function syncProps(el, to) {
    let value = null;
    if (el.nodeName === 'SELECT') {
      const opts = to.options;
      [...el.options].forEach((o, i) => (o.selected = !!opts[i] && opts[i].hasAttribute('selected')));
    } else if (el.nodeName === 'TEXTAREA') value = to.textContent;
    else if (el.nodeName !== 'INPUT') return;
    else if (isCheck(el)) {
      el.checked = to.hasAttribute('checked');
      // Unchecking a radio by hand left its group empty; morph skips the member
      // the server still checks (its attributes did not change): check it again.
      if (el.type === 'radio' && !el.checked && el.name) {
        for (const r of document.getElementsByName(el.name)) {
          if (r.type === 'radio' && r.form === el.form && r.defaultChecked) r.checked = true;
        }
      }
    }
    else if (isText(el)) value = to.getAttribute('value') || '';
    if (value != null && el.value !== value) {
      el.value = value;
      lastSent.delete(el); // retyping the old text is a change again
    }
  }

  // -- boot

  function start() {
    if (window.mizulive) return;
    boot = readBoot(document);
    if (!boot || !root()) return;
    token = boot.token;
    seq = +boot.seq || 0;
    // A page load of a session that already applied events (after a form post)
    // numbers its events after them.
    eid = Math.max(eid, +boot.eid || 0);
    shownPath = here();
    Object.defineProperty(window, 'mizulive', {
      value: Object.freeze({ version: 1, socket: () => ws, seq: () => seq }),
    });
    syncClasses();
    listen();
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
