/*
 * Tessera web UI: one hand-written script, no build step, no dependencies.
 *
 * How it is put together (top to bottom):
 *   1. Helpers: h()/svg() build DOM nodes (never innerHTML: asset names and keys may hold
 *      any character), fmt*() format numbers and times, debounce() for inputs and
 *      throttle() for live refreshes (at most one request per period while events pour in).
 *   2. API: api() wraps fetch; an error body {error:{code,message}} becomes a thrown
 *      ApiError; a 401 shows the sign-in form.
 *   3. Banners: showError() puts a dismissable message at the top of the page.
 *   4. Live updates: one EventSource for the whole app; a page subscribes with ctx.on(name, fn)
 *      and is unsubscribed when the user leaves it.
 *   5. Router: the URL fragment (#/assets/KEY, #/runs/ID, ...) picks a page function
 *      page(main, params, ctx); ctx holds the page's subscriptions, timers and fetches, all
 *      dropped on navigation.
 *   6. Widgets shared by pages: badges, times, tables, the runs list, the mini health bar
 *      and the zoomable partition health bar (a <canvas> drawn from the range API: it never
 *      enumerates partitions, so 10 million of them cost as little as ten).
 *   7. Pages, in the order of the navigation bar.
 */
'use strict';

// ---- 1. Helpers ---------------------------------------------------------------------------

const SVGNS = 'http://www.w3.org/2000/svg';
const PROPS = new Set(['value', 'checked', 'selected', 'indeterminate']);

function build(el, attrs, children) {
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else if (k === 'class') el.setAttribute('class', `${el.getAttribute('class') || ''} ${v}`.trim());
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's children (null and false children are skipped, like in h()). */
function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Splits 'tag#id.class1.class2' into its parts. */
function parseTag(tag) {
  const name = /^[a-zA-Z0-9-]*/.exec(tag)[0] || 'div';
  const id = /#([\w-]+)/.exec(tag)?.[1];
  const classes = [...tag.matchAll(/\.([\w-]+)/g)].map((m) => m[1]);
  return { name, id, classes };
}

/** h('span#id.badge.ok', {title: 'x'}, 'text', child, [more]): an element, text escaped. */
function h(tag, attrs, ...children) {
  const { name, id, classes } = parseTag(tag);
  const el = document.createElement(name);
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  return build(el, attrs, children);
}

function svg(tag, attrs, ...children) {
  const { name, id, classes } = parseTag(tag);
  const el = document.createElementNS(SVGNS, name);
  if (id) el.id = id;
  if (classes.length) el.setAttribute('class', classes.join(' '));
  return build(el, attrs, children);
}

const $ = (sel, root = document) => root.querySelector(sel);
const enc = encodeURIComponent;
const nf = new Intl.NumberFormat('en-US');
const fmtNum = (n) => (n == null ? '—' : nf.format(n));
const plural = (n, word, many = `${word}s`) => `${fmtNum(n)} ${n === 1 ? word : many}`;
const short = (s, n = 12) => (s && s.length > n ? s.slice(0, n) : s || '—');
const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));

function fmtTime(ms) {
  if (ms == null) return '—';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** The engine's clock minus the browser's (the engine may run at a fixed `--now`). */
let engineSkew = 0;

/** "3 min ago" / "in 2 h", from the browser's clock, or the engine's when `engine` is set. */
function fmtRel(ms, engine = false) {
  if (ms == null) return '';
  const diff = Date.now() + (engine ? engineSkew : 0) - ms;
  const s = Math.abs(diff) / 1000;
  let text;
  if (s < 45) return 'just now';
  if (s < 90) text = '1 min';
  else if (s < 3600) text = `${Math.round(s / 60)} min`;
  else if (s < 86400) text = `${Math.round(s / 3600)} h`;
  else if (s < 86400 * 45) text = plural(Math.round(s / 86400), 'day');
  else if (s < 86400 * 365) text = plural(Math.round(s / 86400 / 30), 'month');
  else text = plural(Math.round(s / 86400 / 365), 'year');
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

function fmtDuration(ms) {
  if (ms == null || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  if (m < 60) return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function fmtBytes(n) {
  if (n == null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

function debounce(fn, ms) {
  let t = null;
  const d = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  d.cancel = () => clearTimeout(t);
  return d;
}

/** Runs fn at most once per `ms` while calls keep coming (never two at once), and once after the last. */
function throttle(fn, ms) {
  let timer = null;
  let running = false;
  let again = false;
  const fire = async () => {
    timer = null;
    running = true;
    again = false;
    try {
      await fn();
    } finally {
      running = false;
      if (again) t();
    }
  };
  const t = () => {
    if (running) again = true;
    else if (!timer) timer = setTimeout(fire, ms);
  };
  t.cancel = () => {
    clearTimeout(timer);
    timer = null;
    again = false;
  };
  return t;
}

// ---- 2. API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = 'GET', body, signal } = {}) {
  const opts = { method, headers: { Accept: 'application/json' }, signal, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, opts);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `Cannot reach the Tessera server (${e.message}).`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok && liveWanted && !source && !signInShown && path !== '/health') startLive();
  if (!res.ok) {
    const err = new ApiError(res.status, data?.error?.code || `http_${res.status}`,
      data?.error?.message || text || res.statusText);
    if (res.status === 401) showSignIn();
    throw err;
  }
  return data;
}

/** Shows what went wrong, unless it is a navigation abort or the sign-in form handles it. */
function report(err) {
  if (!err || err.name === 'AbortError' || err.status === 401) return;
  console.error(err);
  showError(err.message || String(err));
}

// ---- 3. Banners ---------------------------------------------------------------------------

function banner(kind, ...message) {
  const box = $('#banners');
  const key = message.map((m) => (m instanceof Node ? m.textContent : String(m))).join('');
  for (const b of box.children) if (b.dataset.message === key) return b;
  const el = h(`div.banner.banner-${kind}`, { role: kind === 'error' ? 'alert' : 'status', 'data-message': key, 'data-kind': kind },
    h('span.banner-text', null, message),
    h('button.banner-close', { type: 'button', 'aria-label': 'Dismiss', title: 'Dismiss', onclick: () => el.remove() }, '×'));
  box.append(el);
  return el;
}
const showError = (msg) => banner('error', msg);

// ---- 4. Live updates ----------------------------------------------------------------------

const EVENT_NAMES = ['ready', 'run_started', 'run_finished', 'registry', 'sensor_tick', 'sensor_error',
  'schedule_tick', 'schedule_error', 'backfill_launched', 'backfill_progress', 'state_changed', 'lagged',
  'plugin_loaded', 'plugin_excluded'];
const listeners = new Set();
let source = null;
let liveWanted = false; // set at start-up; the stream opens after the first authorized answer

function startLive() {
  if (source) return;
  let first = true;
  source = new EventSource('/api/v1/events');
  source.onopen = () => setLive('live');
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      setLive('offline');
      source = null;
      if (!signInShown) setTimeout(startLive, 5000);
    } else setLive('reconnecting');
  };
  for (const name of EVENT_NAMES) {
    source.addEventListener(name, (e) => {
      let data = {};
      try {
        data = JSON.parse(e.data);
      } catch { /* keep {} */ }
      if (name === 'ready') {
        setLive('live');
        // After a reconnection events may have been missed: pages refetch as on `lagged`.
        if (!first) dispatch('lagged', data);
        first = false;
        return;
      }
      dispatch(name, data);
    });
  }
}

function dispatch(name, data) {
  for (const l of [...listeners]) {
    if (l.name !== name) continue;
    try {
      l.fn(data);
    } catch (e) {
      console.error(e);
    }
  }
}

function setLive(state) {
  const el = $('#live-status');
  if (!el) return;
  el.dataset.state = state;
  el.title = `Live updates: ${state}`;
  $('.live-label', el).textContent = state;
}

// ---- 5. Router ----------------------------------------------------------------------------

let current = null;

function makeCtx() {
  const cleanups = [];
  const ctrl = new AbortController();
  const ctx = {
    alive: true,
    signal: ctrl.signal,
    api: (path, opts = {}) => api(path, { ...opts, signal: ctrl.signal }),
    on(name, fn) {
      const l = { name, fn };
      listeners.add(l);
      cleanups.push(() => listeners.delete(l));
    },
    every(ms, fn) {
      const id = setInterval(fn, ms);
      cleanups.push(() => clearInterval(id));
    },
    cleanup: (fn) => cleanups.push(fn),
    dispose() {
      ctx.alive = false;
      ctrl.abort();
      for (const f of cleanups) {
        try {
          f();
        } catch (e) {
          console.error(e);
        }
      }
    },
  };
  return ctx;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const segs = path.replace(/^\//, '').split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { segs, query };
}

function pickPage(segs) {
  const [a, b, c] = segs;
  if (!a || (a === 'assets' && !b)) return ['assets', pageAssets, {}];
  if (a === 'assets' && c === 'partitions') return ['assets', pagePartition, { asset: b, key: segs.slice(3).join('/') }];
  if (a === 'assets' && segs.length === 2) return ['assets', pageAsset, { asset: b }];
  if (a === 'runs' && !b) return ['runs', pageRuns, {}];
  if (a === 'runs' && segs.length === 2) return ['runs', pageRun, { run: b }];
  if (a === 'backfills' && !b) return ['backfills', pageBackfills, {}];
  if (a === 'backfills' && b === 'new') return ['backfills', pageLauncher, {}];
  if (a === 'backfills' && segs.length === 2) return ['backfills', pageBackfill, { backfill: b }];
  if (a === 'plugins') return ['plugins', pagePlugins, {}];
  if (a === 'automation') return ['automation', pageAutomation, {}];
  return [null, pageNotFound, {}];
}

function route() {
  if (signInShown) return;
  if (current) current.dispose();
  for (const b of [...$('#banners').children]) if (b.dataset.kind === 'error') b.remove();
  const { segs, query } = parseHash();
  const [nav, page, params] = pickPage(segs);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = $('#main');
  fill(main, h('p.loading', null, 'Loading…'));
  const ctx = makeCtx();
  current = ctx;
  Promise.resolve()
    .then(() => page(main, { ...params, query }, ctx))
    .catch((e) => {
      if (!ctx.alive || e.name === 'AbortError' || e.status === 401) return;
      console.error(e);
      fill(main, h('div.page-error', { role: 'alert' }, h('h1', null, 'Could not load this page'), h('p', null, e.message),
        h('p', null, h('button.btn', { type: 'button', onclick: route }, 'Try again'), ' ', h('a', { href: '#/assets' }, 'Back to the assets'))));
    });
}

function setTitle(...parts) {
  document.title = [...parts, 'Tessera'].join(' · ');
}

function go(hash) {
  location.hash = hash;
}

// ---- 6. Widgets ---------------------------------------------------------------------------

const STATES = ['materialized', 'stale', 'failed', 'missing'];
const FINAL_RUN = new Set(['success', 'failed', 'canceled']);
const label = (s) => String(s).replace(/_/g, ' ');

const assetHref = (key) => `#/assets/${enc(key)}`;
const partitionHref = (asset, key) => `#/assets/${enc(asset)}/partitions/${enc(key)}`;
const assetLink = (key) => h('a', { href: assetHref(key) }, key);
const runLink = (id) => h('a.mono', { href: `#/runs/${enc(id)}` }, id);
const backfillLink = (id) => h('a.mono', { href: `#/backfills/${enc(id)}` }, id);
const code = (v, n = 12) => h('code', { title: v || '' }, short(v, n));

function stateBadge(state, attrs = {}) {
  return h('span', { class: `badge state-${state}`, 'data-state': state, ...attrs }, label(state));
}

function statusBadge(status, attrs = {}) {
  return h('span', { class: `badge status-${status}`, 'data-status': status, ...attrs }, label(status));
}

/** A UTC time and how long ago it was; `engine` times (ticks, evaluations) are on the engine's clock. */
function timeEl(ms, engine = false) {
  if (ms == null) return h('span.muted', null, '—');
  return h('time', { datetime: new Date(ms).toISOString(), 'data-ts': ms, 'data-engine': engine ? '1' : null },
    fmtTime(ms), h('span.rel', null, fmtRel(ms, engine)));
}

/** Keeps "3 min ago" texts fresh. */
setInterval(() => {
  for (const t of document.querySelectorAll('time[data-ts]')) {
    const rel = $('.rel', t);
    if (rel) rel.textContent = fmtRel(Number(t.dataset.ts), t.dataset.engine === '1');
  }
}, 30000);

function table(headers, rows, attrs = {}) {
  return h('div.table-wrap', null, h('table.data', attrs,
    h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, rows)));
}

function props(pairs) {
  return h('dl.props', null, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

const empty = (text) => h('p.empty', null, text);
const card = (title, ...children) => h('section.card', null, title ? h('h2', null, title) : null, ...children);

function countsEl(counts) {
  return h('div.counts', null, STATES.map((s) => h('span', { class: `count state-${s}`, 'data-count': s, 'data-value': counts[s] },
    h('span.swatch', { 'aria-hidden': 'true' }), h('strong', null, fmtNum(counts[s])), ` ${s}`)));
}

function selectionText(sel) {
  if (!sel || sel.kind === 'none') return 'whole asset';
  if (sel.kind === 'range') return sel.start === sel.end ? sel.start : `${sel.start} … ${sel.end}`;
  const keys = sel.keys || [];
  return keys.length <= 3 ? keys.join(', ') : `${keys.slice(0, 2).join(', ')} … (+${fmtNum(keys.length - 2)})`;
}

function runDuration(r) {
  if (!r.started_at) return null;
  return (r.ended_at ?? Date.now()) - r.started_at;
}

function emptyRow(cols, text) {
  return h('tr.empty-row', null, h('td', { colspan: cols }, text));
}

function runRow(r) {
  return h('tr', { 'data-run-id': r.id, 'data-status': r.status },
    h('td', null, statusBadge(r.status)),
    h('td', null, runLink(r.id)),
    h('td.assets-cell', null, r.assets.map((a, i) => [i ? ', ' : '', assetLink(a)])),
    h('td.sel-cell', { title: selectionText(r.selection) }, selectionText(r.selection)),
    h('td.num', null, fmtNum(r.partitions)),
    h('td.trigger-cell', { title: r.backfill_id ? `backfill ${r.backfill_id}` : r.trigger },
      r.backfill_id ? h('a', { href: `#/backfills/${enc(r.backfill_id)}` }, 'backfill') : r.trigger),
    h('td', null, timeEl(r.created_at)),
    h('td.num', null, fmtDuration(runDuration(r))),
    h('td.error-cell', { title: r.error || '' }, r.error ? h('span.clamp', null, r.error) : ''));
}

const RUN_HEADERS = ['Status', 'Run', 'Assets', 'Selection', 'Partitions', 'Trigger', 'Created', 'Duration', 'Error'];

/**
 * A live, paged list of runs matching `filter` (asset, status, backfill...): new runs appear
 * and statuses change as run events arrive, merged in the server's order.
 */
function runsList(ctx, filter, { emptyText = 'No runs yet.' } = {}) {
  let runs = [];
  let next = null;
  let loaded = false;
  const body = h('tbody');
  const more = h('button.btn#runs-more', { type: 'button', hidden: true, onclick: () => loadMore() }, 'Load more');
  const el = h('div.runs-list', null,
    h('div.table-wrap', null, h('table.data#runs-table', null,
      h('thead', null, h('tr', null, RUN_HEADERS.map((t) => h('th', { scope: 'col' }, t)))), body)),
    h('div.pager', null, more));

  function render() {
    fill(body, ...(runs.length ? runs.map(runRow) : [emptyRow(RUN_HEADERS.length, loaded ? emptyText : 'Loading…')]));
    more.hidden = !next;
  }

  async function load() {
    const page = await ctx.api(`/runs${qs({ ...filter, limit: 50 })}`);
    runs = page.runs;
    next = page.next_cursor ?? null;
    loaded = true;
    render();
  }

  async function loadMore() {
    more.disabled = true;
    try {
      const page = await ctx.api(`/runs${qs({ ...filter, limit: 50, cursor: next })}`);
      const seen = new Set(runs.map((r) => r.id));
      runs = runs.concat(page.runs.filter((r) => !seen.has(r.id)));
      next = page.next_cursor ?? null;
      render();
    } catch (e) {
      report(e);
    } finally {
      more.disabled = false;
    }
  }

  const touched = new Set();
  const refresh = throttle(async () => {
    try {
      const page = await ctx.api(`/runs${qs({ ...filter, limit: 50 })}`);
      const fresh = new Map(page.runs.map((r) => [r.id, r]));
      const known = new Set(runs.map((r) => r.id));
      const added = page.runs.filter((r) => !known.has(r.id));
      runs = added.concat(runs.map((r) => fresh.get(r.id) || r));
      if (!loaded || runs.length === 0) next = page.next_cursor ?? null;
      // Runs further down the list that changed: fetched one by one (a few at most).
      const others = [...touched].filter((id) => known.has(id) && !fresh.has(id)).slice(0, 20);
      touched.clear();
      for (const id of others) {
        const d = await ctx.api(`/runs/${enc(id)}`);
        runs = runs.map((r) => (r.id === id ? d.run : r));
      }
      if (filter.status) runs = runs.filter((r) => r.status === filter.status);
      render();
    } catch (e) {
      report(e);
    }
  }, 400);
  const onRun = (e) => {
    if (e.run) touched.add(e.run);
    refresh();
  };
  for (const name of ['run_started', 'run_finished']) ctx.on(name, onRun);
  for (const name of ['state_changed', 'lagged', 'backfill_launched', 'sensor_tick', 'schedule_tick']) ctx.on(name, refresh);
  ctx.cleanup(refresh.cancel);
  render();
  load().catch(report);
  return el;
}

// Colours of the health bars come from the style sheet (light and dark themes).
let palette = null;
function colors() {
  if (palette) return palette;
  const cs = getComputedStyle(document.documentElement);
  const rgb = (name) => {
    const m = /^#?([0-9a-f]{6})$/i.exec(cs.getPropertyValue(name).trim()) || [0, '888888'];
    const n = parseInt(m[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  };
  palette = {
    materialized: rgb('--ok'), stale: rgb('--stale'), failed: rgb('--fail'),
    missing: rgb('--missing'), outside_definition: rgb('--outside'),
  };
  return palette;
}
const mix = (a, b, t) => a.map((x, i) => Math.round(x + (b[i] - x) * t));
const css = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

/**
 * The colour of a bin: any failure is red; else green (or amber when stale) by fraction done,
 * from a faint tint (a few partitions in a bin of thousands stay visible, yet read as mostly
 * missing) to full colour.
 */
function binColor(m, s, f, size) {
  const p = colors();
  if (size <= 0) return p.missing;
  if (f > 0) return mix(p.missing, p.failed, 0.65 + 0.35 * (f / size));
  const done = m + s;
  if (done === 0) return p.missing;
  return mix(p.missing, mix(p.materialized, p.stale, s / done), 0.15 + 0.85 * (done / size));
}

/** Rectangles of a whole asset's coarse bar (`bar` of an AssetSummary), for SVG. */
function miniBar(asset, x, y, w, hgt) {
  const g = svg('g.mini-bar', { 'shape-rendering': 'crispEdges' });
  const total = asset.partitions?.total ?? 1;
  const bar = asset.bar;
  if (!bar || !bar.count) {
    const c = asset.counts;
    const state = STATES.find((s) => c[s] > 0) || 'missing';
    g.append(svg('rect', { x, y, width: w, height: hgt, rx: 2, fill: css(colors()[state]) }));
    return g;
  }
  // Neighbouring bins of one colour become one rectangle (no seams, fewer nodes).
  let runStart = 0;
  let runColor = null;
  const flush = (end) => {
    const x0 = x + (runStart * w) / bar.count;
    const x1 = x + (end * w) / bar.count;
    g.append(svg('rect', { x: x0.toFixed(2), y, width: Math.max(1, x1 - x0).toFixed(2), height: hgt, fill: runColor }));
  };
  for (let b = 0; b < bar.count; b++) {
    const from = Math.ceil((b * total) / bar.count);
    const to = Math.ceil(((b + 1) * total) / bar.count);
    const color = css(binColor(bar.materialized[b], bar.stale[b], bar.failed[b], to - from));
    if (color !== runColor) {
      if (runColor) flush(b);
      runStart = b;
      runColor = color;
    }
  }
  if (runColor) flush(bar.count);
  return g;
}

function miniBarSvg(asset, w = 160, hgt = 10) {
  return svg('svg.mini-bar-svg', { width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': countsText(asset.counts) },
    miniBar(asset, 0, 0, w, hgt));
}

function countsText(c) {
  const parts = STATES.filter((s) => c[s] > 0).map((s) => `${fmtNum(c[s])} ${s}`);
  return parts.length ? parts.join(' · ') : 'no partitions';
}

function tabs(defs) {
  const panel = h('div.tab-panel', { role: 'tabpanel' });
  const buttons = defs.map((d, i) => h('button.tab', {
    type: 'button', role: 'tab', id: `tab-${d.id}`, 'data-tab': d.id, 'aria-selected': i === 0 ? 'true' : 'false',
    onclick: () => select(i),
  }, d.label));
  function select(i) {
    buttons.forEach((b, j) => b.setAttribute('aria-selected', i === j ? 'true' : 'false'));
    panel.setAttribute('aria-labelledby', buttons[i].id);
    fill(panel, defs[i].render());
  }
  const el = h('div.tabs', null, h('div.tab-list', { role: 'tablist' }, buttons), panel);
  select(0);
  return el;
}

const BAR_HEIGHT = 40;
const MIN_WINDOW = 10;

/**
 * The partition health bar of one asset: a canvas drawn from GET .../partitions for the
 * window shown, with as many bins as device pixels. Wheel or +/− zoom, drag selects a window,
 * hover shows a partition's key and state, click opens it. Data attributes for tests:
 * data-total, data-mode (exact|binned), data-start/data-end (the window), data-drawn="1".
 */
function healthBar(ctx, asset, total) {
  const canvas = h('canvas#health-bar.health-bar', {
    tabindex: 0, role: 'img', 'data-total': total, 'data-asset': asset, 'data-mode': '',
    'aria-label': `Partition health of ${asset}: arrow keys pan, + and − zoom, 0 resets.`,
  });
  const tip = h('div#bar-tooltip.bar-tooltip', { role: 'tooltip', hidden: true });
  const selBox = h('div.bar-selection', { hidden: true });
  const wrap = h('div.bar-wrap', null, canvas, selBox, tip);
  const windowText = h('span#bar-window.muted');
  const thumb = h('div.bar-thumb');
  const overview = h('div.bar-overview', { title: 'Where the window shown lies among all partitions', hidden: true }, thumb);
  const startKey = h('span#bar-start-key.bar-edge');
  const endKey = h('span#bar-end-key.bar-edge');
  const button = (text, title, fn, id) => h('button.btn.small', { type: 'button', title, 'aria-label': title, onclick: fn, id }, text);
  const el = h('div.health', null,
    h('div.bar-toolbar', null,
      button('+', 'Zoom in', () => zoom(0.5), 'bar-zoom-in'),
      button('−', 'Zoom out', () => zoom(2), 'bar-zoom-out'),
      button('←', 'Pan left', () => pan(-0.5), 'bar-pan-left'),
      button('→', 'Pan right', () => pan(0.5), 'bar-pan-right'),
      button('Reset zoom', 'Show every partition', () => setView(0, total - 1), 'bar-reset'),
      windowText,
      h('span.bar-hint.muted', null, 'Scroll to zoom · drag to select · click a partition to open it')),
    wrap,
    h('div.bar-edges', null, startKey, endKey),
    overview,
    h('div.legend', null, STATES.map((s) => h('span', { class: `legend-item state-${s}` }, h('span.swatch'), s))));

  let view = { start: 0, end: Math.max(0, total - 1) };
  let data = null; // the last StatusView fetched (its window may lag behind `view`)
  let drawn;
  const firstDraw = new Promise((resolve) => { drawn = resolve; });
  let loading = false;
  let pending = false;
  let fresh = false; // the next load wants the state as it is (no max age)
  const keyCache = new Map(); // partition index → {key, state}
  const remember = (i, key, state) => {
    if (keyCache.size > 5000) keyCache.clear();
    keyCache.set(i, { key, state });
  };

  /** Fetches the window shown; one request at a time, the newest window wins. */
  async function load() {
    if (!wrap.clientWidth) return;
    if (loading) {
      pending = true;
      return;
    }
    loading = true;
    canvas.dataset.loading = '1';
    try {
      const bins = clamp(Math.round(wrap.clientWidth * (window.devicePixelRatio || 1)), 1, 10000);
      // A status up to half a second old will do while events pour in (see refresh below): a
      // busy backfill would otherwise have it recomputed at every commit.
      const maxAge = fresh ? 0 : 500;
      fresh = false;
      data = await ctx.api(`/assets/${enc(asset)}/partitions${qs({ start: view.start, end: view.end, bins, max_ranges: 2000, max_age_ms: maxAge })}`);
      if (data.exact) learnKeys(data);
      draw();
      drawn();
      if (!pending) edgeKeys();
    } catch (e) {
      report(e);
    } finally {
      loading = false;
      if (pending) {
        pending = false;
        load();
      } else delete canvas.dataset.loading;
    }
  }
  const loadSoon = debounce(load, 80);

  /** Exact ranges give the keys at their edges; a small window gets all its keys in one page. */
  function learnKeys(v) {
    for (const r of v.ranges) {
      remember(r.from, r.from_key, r.state);
      remember(r.to, r.to_key, r.state);
    }
    const len = v.to - v.from + 1;
    if (len > 2 && len <= 500 && v.ranges.length) {
      ctx.api(`/assets/${enc(asset)}/keys${qs({ from: v.ranges[0].from_key, limit: len })}`).then((page) => {
        page.keys.forEach((k, i) => remember(page.offset + i, k, stateIn(v, page.offset + i)));
      }).catch(report);
    }
  }
  const stateIn = (v, i) => (v.ranges.find((r) => i >= r.from && i <= r.to) || { state: 'missing' }).state;

  /** Draws `data` mapped onto the window shown (so zooming answers at once, then sharpens). */
  function draw() {
    if (!data) return;
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(1, Math.round(wrap.clientWidth * dpr));
    const H = Math.round(BAR_HEIGHT * dpr);
    if (canvas.width !== W) canvas.width = W;
    if (canvas.height !== H) canvas.height = H;
    const g = canvas.getContext('2d');
    const p = colors();
    g.fillStyle = css(p.missing);
    g.fillRect(0, 0, W, H);
    const len = view.end - view.start + 1;
    const xOf = (i) => ((i - view.start) / len) * W;
    overview.hidden = len >= total;
    thumb.style.left = `${(100 * view.start) / total}%`;
    thumb.style.width = `${Math.max(0.4, (100 * len) / total)}%`;
    if (data.exact) {
      const minW = Math.max(2, Math.round(dpr * 2));
      for (const r of data.ranges) {
        if (r.state === 'missing' || r.to < view.start || r.from > view.end) continue;
        const x0 = Math.floor(xOf(r.from));
        g.fillStyle = css(p[r.state] || p.missing);
        g.fillRect(x0, 0, Math.max(minW, Math.round(xOf(r.to + 1)) - x0), H);
      }
    } else if (data.bins) {
      const b = data.bins;
      const dlen = data.to - data.from + 1;
      for (let i = 0; i < b.count; i++) {
        const lo = data.from + Math.ceil((i * dlen) / b.count);
        const hi = data.from + Math.ceil(((i + 1) * dlen) / b.count);
        if (hi <= view.start || lo > view.end) continue;
        const x0 = Math.floor(xOf(lo));
        g.fillStyle = css(binColor(b.materialized[i], b.stale[i], b.failed[i], hi - lo));
        g.fillRect(x0, 0, Math.max(1, Math.floor(xOf(hi)) - x0), H);
      }
    }
    // Separators between partitions when each is wide enough to see.
    if (len > 1 && W / len >= 6 * dpr) {
      g.fillStyle = 'rgba(127,127,127,0.45)';
      for (let i = 1; i < len; i++) g.fillRect(Math.round((i * W) / len), 0, Math.max(1, Math.round(dpr)), H);
    }
    if (data.from !== view.start || data.to !== view.end) return; // a preview: the fetch is coming
    Object.assign(canvas.dataset, { mode: data.exact ? 'exact' : 'binned', start: data.from, end: data.to, drawn: '1' });
    const zoomed = data.from > 0 || data.to < total - 1;
    windowText.textContent = `${zoomed ? 'Window' : 'All'}: ${plural(len, 'partition')} (#${fmtNum(data.from)}–#${fmtNum(data.to)})${data.exact ? ' · exact' : ` · binned, ${fmtNum(data.bins?.count)} bins`}`;
    $('#bar-reset', el).disabled = !zoomed;
  }

  async function keyAt(i) {
    if (keyCache.has(i)) return keyCache.get(i);
    const v = await ctx.api(`/assets/${enc(asset)}/partitions${qs({ start: i, end: i })}`);
    const r = v.ranges[0];
    remember(i, r ? r.from_key : null, r ? r.state : 'missing');
    return keyCache.get(i);
  }

  async function edgeKeys() {
    const d = data;
    try {
      const [a, b] = d.exact && d.ranges.length
        ? [{ key: d.ranges[0].from_key }, { key: d.ranges[d.ranges.length - 1].to_key }]
        : await Promise.all([keyAt(d.from), keyAt(d.to)]);
      if (d !== data) return;
      startKey.textContent = a.key ?? '';
      endKey.textContent = b.key ?? '';
    } catch (e) {
      report(e);
    }
  }

  function setView(start, end) {
    const len = clamp(end - start + 1, Math.min(total, MIN_WINDOW), total);
    const s = clamp(Math.round(start), 0, total - len);
    view = { start: s, end: s + len - 1 };
    hideTip();
    draw();
    loadSoon();
  }
  function zoom(factor, anchor = 0.5) {
    const len = view.end - view.start + 1;
    const at = view.start + anchor * len;
    const nl = Math.max(1, Math.round(len * factor));
    const s = Math.round(at - anchor * nl);
    setView(s, s + nl - 1);
  }
  function pan(frac) {
    const len = view.end - view.start + 1;
    const d = Math.round(len * frac) || Math.sign(frac);
    setView(view.start + d, view.end + d);
  }

  const fracAt = (clientX) => {
    const r = canvas.getBoundingClientRect();
    return clamp((clientX - r.left) / r.width, 0, 0.999999);
  };
  const indexAt = (clientX) => view.start + Math.floor(fracAt(clientX) * (view.end - view.start + 1));

  function binSummary(i) {
    if (!data || data.exact || !data.bins || i < data.from || i > data.to) return null;
    const b = data.bins;
    const len = data.to - data.from + 1;
    const k = Math.min(b.count - 1, Math.floor(((i - data.from) * b.count) / len));
    const lo = Math.ceil((k * len) / b.count);
    const hi = Math.ceil(((k + 1) * len) / b.count);
    const size = hi - lo;
    const miss = size - b.materialized[k] - b.stale[k] - b.failed[k];
    const parts = [['materialized', b.materialized[k]], ['stale', b.stale[k]], ['failed', b.failed[k]], ['missing', miss]]
      .filter(([, n]) => n > 0).map(([s, n]) => `${fmtNum(n)} ${s}`);
    return `This pixel: ${plural(size, 'partition')} — ${parts.join(', ')}`;
  }

  function exactState(i) {
    if (!data?.exact || i < data.from || i > data.to) return null;
    const r = data.ranges.find((x) => i >= x.from && i <= x.to);
    return r ? r.state : 'missing';
  }

  function renderTip(i, info) {
    const state = info?.state ?? exactState(i);
    tip.dataset.index = i;
    tip.dataset.key = info?.key ?? '';
    tip.dataset.state = state ?? '';
    fill(tip,
      h('div.tip-key', null, info?.key ?? '…'),
      h('div.tip-line', null, state ? stateBadge(state) : null, h('span.muted', null, ` #${fmtNum(i)} of ${fmtNum(total)}`)),
      binSummary(i) ? h('div.tip-line.muted', null, binSummary(i)) : null);
  }

  // The hovered partition's key: one request at a time, for the latest index hovered.
  let tipBusy = false;
  let tipWanted = null;
  async function fetchTip(i) {
    tipWanted = i;
    if (tipBusy) return;
    tipBusy = true;
    try {
      while (tipWanted != null) {
        const j = tipWanted;
        tipWanted = null;
        const info = await keyAt(j);
        if (!tip.hidden && Number(tip.dataset.index) === j) renderTip(j, info);
      }
    } catch (e) {
      report(e);
    } finally {
      tipBusy = false;
    }
  }
  const fetchTipSoon = debounce(fetchTip, 90);

  function showTip(ev) {
    if (!data) return;
    const i = indexAt(ev.clientX);
    if (Number(tip.dataset.index) !== i || tip.hidden) {
      const known = keyCache.get(i);
      renderTip(i, known);
      if (!known) fetchTipSoon(i);
    }
    tip.hidden = false;
    const wr = wrap.getBoundingClientRect();
    const x = ev.clientX - wr.left;
    tip.style.left = `${clamp(x - tip.offsetWidth / 2, 0, Math.max(0, wr.width - tip.offsetWidth))}px`;
  }
  function hideTip() {
    tip.hidden = true;
    delete tip.dataset.index;
    tipWanted = null;
    fetchTipSoon.cancel();
  }

  async function open(i) {
    try {
      const { key } = await keyAt(i);
      if (key != null) go(partitionHref(asset, key));
    } catch (e) {
      report(e);
    }
  }

  let drag = null;
  canvas.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0 || !data) return;
    drag = { x: ev.clientX, moved: false };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener('pointermove', (ev) => {
    if (drag && Math.abs(ev.clientX - drag.x) > 4) {
      drag.moved = true;
      const wr = wrap.getBoundingClientRect();
      const a = clamp(Math.min(drag.x, ev.clientX) - wr.left, 0, wr.width);
      const b = clamp(Math.max(drag.x, ev.clientX) - wr.left, 0, wr.width);
      selBox.hidden = false;
      selBox.style.left = `${a}px`;
      selBox.style.width = `${b - a}px`;
    }
    showTip(ev);
  });
  canvas.addEventListener('pointerup', (ev) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    selBox.hidden = true;
    if (d.moved) {
      const a = indexAt(Math.min(d.x, ev.clientX));
      const b = indexAt(Math.max(d.x, ev.clientX));
      setView(a, b);
    } else open(indexAt(ev.clientX));
  });
  canvas.addEventListener('pointerleave', () => {
    if (!drag) hideTip();
  });
  canvas.addEventListener('wheel', (ev) => {
    if (!data) return;
    ev.preventDefault();
    if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) pan(Math.sign(ev.deltaX || ev.deltaY) * 0.15);
    else zoom(ev.deltaY > 0 ? 1.4 : 1 / 1.4, fracAt(ev.clientX));
  }, { passive: false });
  canvas.addEventListener('keydown', (ev) => {
    const keys = {
      ArrowLeft: () => pan(-0.25), ArrowRight: () => pan(0.25), ArrowUp: () => zoom(0.5), ArrowDown: () => zoom(2),
      '+': () => zoom(0.5), '=': () => zoom(0.5), '-': () => zoom(2), 0: () => setView(0, total - 1), Home: () => setView(0, total - 1),
    };
    if (keys[ev.key]) {
      ev.preventDefault();
      keys[ev.key]();
    }
  });

  let lastWidth = 0;
  const ro = new ResizeObserver(() => {
    if (wrap.clientWidth && wrap.clientWidth !== lastWidth) {
      lastWidth = wrap.clientWidth;
      if (data) draw();
      loadSoon();
    }
  });
  ro.observe(wrap);
  ctx.cleanup(() => {
    ro.disconnect();
    loadSoon.cancel();
    fetchTipSoon.cancel();
  });
  // Refreshes during a busy backfill accept a status half a second old; once the events
  // stop for a moment, one more load asks for the state as it is, so the bar never rests
  // behind it.
  let settle = null;
  const refresh = () => {
    keyCache.clear();
    loadSoon();
    clearTimeout(settle);
    settle = setTimeout(() => { fresh = true; loadSoon(); }, 700);
  };
  return { el, firstDraw, refresh, redraw: draw };
}

// ---- 7. Pages -----------------------------------------------------------------------------

// -- Assets: the graph and the table.

const NODE_W = 272;
const NODE_H = 86;
const COL_GAP = 96;
const ROW_GAP = 16;
const PAD = 16;

const BAND_GAP = 36;

/** Connected components of the graph, largest first; lone assets last. */
function components(assets, byKey) {
  const seen = new Set();
  const groups = [];
  for (const a of [...assets].sort((x, y) => x.key.localeCompare(y.key))) {
    if (seen.has(a.key)) continue;
    const group = [];
    const stack = [a.key];
    seen.add(a.key);
    while (stack.length) {
      const n = byKey.get(stack.pop());
      group.push(n);
      for (const m of [...n.inputs.map((i) => i.asset), ...n.downstream]) {
        if (byKey.has(m) && !seen.has(m)) {
          seen.add(m);
          stack.push(m);
        }
      }
    }
    groups.push(group);
  }
  return groups.sort((x, y) => y.length - x.length);
}

/** One component's columns (by depth), rows ordered by barycentre sweeps to keep edges short. */
function orderColumns(group, byKey) {
  const cols = [];
  for (const a of [...group].sort((x, y) => x.key.localeCompare(y.key))) (cols[a.depth] ||= []).push(a);
  for (let i = 0; i < cols.length; i++) cols[i] ||= [];
  const pos = new Map();
  const setPos = () => cols.forEach((c) => c.forEach((a, i) => pos.set(a.key, i)));
  const mean = (keys, fallback) => {
    const ps = keys.filter((k) => byKey.has(k) && pos.has(k)).map((k) => pos.get(k));
    return ps.length ? ps.reduce((t, x) => t + x, 0) / ps.length : fallback;
  };
  setPos();
  for (let iter = 0; iter < 4; iter++) {
    for (let d = 1; d < cols.length; d++) {
      cols[d].sort((a, b) => mean(a.inputs.map((x) => x.asset), pos.get(a.key)) - mean(b.inputs.map((x) => x.asset), pos.get(b.key)));
      setPos();
    }
    for (let d = cols.length - 2; d >= 0; d--) {
      cols[d].sort((a, b) => mean(a.downstream, pos.get(a.key)) - mean(b.downstream, pos.get(b.key)));
      setPos();
    }
  }
  return cols;
}

/**
 * Positions: columns by `depth` (upstream on the left); each connected component in its own
 * horizontal band, nodes centred in it; assets with no edges share a last band, in a grid.
 */
function layoutGraph(assets) {
  const byKey = new Map(assets.map((a) => [a.key, a]));
  const groups = components(assets, byKey);
  const singles = groups.filter((g) => g.length === 1).map((g) => g[0]);
  const stackH = (n) => n * NODE_H + Math.max(0, n - 1) * ROW_GAP;
  const xy = new Map();
  let columns = 1;
  let y = PAD;
  for (const group of groups.filter((g) => g.length > 1)) {
    const cols = orderColumns(group, byKey);
    columns = Math.max(columns, cols.length);
    const bandH = stackH(Math.max(...cols.map((c) => c.length)));
    cols.forEach((c, d) => {
      const top = y + (bandH - stackH(c.length)) / 2;
      c.forEach((a, i) => xy.set(a.key, { x: PAD + d * (NODE_W + COL_GAP), y: top + i * (NODE_H + ROW_GAP) }));
    });
    y += bandH + BAND_GAP;
  }
  if (singles.length) {
    const per = Math.max(columns, Math.min(singles.length, 4));
    columns = per;
    singles.forEach((a, i) => xy.set(a.key, { x: PAD + (i % per) * (NODE_W + COL_GAP), y: y + Math.floor(i / per) * (NODE_H + ROW_GAP) }));
    y += stackH(Math.ceil(singles.length / per)) + BAND_GAP;
  }
  const width = PAD * 2 + columns * NODE_W + (columns - 1) * COL_GAP;
  return { xy, width, height: y - BAND_GAP + PAD, byKey };
}

function fit(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function graphNode(a, { x, y }) {
  const c = a.counts;
  const health = c.failed ? 'failed' : c.stale ? 'stale' : c.missing ? (c.materialized ? 'partial' : 'missing') : 'materialized';
  const parts = a.partitions ? plural(a.partitions.total, 'partition') : 'unpartitioned';
  const stats = STATES.filter((s) => c[s] > 0);
  return svg('a.node', { href: assetHref(a.key), 'data-asset': a.key, 'data-health': health, 'aria-label': `${a.key}: ${parts}; ${countsText(c)}` },
    svg('title', null, `${a.key}\n${a.description || ''}\n${countsText(c)}`),
    svg('rect.node-card', { x, y, width: NODE_W, height: NODE_H, rx: 10 }),
    svg('rect.node-accent', { x, y: y + 1, width: 5, height: NODE_H - 2, rx: 2 }),
    svg('text.node-title', { x: x + 16, y: y + 22 }, fit(a.key, 30)),
    svg('text.node-sub', { x: x + 16, y: y + 39 }, fit(a.plugin === a.key ? parts : `${parts} · plugin ${a.plugin}`, 42)),
    miniBar(a, x + 16, y + 48, NODE_W - 32, 10),
    svg('text.node-counts', { x: x + 16, y: y + 75 },
      stats.length ? stats.map((s, i) => svg(`tspan.c-${s}`, null, `${i ? '  ' : ''}${fmtNum(c[s])} ${s}`)) : svg('tspan', null, 'no partitions')));
}

function graphEdge(from, to, src, dst) {
  const x1 = from.x + NODE_W;
  const y1 = from.y + NODE_H / 2;
  const x2 = to.x - 4;
  const y2 = to.y + NODE_H / 2;
  const dx = Math.max(40, (x2 - x1) / 2);
  return svg('path.edge', { d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)', 'data-from': src, 'data-to': dst });
}

function assetGraph(assets) {
  if (!assets.length) return empty('No assets: no plugin defines any yet.');
  const { xy, width, height, byKey } = layoutGraph(assets);
  const edges = [];
  for (const a of assets) {
    for (const inp of a.inputs) if (xy.has(inp.asset)) edges.push(graphEdge(xy.get(inp.asset), xy.get(a.key), inp.asset, a.key));
  }
  const root = svg('svg#asset-graph.graph', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': 'Asset graph' },
    svg('defs', null, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      svg('path.arrow-head', { d: 'M0,0 L10,5 L0,10 z' }))),
    svg('g.edges', null, edges),
    // In layout order (band by band, column by column), so that Tab follows the picture.
    svg('g.nodes', null, [...xy.keys()].map((k) => graphNode(byKey.get(k), xy.get(k)))));
  const highlight = (key, on) => {
    for (const e of root.querySelectorAll('.edge')) if (e.dataset.from === key || e.dataset.to === key) e.classList.toggle('hl', on);
  };
  for (const n of root.querySelectorAll('.node')) {
    for (const [ev, on] of [['mouseenter', true], ['mouseleave', false], ['focus', true], ['blur', false]]) {
      n.addEventListener(ev, () => highlight(n.dataset.asset, on));
    }
  }
  return h('div.graph-scroll', null, root);
}

function assetWarnings(list) {
  const un = Object.entries(list.unavailable || {});
  const ex = Object.entries(list.excluded_plugins || {});
  if (!un.length && !ex.length) return null;
  return h('div.warning-box#graph-warnings', { role: 'note' },
    un.length ? [h('h3', null, 'Unavailable assets'), h('ul', null, un.map(([k, why]) => h('li', { 'data-unavailable': k }, h('strong', null, k), ': ', why)))] : null,
    ex.length ? [h('h3', null, 'Plugins left out of the graph'), h('ul', null, ex.map(([k, why]) => h('li', { 'data-excluded-plugin': k }, h('strong', null, k), ': ', why)))] : null,
    h('p', null, h('a', { href: '#/plugins' }, 'See the plugins page')));
}

function assetRow(a) {
  return h('tr', { 'data-asset-row': a.key },
    h('td', null, assetLink(a.key), a.description ? h('div.muted.small', null, a.description) : null),
    h('td', null, a.plugin),
    h('td', null, a.partitions ? [h('div', null, plural(a.partitions.total, 'partition')), h('div.muted.small', null, a.partitions.description)] : h('span.muted', null, 'unpartitioned')),
    h('td', null, miniBarSvg(a)),
    STATES.map((s) => h(`td.num.c-${s}`, null, a.counts[s] ? fmtNum(a.counts[s]) : h('span.muted', null, '0'))));
}

async function pageAssets(main, _p, ctx) {
  setTitle('Assets');
  const filter = h('input#asset-filter.input', { type: 'search', placeholder: 'Filter assets…', 'aria-label': 'Filter assets' });
  const graphBox = h('div.card.graph-card');
  const tableBox = h('div');
  const warnBox = h('div');
  fill(main,
    h('div.page-head', null, h('h1', null, 'Assets'), h('div.actions', null, filter,
      h('a.btn.primary', { href: '#/backfills/new' }, 'Launch backfill…'))),
    warnBox, graphBox, h('h2.section-title', null, 'All assets'), tableBox);

  let list = null;
  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    const match = (a) => !q || a.key.toLowerCase().includes(q) || a.plugin.toLowerCase().includes(q);
    for (const a of list?.assets || []) {
      const n = graphBox.querySelector(`[data-asset="${CSS.escape(a.key)}"]`);
      if (n) n.classList.toggle('dim', !match(a));
      const r = tableBox.querySelector(`[data-asset-row="${CSS.escape(a.key)}"]`);
      if (r) r.hidden = !match(a);
    }
  }
  filter.addEventListener('input', applyFilter);

  async function load() {
    list = await ctx.api('/assets');
    const scroll = graphBox.querySelector('.graph-scroll');
    const keep = scroll ? [scroll.scrollLeft, scroll.scrollTop] : null;
    fill(graphBox, assetGraph(list.assets));
    const ns = graphBox.querySelector('.graph-scroll');
    if (keep && ns) [ns.scrollLeft, ns.scrollTop] = keep;
    fill(warnBox, assetWarnings(list) || '');
    const sorted = [...list.assets].sort((a, b) => a.depth - b.depth || a.key.localeCompare(b.key));
    fill(tableBox, sorted.length
      ? table(['Asset', 'Plugin', 'Partitions', 'Health', 'Materialized', 'Stale', 'Failed', 'Missing'], sorted.map(assetRow), { id: 'asset-table' })
      : empty('No assets yet.'));
    applyFilter();
  }
  await load();
  const refresh = throttle(() => load().catch(report), 2000);
  for (const n of ['run_finished', 'registry', 'state_changed', 'lagged']) ctx.on(n, refresh);
  ctx.cleanup(refresh.cancel);
}

// -- One asset.

async function pageAsset(main, { asset }, ctx) {
  setTitle(asset, 'Assets');
  const a = await ctx.api(`/assets/${enc(asset)}`);
  const health = (x) => (x.partitions ? countsEl(x.counts)
    : h('p.unpartitioned-state', null, 'State: ', stateBadge(x.detail?.state ?? 'missing', { id: 'asset-state' })));
  const countsBox = h('div', null, health(a));
  const bar = a.partitions ? healthBar(ctx, asset, a.partitions.total) : null;
  const detailBox = h('div');
  const materialize = a.partitions
    ? h('a.btn.primary#materialize-link', { href: `#/backfills/new?asset=${enc(asset)}` }, 'Materialize…')
    : h('button.btn.primary#materialize-btn', { type: 'button', onclick: () => materializeWhole() }, 'Materialize');
  const result = h('div#materialize-result');

  fill(main,
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/assets' }, 'Assets'), ' / ', h('span', null, asset)),
    h('div.page-head', null, h('div', null, h('h1#asset-title', null, asset), a.description ? h('p.lead', null, a.description) : null),
      h('div.actions', null, materialize)),
    result,
    h('div.grid-2', null,
      card('Definition', props([
        ['Plugin', h('a', { href: '#/plugins' }, a.plugin)],
        ['Computation', a.computation],
        ['Code version', code(a.code_version, 16)],
        ['Partitions', a.partitions ? [h('strong', null, plural(a.partitions.total, 'partition')), h('div.muted', null, a.partitions.description)] : 'unpartitioned'],
        ['Backfill policy', a.backfill_policy],
        ['Eager', a.eager ? 'yes (materialized when its inputs change)' : 'no'],
        a.pool ? ['Pool', a.pool] : null,
      ])),
      card('Lineage',
        h('h3', null, 'Inputs'),
        a.inputs.length ? h('ul.lineage#asset-inputs', null, a.inputs.map((i) => h('li', { 'data-input': i.asset },
          assetLink(i.asset), h('div.muted.small', null, i.mapping, i.allow_missing ? ' · missing partitions allowed' : '')))) : empty('None: a source asset.'),
        h('h3', null, 'Downstream'),
        a.downstream.length ? h('ul.lineage#asset-downstream', null, a.downstream.map((d) => h('li', { 'data-downstream': d }, assetLink(d)))) : empty('Nothing reads this asset.'))),
    card('Health', countsBox, bar ? bar.el : detailBox),
    (a.checks || []).length ? card('Checks', table(['Check', 'Pass', 'Warn', 'Fail'], a.checks.map((c) => h('tr', { 'data-check': c.check },
      h('th', { scope: 'row' }, c.check, c.blocking ? h('span.tag.warn', null, 'blocking') : null),
      h('td.num', { 'data-outcome': 'pass' }, fmtNum(c.pass)),
      h('td.num', { 'data-outcome': 'warn' }, c.warn ? h('span.tag.warn', null, fmtNum(c.warn)) : h('span.muted', null, '0')),
      h('td.num', { 'data-outcome': 'fail' }, c.fail ? h('span.tag.warn', null, fmtNum(c.fail)) : h('span.muted', null, '0')))), { id: 'asset-checks' })) : null,
    tabs([
      a.partitions ? { id: 'partitions', label: 'Partitions', render: () => partitionsTab(ctx, asset, a.partitions.total, bar.firstDraw) } : null,
      { id: 'runs', label: 'Runs', render: () => runsList(ctx, { asset }, { emptyText: 'No runs of this asset yet.' }) },
      { id: 'definition', label: 'Definition', render: () => definitionTab(a) },
    ].filter(Boolean)));

  if (!a.partitions) fill(detailBox, ...(a.detail ? partitionSections(a.detail, null, null) : [empty('Never materialized.')]));

  async function materializeWhole() {
    try {
      const s = await ctx.api(`/assets/${enc(asset)}/materialize`, { method: 'POST', body: { keys: [] } });
      fill(result, h('div.notice', null, 'Queued ', s.runs.map((r, i) => [i ? ', ' : '', runLink(r)]), '.'));
    } catch (e) {
      report(e);
    }
  }

  const mine = new Set();
  const refresh = throttle(async () => {
    try {
      const fresh = await ctx.api(`/assets/${enc(asset)}`);
      fill(countsBox, health(fresh));
      if (bar) bar.refresh();
      else fill(detailBox, ...(fresh.detail ? partitionSections(fresh.detail, null, null) : [empty('Never materialized.')]));
    } catch (e) {
      report(e);
    }
  }, 500);
  ctx.on('run_started', (e) => { if ((e.assets || []).includes(asset)) mine.add(e.run); });
  ctx.on('run_finished', (e) => { if (mine.has(e.run)) refresh(); });
  ctx.on('backfill_progress', (v) => { if (v.backfill?.assets?.includes(asset)) refresh(); });
  ctx.on('state_changed', refresh);
  ctx.on('lagged', refresh);
  ctx.cleanup(refresh.cancel);
}

function definitionTab(a) {
  const { bar, counts, detail, ...def } = a;
  return h('div', null,
    props([
      ['Key', h('code', null, a.key)], ['Plugin', a.plugin], ['Computation', a.computation],
      ['Code version', h('code', null, a.code_version)],
      ['Partitions', a.partitions ? `${a.partitions.description} (${label(a.partitions.kind)}, ${plural(a.partitions.total, 'partition')})` : 'unpartitioned'],
      ['Graph depth', String(a.depth)], ['Backfill policy', a.backfill_policy], ['Eager', a.eager ? 'yes' : 'no'], ['Pool', a.pool || '—'],
    ]),
    h('h3', null, 'As JSON'),
    h('pre.code-block', null, JSON.stringify(def, null, 2)));
}

/** A page of partition keys with their states; `after` delays the first fetch (the bar goes first). */
function partitionsTab(ctx, asset, total, after = Promise.resolve()) {
  let filter = 'all';
  let from = null;
  let history = [];
  let lastPage = null;
  const filters = ['all', ...STATES];
  const buttons = filters.map((f) => h('button.btn.small.toggle', { type: 'button', 'data-state-filter': f, 'aria-pressed': f === filter ? 'true' : 'false', onclick: () => setFilter(f) }, f));
  const listBox = h('div#partition-list');
  const info = h('span.muted#partition-page-info');
  const first = h('button.btn.small', { type: 'button', disabled: true, onclick: () => { history = []; from = null; load(); } }, '« First');
  const prev = h('button.btn.small', { type: 'button', disabled: true, onclick: () => { from = history.pop() ?? null; load(); } }, '‹ Previous');
  const next = h('button.btn.small#partitions-next', { type: 'button', disabled: true, onclick: () => { history.push(from); from = lastPage.next; load(); } }, 'Next ›');
  const last = h('button.btn.small', { type: 'button', disabled: true, onclick: () => toLast() }, 'Last »');
  const jump = h('input.input#partition-jump', { type: 'text', placeholder: 'Go to key…', 'aria-label': 'Go to partition key' });
  const el = h('div', null,
    h('div.toolbar', null, h('div.toggle-group', { role: 'group', 'aria-label': 'Filter by state' }, buttons),
      h('form.inline', { onsubmit: (e) => { e.preventDefault(); if (jump.value.trim()) { history.push(from); from = jump.value.trim(); load(); } } }, jump, h('button.btn.small', { type: 'submit' }, 'Go'))),
    listBox,
    h('div.pager', null, first, prev, next, last, info));

  function setFilter(f) {
    filter = f;
    from = null;
    history = [];
    buttons.forEach((b) => b.setAttribute('aria-pressed', b.dataset.stateFilter === f ? 'true' : 'false'));
    load();
  }

  async function toLast() {
    try {
      const v = await ctx.api(`/assets/${enc(asset)}/partitions${qs({ start: Math.max(0, total - 100), end: Math.max(0, total - 100) })}`);
      history.push(from);
      from = v.ranges[0]?.from_key ?? null;
      load();
    } catch (e) {
      report(e);
    }
  }

  async function load() {
    fill(listBox, h('p.loading', null, 'Loading…'));
    try {
      const state = filter === 'all' ? null : filter;
      const page = await ctx.api(`/assets/${enc(asset)}/keys${qs({ from, limit: 100, state })}`);
      lastPage = page;
      let states = null;
      if (!state && page.keys.length) {
        const v = await ctx.api(`/assets/${enc(asset)}/partitions${qs({ start: page.offset, end: page.offset + page.keys.length - 1, max_ranges: 1000 })}`);
        states = (i) => (v.ranges.find((r) => i >= r.from && i <= r.to) || { state: 'missing' }).state;
      }
      fill(listBox, page.keys.length
        ? h('ul.key-list', null, page.keys.map((k, i) => {
          const s = state || (states ? states(page.offset + i) : 'missing');
          return h('li', { 'data-partition-key': k, 'data-state': s }, h('a.mono', { href: partitionHref(asset, k) }, k), stateBadge(s));
        }))
        : empty(state ? `No ${state} partitions${from ? ` from ${from} on` : ''}.` : 'No partitions.'));
      info.textContent = state
        ? `${plural(page.keys.length, 'partition')} shown${from ? ` from ${from}` : ''}`
        : page.keys.length ? `${fmtNum(page.offset + 1)}–${fmtNum(page.offset + page.keys.length)} of ${fmtNum(page.total)}` : '';
      first.disabled = prev.disabled = history.length === 0;
      next.disabled = !page.next;
      last.hidden = !!state;
      last.disabled = !page.next;
    } catch (e) {
      fill(listBox, empty(e.message));
      report(e);
    }
  }
  after.then(load);
  return el;
}

// -- One partition.

function staleReason(r) {
  const part = (asset, key) => h('a', { href: partitionHref(asset, key) }, `${asset} [${key}]`);
  switch (r.reason) {
    case 'code_version': return ['The code version changed from ', code(r.from), ' to ', code(r.to), '.'];
    case 'upstream_changed': return ['Upstream ', part(r.asset, r.key), ' changed: its data version is now ', code(r.to), r.from ? [', it was ', code(r.from)] : ' (it was missing when this was materialized)', '.'];
    case 'upstream_missing': return ['Upstream ', part(r.asset, r.key), ' is missing now.'];
    case 'upstream_newer': return ['Upstream ', part(r.asset, r.key), ' was materialized after this partition.'];
    case 'inputs_changed': return [`Its inputs changed (it read ${plural(r.read, 'upstream partition')}, too many to list).`];
    case 'more': return [`… and ${plural(r.count, 'more reason')}.`];
    default: return [JSON.stringify(r)];
  }
}

function metadataValue(v, type) {
  if (v == null) return h('span.muted', null, '—');
  if (type === 'url' && typeof v === 'string' && /^https?:\/\//i.test(v)) return h('a', { href: v, rel: 'noopener noreferrer', target: '_blank' }, v);
  if (typeof v === 'number') return Number.isInteger(v) ? fmtNum(v) : String(v);
  if (typeof v === 'object') return h('pre.inline-pre', null, JSON.stringify(v, null, 2));
  return String(v);
}

function metadataTable(md) {
  let entries = [];
  if (Array.isArray(md)) entries = md.map((e) => (Array.isArray(e) ? e : [e?.name ?? e?.key ?? '', e]));
  else if (md && typeof md === 'object') entries = Object.entries(md);
  if (!entries.length) return empty('No metadata.');
  return table(['Name', 'Value', 'Type'], entries.map(([k, v]) => {
    const typed = v && typeof v === 'object' && !Array.isArray(v) && 'type' in v && 'value' in v;
    return h('tr', { 'data-metadata': k }, h('th', { scope: 'row' }, k), h('td', null, metadataValue(typed ? v.value : v, typed ? v.type : null)),
      h('td.muted', null, typed ? v.type : typeof v));
  }), { id: 'metadata-table' });
}

function eventsTable(events, emptyText = 'No events.') {
  if (!events.length) return empty(emptyText);
  return table(['#', 'Time', 'Level', 'Message'], events.map((e) => h('tr', { class: `level-${e.level}`, 'data-seq': e.seq },
    h('td.num', null, e.seq), h('td.nowrap', null, fmtTime(e.at)), h('td', null, h('span', { class: `level level-${e.level}` }, e.level)),
    h('td', null, h('pre.log', null, e.message)))), { class: 'events' });
}

function partitionSections(d, runs, logs) {
  const m = d.latest;
  const p = d.preview;
  return [
    d.failure ? h('div.error-box#partition-failure', { role: 'note' }, h('h3', null, 'Latest attempt failed'),
      d.failure.run_id ? h('p', null, 'Run ', runLink(d.failure.run_id)) : null, h('pre.log', null, d.failure.error || 'unknown error')) : null,
    d.stale_reasons.length ? card('Why it is stale', h('ul.reasons#stale-reasons', null, d.stale_reasons.map((r) => h('li', { 'data-reason': r.reason }, staleReason(r))))) : null,
    (d.checks || []).length ? card('Checks', table(['Check', 'Outcome', 'Description'], d.checks.map((c) => h('tr', { 'data-check': c.check },
      h('th', { scope: 'row' }, c.check, c.blocking ? h('span.tag.warn', null, 'blocking') : null),
      h('td', null, h('span', { class: `tag ${c.outcome === 'pass' ? 'ok' : 'warn'}`, 'data-outcome': c.outcome }, c.outcome)),
      h('td', null, c.description || ''))), { id: 'checks' })) : null,
    (d.rollups || []).length ? card(d.partial ? 'Roll-up (partial: ran without some upstream partitions)' : 'Roll-up',
      table(['Input', 'Materialized', 'Policy', 'Runs with what exists'], d.rollups.map((r) => h('tr', { 'data-rollup': r.input },
        h('th', { scope: 'row' }, r.input),
        h('td.num', null, `${r.materialized} of ${r.upstream}`, ' ', h('span', { class: `tag ${r.materialized < r.upstream ? 'warn' : 'ok'}` }, r.materialized < r.upstream ? 'partial' : 'complete')),
        h('td.mono', null, r.policy),
        h('td', null, r.deadline ? timeEl(Date.parse(r.deadline), true) : r.policy === 'run_partial' ? 'now' : 'never')),
      ), { id: 'rollups' })) : null,
    d.upstream_missing.length ? card('Upstream partitions never materialized', h('ul#upstream-missing', null, d.upstream_missing.map((u) => h('li.mono', null, u)))) : null,
    h('div.grid-2', null,
      card('Latest materialization', m ? props([
        ['Run', runLink(m.run_id)], ['Code version', code(m.code_version, 16)],
        ['Current code version', d.code_version !== m.code_version ? [code(d.code_version, 16), h('span.tag.warn', null, 'changed')] : h('span.muted', null, 'same')],
        ['Data version', code(m.data_version, 16)], ['Started', timeEl(m.started_at)], ['Ended', timeEl(m.ended_at)],
        ['Duration', fmtDuration(m.duration_ms)],
      ]) : empty('Never materialized.')),
      card('Metadata', m ? metadataTable(m.metadata) : empty('No metadata.'))),
    card('Value', p ? [
      h('p.muted', null, `${label(p.kind)} · ${fmtBytes(p.bytes)} · sha256 `, code(p.sha256, 16), p.truncated ? ' · showing the start only' : ''),
      p.text != null ? h('pre.code-block#value-preview', null, p.text) : empty('Binary value: no preview.'),
    ] : empty('No stored value.')),
    card(`History (${fmtNum(d.history_total)})`, d.history.length ? table(['#', 'Run', 'Code version', 'Data version', 'Ended', 'Duration'],
      d.history.map((x) => h('tr', null, h('td.num', null, x.id), h('td', null, runLink(x.run_id)), h('td', null, code(x.code_version)),
        h('td', null, code(x.data_version)), h('td', null, timeEl(x.ended_at)), h('td.num', null, fmtDuration(x.duration_ms))))) : empty('No materializations yet.'),
    d.history_total > d.history.length ? h('p.muted', null, `Showing the newest ${fmtNum(d.history.length)}.`) : null),
    runs ? card('Runs', runs.length ? table(RUN_HEADERS, runs.map(runRow)) : empty('No runs touched this partition yet.')) : null,
    logs ? card('Logs of the latest run', eventsTable(logs, 'No logs.')) : null,
  ];
}

async function pagePartition(main, { asset, key }, ctx) {
  setTitle(key, asset);
  const content = h('div');
  const badge = h('span');
  const result = h('div#materialize-result', { 'aria-live': 'polite' });
  const btn = h('button.btn.primary#materialize-btn', { type: 'button', onclick: () => materialize() }, 'Materialize');
  fill(main,
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/assets' }, 'Assets'), ' / ', assetLink(asset), ' / ', h('span', null, 'partition')),
    h('div.page-head', null, h('div', null, h('h1.mono#partition-title', null, key || '(unpartitioned)'), badge), h('div.actions', null, btn)),
    result, content);

  async function load() {
    const page = await ctx.api(`/assets/${enc(asset)}/partitions/${enc(key)}`);
    fill(badge, stateBadge(page.detail.state, { id: 'partition-state' }));
    fill(content, ...partitionSections(page.detail, page.runs, page.logs));
  }
  await load();

  const queued = new Map(); // run id → status, for the runs this page queued
  async function materialize() {
    btn.disabled = true;
    try {
      const s = await ctx.api(`/assets/${enc(asset)}/materialize`, { method: 'POST', body: { keys: [key] } });
      for (const r of s.runs) queued.set(r, 'queued');
      showQueued();
      track();
    } catch (e) {
      report(e);
    } finally {
      btn.disabled = false;
    }
  }
  function showQueued() {
    fill(result, h('div.notice', null, queued.size ? 'Run ' : 'Nothing to run.',
      [...queued].map(([id, st], i) => [i ? ', ' : '', runLink(id), ' ', statusBadge(st, { 'data-run': id })])));
  }
  /** Refreshes the statuses of the runs queued here (a run may finish before the POST answers). */
  const track = throttle(async () => {
    const open = [...queued].filter(([, st]) => !FINAL_RUN.has(st)).map(([id]) => id);
    if (!open.length) return;
    try {
      for (const id of open) queued.set(id, (await ctx.api(`/runs/${enc(id)}`)).run.status);
      showQueued();
      if ([...queued.values()].some((st) => FINAL_RUN.has(st))) await load();
    } catch (e) {
      report(e);
    }
  }, 150);
  const refresh = throttle(() => load().catch(report), 300);
  ctx.on('run_started', (e) => { if (queued.has(e.run)) track(); });
  ctx.on('run_finished', (e) => { if (queued.has(e.run)) track(); });
  ctx.every(2000, track);
  ctx.on('lagged', refresh);
  ctx.on('state_changed', refresh);
  ctx.cleanup(refresh.cancel);
  ctx.cleanup(track.cancel);
}

// -- Runs.

async function pageRuns(main, { query }, ctx) {
  setTitle('Runs');
  const filter = { status: query.get('status') || null, asset: query.get('asset') || null, backfill: query.get('backfill') || null };
  const setQuery = (k, v) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v); else q.delete(k);
    go(`#/runs${q.toString() ? `?${q}` : ''}`);
  };
  const status = h('select.input#runs-status', { 'aria-label': 'Status', onchange: (e) => setQuery('status', e.target.value) },
    h('option', { value: '' }, 'Any status'),
    ['queued', 'running', 'success', 'failed', 'canceled', 'waiting_for_upstream'].map((s) => h('option', { value: s, selected: s === filter.status }, label(s))));
  const asset = h('select.input#runs-asset', { 'aria-label': 'Asset', onchange: (e) => setQuery('asset', e.target.value) },
    h('option', { value: '' }, 'Any asset'), filter.asset ? h('option', { value: filter.asset, selected: true }, filter.asset) : null);
  fill(main,
    h('div.page-head', null, h('h1', null, 'Runs'), h('div.actions', null, status, asset,
      filter.backfill ? h('span.tag', null, 'backfill ', filter.backfill, ' ', h('a', { href: '#/runs' }, '×')) : null)),
    runsList(ctx, filter, { emptyText: filter.status || filter.asset || filter.backfill ? 'No runs match these filters.' : 'No runs yet.' }));
  ctx.api('/assets').then((list) => {
    for (const a of list.assets.map((x) => x.key).sort()) {
      if (a !== filter.asset) asset.append(h('option', { value: a }, a));
    }
  }).catch(report);
}

async function pageRun(main, { run }, ctx) {
  setTitle(run, 'Runs');
  const head = h('div');
  const body = h('div');
  fill(main, h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/runs' }, 'Runs'), ' / ', h('span.mono', null, run)), head, body);
  let status = null;
  async function load() {
    const d = await ctx.api(`/runs/${enc(run)}`);
    const r = d.run;
    status = r.status;
    fill(head, h('div.page-head', null, h('div', null, h('h1.mono', null, r.id), statusBadge(r.status, { id: 'run-status' }))));
    fill(body,
      r.error ? h('div.error-box#run-error', { role: 'note' }, h('h3', null, 'Error'), h('pre.log', null, r.error)) : null,
      card('Details', props([
        ['Assets', r.assets.map((a, i) => [i ? ', ' : '', assetLink(a)])],
        ['Selection', r.selection.kind === 'keys' && r.selection.keys.length <= 20 && r.assets.length === 1
          ? r.selection.keys.map((k, i) => [i ? ', ' : '', h('a.mono', { href: partitionHref(r.assets[0], k) }, k)])
          : selectionText(r.selection)],
        ['Partitions', fmtNum(r.partitions)], ['Plugin', r.plugin], ['Computation', r.computation], ['Trigger', r.trigger],
        ['Backfill', r.backfill_id ? backfillLink(r.backfill_id) : '—'], ['Run key', r.run_key || '—'],
        ['Tags', r.tags.length ? r.tags.map(([k, v]) => h('span.tag', null, `${k}=${v}`)) : '—'],
        ['Attempts', `${r.attempts} of ${r.max_attempts}`], ['Created', timeEl(r.created_at)], ['Started', timeEl(r.started_at)],
        ['Ended', timeEl(r.ended_at)], ['Duration', fmtDuration(runDuration(r))],
      ])),
      card('Events and logs', eventsTable(d.events, FINAL_RUN.has(r.status) ? 'No events.' : 'No events yet.')));
  }
  await load();
  const refresh = throttle(() => load().catch(report), 200);
  ctx.on('run_started', (e) => { if (e.run === run) refresh(); });
  ctx.on('run_finished', (e) => { if (e.run === run) refresh(); });
  ctx.on('lagged', refresh);
  ctx.every(1500, () => { if (!FINAL_RUN.has(status)) refresh(); });
  ctx.cleanup(refresh.cancel);
}

// -- Backfills.

function progressEl(view) {
  const p = view.progress;
  const total = p.partitions_total;
  const pct = (n) => (total ? (100 * n) / total : 0);
  const done = h('div.progress-done');
  const failed = h('div.progress-failed');
  done.style.width = `${pct(p.partitions_done)}%`;
  failed.style.width = `${pct(p.partitions_failed)}%`;
  const runs = [['queued', p.runs_queued], ['running', p.runs_running], ['success', p.runs_succeeded], ['failed', p.runs_failed],
    ['canceled', p.runs_canceled], ['waiting_for_upstream', p.runs_waiting_for_upstream]].filter(([, n]) => n > 0);
  return h('div.progress#backfill-progress', {
    'data-done': p.partitions_done, 'data-failed': p.partitions_failed, 'data-total': total, 'data-status': view.backfill.status,
    'data-runs-total': p.runs_total,
  },
  h('div.progress-bar', { role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': p.partitions_done, 'aria-label': 'Partitions done' }, done, failed),
  h('p.progress-text', null, h('strong', null, `${fmtNum(p.partitions_done)} of ${plural(total, 'partition')} done`),
    p.partitions_failed ? h('span.c-failed', null, ` · ${fmtNum(p.partitions_failed)} failed`) : null,
    total ? h('span.muted', null, ` · ${Math.floor(pct(p.partitions_done))}%`) : null),
  h('div.run-counts', null, h('span.muted', null, `${plural(p.runs_total, 'run')}: `),
    runs.length ? runs.map(([s, n]) => h('span.run-count', { 'data-run-status': s }, statusBadge(s), ' ', fmtNum(n))) : h('span.muted', null, 'none')));
}

function miniProgress(p) {
  const el = h('div.mini-progress', { title: `${fmtNum(p.partitions_done)} of ${fmtNum(p.partitions_total)} partitions done` });
  const d = h('div.progress-done');
  const f = h('div.progress-failed');
  d.style.width = `${p.partitions_total ? (100 * p.partitions_done) / p.partitions_total : 0}%`;
  f.style.width = `${p.partitions_total ? (100 * p.partitions_failed) / p.partitions_total : 0}%`;
  el.append(d, f);
  return el;
}

async function pageBackfills(main, _p, ctx) {
  setTitle('Backfills');
  const box = h('div');
  fill(main, h('div.page-head', null, h('h1', null, 'Backfills'),
    h('div.actions', null, h('a.btn.primary#new-backfill', { href: '#/backfills/new' }, 'New backfill…'))), box);
  async function load() {
    const list = await ctx.api('/backfills');
    fill(box, list.length ? table(['Status', 'Backfill', 'Assets', 'Selection', 'Progress', 'Runs', 'Created', 'Duration'], list.map((v) => {
      const b = v.backfill;
      const p = v.progress;
      return h('tr', { 'data-backfill-id': b.id, 'data-status': b.status },
        h('td', null, statusBadge(b.status)), h('td', null, backfillLink(b.id)),
        h('td.assets-cell', null, b.assets.slice(0, 4).map((a, i) => [i ? ', ' : '', assetLink(a)]), b.assets.length > 4 ? ` +${b.assets.length - 4}` : ''),
        h('td', null, b.description), h('td', null, miniProgress(p), h('div.small.muted', null, `${fmtNum(p.partitions_done)} / ${fmtNum(p.partitions_total)}`)),
        h('td.num', null, fmtNum(p.runs_total)), h('td', null, timeEl(b.created_at)),
        h('td.num', null, fmtDuration((b.ended_at ?? Date.now()) - b.created_at)));
    }), { id: 'backfills-table' }) : empty('No backfills yet.'));
  }
  await load();
  const refresh = throttle(() => load().catch(report), 500);
  for (const n of ['backfill_launched', 'backfill_progress', 'state_changed', 'lagged']) ctx.on(n, refresh);
  ctx.cleanup(refresh.cancel);
}

async function pageBackfill(main, { backfill }, ctx) {
  setTitle(backfill, 'Backfills');
  const head = h('div');
  const prog = h('div');
  const cancel = h('button.btn.danger#backfill-cancel', { type: 'button', onclick: () => act('cancel') }, 'Cancel');
  const resume = h('button.btn#backfill-resume', { type: 'button', onclick: () => act('resume') }, 'Resume');
  fill(main,
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/backfills' }, 'Backfills'), ' / ', h('span.mono', null, backfill)),
    head, card('Progress', prog),
    card('Runs', runsList(ctx, { backfill }, { emptyText: 'This backfill has no runs.' })));
  let status = null;
  function show(v) {
    const b = v.backfill;
    status = b.status;
    fill(head, h('div.page-head', null,
      h('div', null, h('h1.mono', null, b.id), statusBadge(b.status, { id: 'backfill-status' }), h('p.lead', null, b.description)),
      h('div.actions', null, cancel, resume)),
    card(null, props([['Assets', b.assets.map((a, i) => [i ? ', ' : '', assetLink(a)])], ['Partitions', fmtNum(b.partitions)],
      ['Created', timeEl(b.created_at)], ['Ended', timeEl(b.ended_at)],
      ['Duration', fmtDuration((b.ended_at ?? Date.now()) - b.created_at)]])));
    fill(prog, progressEl(v));
    cancel.disabled = b.status !== 'running';
    resume.disabled = !(b.status === 'failed' || b.status === 'canceled');
  }
  const load = async () => show(await ctx.api(`/backfills/${enc(backfill)}`));
  async function act(what) {
    cancel.disabled = resume.disabled = true;
    try {
      await ctx.api(`/backfills/${enc(backfill)}/${what}`, { method: 'POST' });
      await load();
    } catch (e) {
      report(e);
      await load().catch(report);
    }
  }
  await load();
  ctx.on('backfill_progress', (v) => { if (v.backfill?.id === backfill) show(v); });
  ctx.on('lagged', () => load().catch(report));
  ctx.every(2000, () => { if (status === 'running') load().catch(report); });
}

// -- The backfill launcher.

/** The key format of a time-window asset, from one of its keys: a date or a minute. */
function keyFormat(key) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(key)) return 'date';
  if (/^\d{4}-\d{2}-\d{2}-\d{2}:\d{2}$/.test(key)) return 'minute';
  return null;
}
const pickerToKey = (fmt, v) => (fmt === 'minute' ? v.slice(0, 16).replace('T', '-') : v);
function keyToPicker(fmt, k) {
  if (keyFormat(k) !== fmt || Number.isNaN(Date.parse(`${k.slice(0, 10)}T00:00:00Z`))) return '';
  return fmt === 'minute' ? `${k.slice(0, 10)}T${k.slice(11, 16)}` : k;
}

async function pageLauncher(main, { query }, ctx) {
  setTitle('New backfill');
  const list = await ctx.api('/assets');
  const assets = [...list.assets].sort((a, b) => a.depth - b.depth || a.key.localeCompare(b.key));
  const wanted = new Set(query.getAll('asset'));
  const byKey = new Map(assets.map((a) => [a.key, a]));
  const edges = new Map();

  const boxes = assets.map((a) => h('label.check', { 'data-asset-option': a.key },
    h('input', { type: 'checkbox', name: 'asset', value: a.key, 'data-backfill-asset': a.key, checked: wanted.has(a.key) }),
    h('span', null, h('strong', null, a.key), h('span.muted.small', null, a.partitions ? ` ${a.partitions.description} · ${plural(a.partitions.total, 'partition')}` : ' unpartitioned'))));
  const radio = (name, value, text, checked) => h('label.radio', null, h('input', { type: 'radio', name, value, id: `${name}-${value}`, 'data-filter': name === 'bf-filter' ? value : null, checked }), ` ${text}`);
  const startText = h('input.input.mono#bf-start', { type: 'text', name: 'start', 'aria-label': 'First partition key', autocomplete: 'off', spellcheck: 'false' });
  const endText = h('input.input.mono#bf-end', { type: 'text', name: 'end', 'aria-label': 'Last partition key', autocomplete: 'off', spellcheck: 'false' });
  const startPick = h('input.input#bf-start-picker', { type: 'date', 'aria-label': 'First partition (picker)', hidden: true });
  const endPick = h('input.input#bf-end-picker', { type: 'date', 'aria-label': 'Last partition (picker)', hidden: true });
  const keysText = h('textarea.input.mono#bf-keys', { rows: 4, 'aria-label': 'Partition keys, one per line', placeholder: 'One key per line' });
  const rangeHint = h('p.muted.small#bf-range-hint');
  const maxPerRun = h('input.input#bf-max-per-run', { type: 'number', min: 1, step: 1, placeholder: 'policy default', 'aria-label': 'Partitions per run at most' });
  const singleRun = h('input#bf-single-run', { type: 'checkbox' });
  const preview = h('div.preview#bf-preview', { 'data-state': 'idle', 'aria-live': 'polite' });
  const launch = h('button.btn.primary#bf-launch', { type: 'submit', disabled: true }, 'Launch backfill');
  const rangeBox = h('div.range-fields#bf-range-fields', null,
    h('label.field', null, h('span', null, 'From'), startText, startPick),
    h('label.field', null, h('span', null, 'To (included)'), endText, endPick));
  const keysBox = h('div#bf-keys-fields', { hidden: true }, keysText);
  const selectionBox = h('fieldset.fieldset#bf-selection', null, h('legend', null, 'Partitions'),
    h('div.radios', null, radio('bf-mode', 'range', 'A range of keys', true), radio('bf-mode', 'all', 'Every partition', false), radio('bf-mode', 'keys', 'These keys', false)),
    rangeBox, keysBox, rangeHint);

  const form = h('form.launcher#backfill-form', { onsubmit: (e) => { e.preventDefault(); doLaunch(); } },
    h('div.launcher-main', null,
      h('fieldset.fieldset#bf-assets', null, h('legend', null, 'Assets'),
        h('div.check-actions', null, h('button.btn.small', { type: 'button', onclick: () => { boxes.forEach((b) => { $('input', b).checked = false; }); changed(); } }, 'Clear')),
        h('div.check-list', null, boxes)),
      selectionBox,
      h('fieldset.fieldset#bf-filter', null, h('legend', null, 'Only partitions that are'),
        h('div.radios', null, radio('bf-filter', 'any', 'any state', true), radio('bf-filter', 'missing', 'missing', false),
          radio('bf-filter', 'failed', 'failed', false), radio('bf-filter', 'stale', 'stale', false))),
      h('fieldset.fieldset', null, h('legend', null, 'Runs'),
        h('label.field', null, h('span', null, 'At most this many partitions per run'), maxPerRun),
        h('label.check', null, singleRun, h('span', null, ' One run per contiguous range (when the asset allows it)')))),
    h('aside.launcher-side', null, h('h2', null, 'Preview'), preview, launch));

  fill(main,
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/backfills' }, 'Backfills'), ' / ', h('span', null, 'new')),
    h('h1', null, 'Launch a backfill'), form);

  const checked = () => boxes.map((b) => $('input', b)).filter((i) => i.checked).map((i) => i.value);
  const mode = () => form.querySelector('input[name="bf-mode"]:checked').value;
  let fmt = null;
  let autoFilled = true;

  async function edgeKeysOf(a) {
    if (!edges.has(a.key)) {
      const total = a.partitions.total;
      const first = ctx.api(`/assets/${enc(a.key)}/keys${qs({ limit: 1 })}`).then((p) => p.keys[0] ?? '');
      const last = ctx.api(`/assets/${enc(a.key)}/partitions${qs({ start: total - 1, end: total - 1 })}`).then((v) => v.ranges[0]?.from_key ?? '');
      edges.set(a.key, total ? Promise.all([first, last]) : Promise.resolve(['', '']));
    }
    return edges.get(a.key);
  }

  /** Adapts the range inputs to the first selected partitioned asset (key hints, pickers). */
  async function updateRange() {
    const sel = checked().map((k) => byKey.get(k));
    const ref = sel.find((a) => a.partitions);
    selectionBox.hidden = sel.length > 0 && !ref;
    if (!ref) return;
    const [first, last] = await edgeKeysOf(ref);
    if (!ctx.alive) return;
    fmt = ref.partitions.kind === 'time_window' ? keyFormat(first) : null;
    fill(rangeHint, `${ref.key}: keys from `, h('code', null, first || '—'), ' to ', h('code', null, last || '—'),
      ` (${plural(ref.partitions.total, 'partition')}; ${ref.partitions.description}).`);
    startText.placeholder = first;
    endText.placeholder = last;
    for (const p of [startPick, endPick]) {
      p.hidden = !fmt;
      if (!fmt) continue;
      p.type = fmt === 'minute' ? 'datetime-local' : 'date';
      p.min = keyToPicker(fmt, first);
      p.max = keyToPicker(fmt, last);
    }
    if (autoFilled) {
      startText.value = first;
      endText.value = last;
    }
    syncPickers();
  }

  function syncPickers() {
    if (!fmt) return;
    startPick.value = keyToPicker(fmt, startText.value.trim());
    endPick.value = keyToPicker(fmt, endText.value.trim());
  }

  function request() {
    const assetsSel = checked();
    if (!assetsSel.length) return { error: 'Choose at least one asset.' };
    const body = { assets: assetsSel, filter: form.querySelector('input[name="bf-filter"]:checked').value };
    const partitioned = assetsSel.some((k) => byKey.get(k).partitions);
    if (partitioned && mode() === 'range') {
      const start = startText.value.trim();
      const end = endText.value.trim();
      if (!start || !end) return { error: 'Enter the first and the last partition key.' };
      body.range = { start, end };
    } else if (partitioned && mode() === 'keys') {
      const keys = keysText.value.split('\n').map((s) => s.trim()).filter(Boolean);
      if (!keys.length) return { error: 'Enter at least one partition key.' };
      body.keys = keys;
    }
    if (maxPerRun.value.trim()) {
      const n = Number(maxPerRun.value);
      if (!Number.isInteger(n) || n < 1) return { error: 'Partitions per run must be a whole number, 1 or more.' };
      body.max_per_run = n;
    }
    if (singleRun.checked) body.single_run = true;
    return { body };
  }

  let seq = 0;
  let ready = null;
  function setPreview(state, ...children) {
    preview.dataset.state = state;
    fill(preview, ...children);
  }
  async function runPreview() {
    const my = ++seq;
    ready = null;
    launch.disabled = true;
    const { body, error } = request();
    delete preview.dataset.partitions;
    delete preview.dataset.runs;
    if (error) return setPreview('invalid', h('p.muted', null, error));
    preview.dataset.state = 'loading';
    try {
      const p = await ctx.api('/backfills/preview', { method: 'POST', body });
      if (my !== seq) return;
      preview.dataset.partitions = p.partitions;
      preview.dataset.runs = p.runs;
      setPreview('ready',
        h('p.preview-total#bf-preview-total', { 'data-partitions': p.partitions, 'data-runs': p.runs },
          h('strong', null, plural(p.partitions, 'partition')), ' in ', h('strong', null, plural(p.runs, 'run'))),
        table(['Asset', 'Partitions', 'Runs'], p.assets.map((x) => h('tr', { 'data-preview-asset': x.asset, 'data-partitions': x.partitions, 'data-runs': x.runs },
          h('td', null, x.asset), h('td.num', null, fmtNum(x.partitions)), h('td.num', null, fmtNum(x.runs))))),
        p.partitions === 0 ? h('p.muted', null, 'Nothing to do: no partition matches.') : null);
      ready = body;
      launch.disabled = p.partitions === 0;
      launch.textContent = p.partitions ? `Launch ${plural(p.runs, 'run')}` : 'Launch backfill';
    } catch (e) {
      if (my !== seq || e.name === 'AbortError') return;
      setPreview('error', h('p.error-text', null, e.message));
    }
  }
  const schedule = debounce(runPreview, 300);
  /** Inputs changed: the preview shown is out of date until the next one arrives. */
  const invalidate = () => {
    seq++;
    ready = null;
    launch.disabled = true;
    launch.textContent = 'Launch backfill';
    preview.dataset.state = 'loading';
    delete preview.dataset.partitions;
    delete preview.dataset.runs;
    if (!preview.firstChild) fill(preview, h('p.loading', null, 'Planning…'));
    schedule();
  };
  ctx.cleanup(schedule.cancel);

  async function doLaunch() {
    if (!ready) return;
    launch.disabled = true;
    try {
      const s = await ctx.api('/backfills', { method: 'POST', body: ready });
      go(s.backfill_id ? `#/backfills/${enc(s.backfill_id)}` : '#/runs');
    } catch (e) {
      report(e);
      launch.disabled = false;
    }
  }

  function changed() {
    invalidate();
    schedule.cancel();
    updateRange().then(schedule, report);
  }
  for (const b of boxes) $('input', b).addEventListener('change', changed);
  for (const r of form.querySelectorAll('input[name="bf-mode"]')) r.addEventListener('change', () => {
    rangeBox.hidden = mode() !== 'range';
    keysBox.hidden = mode() !== 'keys';
    invalidate();
  });
  for (const r of form.querySelectorAll('input[name="bf-filter"]')) r.addEventListener('change', invalidate);
  for (const t of [startText, endText]) t.addEventListener('input', () => { autoFilled = false; syncPickers(); invalidate(); });
  for (const [p, t] of [[startPick, startText], [endPick, endText]]) {
    p.addEventListener('input', () => {
      if (!p.value) return;
      t.value = pickerToKey(fmt, p.value);
      autoFilled = false;
      invalidate();
    });
  }
  for (const i of [keysText, maxPerRun]) i.addEventListener('input', invalidate);
  singleRun.addEventListener('change', invalidate);
  fill(preview, h('p.loading', null, 'Planning…'));
  await updateRange();
  runPreview();
}

// -- Plugins.

async function pagePlugins(main, _p, ctx) {
  setTitle('Plugins');
  const box = h('div');
  fill(main, h('div.page-head', null, h('h1', null, 'Plugins')), box);
  async function load() {
    const d = await ctx.api('/plugins');
    const errors = Object.entries(d.errors || {});
    const excluded = Object.entries(d.excluded || {});
    fill(box,
      h('div#plugin-errors', null, errors.map(([name, e]) => h('div.error-box', { 'data-plugin-error': name, role: 'alert' },
        h('h3', null, `${name} failed to load`),
        h('p.small', null, h('code', null, e.path), e.version ? [' · version ', code(e.version)] : '', ' · ', timeEl(e.at * 1000)),
        h('pre.log', null, e.error),
        h('p.small.muted', null, d.plugins.some((p) => p.name === name) ? 'The previous version keeps serving.' : 'No version of this plugin is serving.')))),
      excluded.length ? h('div.warning-box#plugins-excluded', null, h('h3', null, 'Left out of the asset graph'),
        h('ul', null, excluded.map(([n, why]) => h('li', { 'data-excluded-plugin': n }, h('strong', null, n), ': ', why)))) : null,
      card(`Loaded (${d.plugins.length})`, d.plugins.length ? table(['Plugin', 'Version', 'API', 'Size', 'Compile', 'Load', 'Cache', 'Assets', 'Sensors'],
        d.plugins.map((p) => h('tr', { 'data-plugin': p.name },
          h('td', null, h('strong', null, p.name), h('div.muted.small.mono', { title: p.path }, p.path.split('/').pop())), h('td', null, code(p.version)), h('td', null, p.api_version),
          h('td.num', null, fmtBytes(p.size_bytes)), h('td.num', null, `${p.compile_ms.toFixed(1)} ms`), h('td.num', null, `${p.load_ms.toFixed(1)} ms`),
          h('td', null, p.from_cache ? h('span.tag', null, 'cached') : h('span.tag.warn', null, 'compiled')),
          h('td', null, p.assets.map((a, i) => [i ? ', ' : '', assetLink(a)])), h('td.wrap-any', null, p.sensors.join(', ') || '—'))),
      { id: 'plugins-table' }) : empty('No plugins loaded.')),
      card('Reload history', d.reloads.length ? table(['When', 'Plugin', 'Outcome', 'Version', 'Previous', 'Cache', 'Compile', 'Detected → serving', 'Error'],
        d.reloads.map((r) => h('tr', { 'data-reload': r.plugin, 'data-outcome': r.outcome },
          h('td', null, timeEl(r.at)), h('td', null, r.plugin), h('td', null, h('span', { class: `badge outcome-${r.outcome}` }, r.outcome)),
          h('td', null, r.version ? code(r.version) : '—'), h('td', null, r.previous_version ? code(r.previous_version) : '—'),
          h('td', null, r.from_cache == null ? '—' : r.from_cache ? 'yes' : 'no'),
          h('td.num', null, r.compile_ms == null ? '—' : `${r.compile_ms.toFixed(1)} ms`),
          h('td.num', null, r.detected_to_serving_ms == null ? '—' : `${r.detected_to_serving_ms.toFixed(1)} ms`),
          h('td.error-cell', { title: r.error || '' }, r.error || ''))), { id: 'reload-history' })
        : empty('No reloads since this server started. Replace a plugin file to see one here.')));
  }
  await load();
  const refresh = throttle(() => load().catch(report), 200);
  for (const n of ['registry', 'plugin_loaded', 'plugin_excluded', 'lagged']) ctx.on(n, refresh);
  // A fixed file that matches the version serving clears its error without an event: poll.
  ctx.every(5000, () => { if (box.querySelector('[data-plugin-error]')) refresh(); });
  ctx.cleanup(refresh.cancel);
}

// -- Sensors, schedules and dynamic partitions.

async function pageAutomation(main, _p, ctx) {
  setTitle('Sensors & schedules');
  const sensorsBox = h('div');
  const schedulesBox = h('div');
  const dynamicBox = h('div');
  const outcomes = new Map();
  fill(main, h('div.page-head', null, h('h1', null, 'Sensors & schedules')),
    card('Sensors', sensorsBox), card('Schedules', schedulesBox), card('Dynamic partitions', dynamicBox));

  async function tick(name, btn) {
    btn.disabled = true;
    try {
      const o = await ctx.api(`/sensors/${enc(name)}/tick`, { method: 'POST' });
      outcomes.set(name, o);
      await load();
    } catch (e) {
      report(e);
      btn.disabled = false;
    }
  }
  async function setEnabled(name, on, btn) {
    btn.disabled = true;
    try {
      await ctx.api(`/sensors/${enc(name)}/${on ? 'enable' : 'disable'}`, { method: 'POST' });
      await load();
    } catch (e) {
      report(e);
      btn.disabled = false;
    }
  }
  function outcomeEl(o) {
    if (!o) return null;
    return h('div.small.tick-outcome', { 'data-tick-outcome': o.sensor },
      o.runs_queued.length ? ['Queued ', o.runs_queued.map((r, i) => [i ? ', ' : '', runLink(r)])] : o.skip_reason ? `Skipped: ${o.skip_reason}` : 'No runs requested.',
      o.run_keys_skipped ? ` · ${plural(o.run_keys_skipped, 'run key')} seen before` : '',
      o.dynamic_partitions.map(([set, add, del]) => ` · ${set}: +${add} −${del}`));
  }

  async function load() {
    const [sensors, schedules, dynamic] = await Promise.all([ctx.api('/sensors'), ctx.api('/schedules'), ctx.api('/dynamic')]);
    fill(sensorsBox, sensors.length ? table(['Sensor', 'Targets', 'Every', 'Last evaluation', 'Evaluations', 'Cursor', 'Last skip reason', '', ''],
      sensors.map((s) => {
        const btn = h('button.btn.small', { type: 'button', 'data-sensor-tick': s.name }, 'Tick now');
        btn.addEventListener('click', () => tick(s.name, btn));
        // Off: the daemon skips it; a tick asked for here still runs.
        const toggle = h('button.btn.small', { type: 'button', 'data-sensor-toggle': s.name, 'aria-pressed': String(!s.state.disabled) },
          s.state.disabled ? 'Turn on' : 'Turn off');
        toggle.addEventListener('click', () => setEnabled(s.name, s.state.disabled, toggle));
        return [h('tr', { 'data-sensor': s.name, 'data-enabled': String(!s.state.disabled) },
          h('td', null, h('strong', null, s.name), s.state.disabled ? h('span.badge', { 'data-sensor-off': s.name }, ' off') : null,
            h('div.muted.small', null, s.description || ''), h('div.muted.small', null, `plugin ${s.plugin}`)),
          h('td', null, s.targets.map((t, i) => [i ? ', ' : '', assetLink(t)])),
          h('td.num', null, `${s.minimum_interval_secs} s`), h('td', null, timeEl(s.state.last_evaluation, true)),
          h('td.num', null, fmtNum(s.state.evaluations)), h('td', null, s.state.cursor ? code(s.state.cursor, 28) : '—'),
          h('td', null, s.state.last_skip_reason || '—'),
          h('td', null, s.state.last_error ? h('span.c-failed', { 'data-sensor-error': s.name }, s.state.last_error) : ''),
          h('td', null, btn, ' ', toggle, outcomeEl(outcomes.get(s.name))))];
      }), { id: 'sensors-table' }) : empty('No sensors: no loaded plugin defines one.'));
    fill(schedulesBox, schedules.length ? table(['Schedule', 'Asset', 'Cron', 'Time zone', 'Last tick', 'Next tick', 'Error'],
      schedules.map((s) => h('tr', { 'data-schedule': s.name },
        h('td', null, h('strong', null, s.name)), h('td', null, assetLink(s.asset)), h('td', null, h('code', null, s.cron)), h('td', null, s.timezone),
        h('td', null, timeEl(s.last_tick == null ? null : s.last_tick * 1000, true)),
        h('td', null, timeEl(s.next_tick == null ? null : s.next_tick * 1000, true)),
        h('td', null, s.error ? h('span.c-failed', null, s.error) : ''))), { id: 'schedules-table' })
      : empty('No schedules: add [[schedules]] to tessera.toml to run assets on a cron.'));
    fill(dynamicBox, dynamic.length ? table(['Set', 'Keys', ''], dynamic.map((d) => dynamicRow(ctx, d, load)), { id: 'dynamic-table' })
      : empty('No dynamic partition sets.'));
  }
  await load();
  const refresh = throttle(() => load().catch(report), 300);
  for (const n of ['sensor_tick', 'sensor_error', 'sensor_switched', 'schedule_tick', 'schedule_error', 'registry', 'lagged']) ctx.on(n, refresh);
  ctx.cleanup(refresh.cancel);
}

function dynamicRow(ctx, d, reload) {
  const keysBox = h('div.dynamic-keys');
  const input = h('input.input.mono', { type: 'text', placeholder: 'new key', 'aria-label': `Key to add to ${d.name}` });
  const show = h('button.btn.small', { type: 'button', onclick: async () => {
    try {
      const page = await ctx.api(`/dynamic/${enc(d.name)}${qs({ limit: 200 })}`);
      fill(keysBox, page.keys.length ? h('ul.tag-list', null, page.keys.map((k) => h('li.tag.mono', null, k))) : empty('No keys.'),
        page.total > page.keys.length ? h('p.muted.small', null, `First ${fmtNum(page.keys.length)} of ${fmtNum(page.total)}.`) : null);
    } catch (e) {
      report(e);
    }
  } }, 'Show keys');
  const add = async (e) => {
    e.preventDefault();
    const k = input.value.trim();
    if (!k) return;
    try {
      await ctx.api(`/dynamic/${enc(d.name)}`, { method: 'POST', body: { keys: [k] } });
      await reload();
    } catch (err) {
      report(err);
    }
  };
  return h('tr', { 'data-dynamic': d.name }, h('td', null, h('strong', null, d.name)), h('td.num', null, fmtNum(d.keys)),
    h('td', null, h('div.inline', null, show, h('form.inline', { onsubmit: add }, input, h('button.btn.small', { type: 'submit' }, 'Add key'))), keysBox));
}

function pageNotFound(main) {
  setTitle('Not found');
  fill(main, h('div.page-error', null, h('h1', null, 'Page not found'), h('p', null, 'Nothing lives at ', h('code', null, location.hash), '. ', h('a', { href: '#/assets' }, 'Back to the assets'))));
}

// ---- Sign-in and start-up ---------------------------------------------------------------

let signInShown = false;

function showSignIn() {
  if (signInShown) return;
  signInShown = true;
  setLive('signed out');
  if (current) current.dispose();
  const token = h('input.input#signin-token', { type: 'password', autocomplete: 'current-password', required: true, 'aria-label': 'API token' });
  const err = h('p.error-text#signin-error', { role: 'alert' });
  const form = h('form.card.signin#signin-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const res = await fetch('/api/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: token.value }) });
        if (res.ok) return location.reload();
        const body = await res.json().catch(() => null);
        err.textContent = body?.error?.message || `Sign-in failed (${res.status}).`;
      } catch (ex) {
        err.textContent = ex.message;
      }
    },
  }, h('h1', null, 'Sign in'), h('p.muted', null, 'This server needs its API token. Signing in keeps it in an HttpOnly cookie for this browser.'),
  h('label.field', null, h('span', null, 'Token'), token), err, h('button.btn.primary', { type: 'submit' }, 'Sign in'));
  fill($('#main'), form);
  token.focus();
}

async function start() {
  window.addEventListener('hashchange', () => {
    route();
    $('#main').focus({ preventScroll: true });
    window.scrollTo(0, 0);
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    palette = null;
    route();
  });
  try {
    const health = await api('/health');
    engineSkew = Date.parse(health.now) - Date.now();
    $('#engine-now').textContent = `engine now ${fmtTime(Date.parse(health.now))}`;
    $('#engine-now').title = 'The time the engine plans with: which partitions exist depends on it.';
    $('#server-mode').textContent = health.mode;
    $('#server-mode').title = health.mode === 'dev' ? 'dev: this server executes queued runs' : 'serve: another process executes runs';
  } catch (e) {
    report(e);
  }
  liveWanted = true;
  route();
  // Plugin reload failures are worth knowing about on any page.
  listeners.add({
    name: 'registry',
    fn: (e) => {
      const d = e.detail || {};
      if (d.event === 'failed') banner('warning', `Plugin ${d.plugin} failed to reload: ${d.error} `, h('a', { href: '#/plugins' }, 'Plugins'));
    },
  });
}

start();
