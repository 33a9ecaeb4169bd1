/**
 * The dashboard's script, served as `/assets/dashboard.js`: plain browser
 * JavaScript, no framework, no external resources.
 *
 * Data sources: `GET /api/v1/status` every second (request rates are
 * computed from counter deltas between two polls), the live event stream
 * `GET /api/v1/events` (EventSource; every event also triggers an early
 * status refresh, so a state change shows at once) and
 * `GET /api/v1/availability` every 10 s and after up/down events.
 *
 * Safety: every string that comes from the API (server names, event
 * reasons, DNS names...) is put into the page with `textContent` or a
 * property setter, never parsed as HTML; the page's Content-Security-Policy
 * forbids inline scripts as a second line of defence. The admin token is
 * asked for on the first state-changing call and kept in `sessionStorage`
 * (this tab only).
 *
 * Kept as a string so `tsc` alone builds the whole server; the browser tests
 * (test/admin/dashboard*.test.ts) exercise it in a real Chromium.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(() => {
  const STATES = ['unknown', 'healthy', 'unhealthy', 'ejected', 'draining', 'disabled'];
  const POOL_HEALTH = ['up', 'degraded', 'backup', 'empty'];
  const SITE_STATES = ['unknown', 'down', 'recovering', 'active'];
  const TOKEN_KEY = 'ballast.adminToken';
  const HISTORY = 120;
  const STATUS_EVERY_MS = 1000;
  const MIN_SAMPLE_MS = 900;
  const AVAILABILITY_EVERY_MS = 10000;
  const MAX_EVENTS = 300;
  const PALETTE = ['#0969da', '#1a7f37', '#8250df', '#c2570c', '#bf3989', '#1b7c83', '#9a6700', '#57606a'];
  const EVENT_CLASSES = {
    'server-up': 'ev-up', 'server-restored': 'ev-up', 'server-enabled': 'ev-up', 'pool-restored': 'ev-up', 'site-up': 'ev-up',
    'server-down': 'ev-down', 'pool-empty': 'ev-down', 'site-down': 'ev-down', 'config-reload-failed': 'ev-down',
    'server-ejected': 'ev-ejected', 'pool-degraded': 'ev-ejected',
    'server-draining': 'ev-draining', 'server-disabled': 'ev-disabled',
    'server-weight': 'ev-config', 'config-reloaded': 'ev-config', 'dns-changed': 'ev-config',
  };
  const AVAILABILITY_EVENTS = new Set(['server-up', 'server-down', 'server-ejected', 'server-restored', 'pool-empty', 'pool-restored', 'site-up', 'site-down']);

  const byId = (id) => document.getElementById(id);
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function oneOf(value, allowed, fallback) {
    return allowed.indexOf(value) === -1 ? fallback : value;
  }
  function num(value) {
    return typeof value === 'number' && Number.isFinite(value) ? value : 0;
  }

  // ---- formatting ----
  function fmtRate(value) {
    if (value === null || value === undefined) return '–';
    if (value >= 100) return String(Math.round(value));
    return value.toFixed(1);
  }
  function fmtMs(value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return '–';
    return (value >= 100 ? String(Math.round(value)) : value.toFixed(1)) + ' ms';
  }
  function fmtPct(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return '—';
    if (value >= 100) return '100%';
    return (Math.floor(value * 100) / 100).toFixed(2) + '%';
  }
  function fmtDuration(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + (s % 60) + 's';
    const h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + (m % 60) + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }
  function fmtTime(epochMs) {
    const date = new Date(epochMs);
    if (Number.isNaN(date.getTime())) return '--:--:--';
    const two = (n) => (n < 10 ? '0' : '') + n;
    return two(date.getHours()) + ':' + two(date.getMinutes()) + ':' + two(date.getSeconds());
  }
  function niceCeil(value) {
    if (!(value > 0)) return 1;
    const base = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * base) return step * base;
    return 10 * base;
  }
  function fmtAxis(value) {
    if (value >= 1000) return (value / 1000).toFixed(value >= 10000 ? 0 : 1) + 'k';
    return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }

  // ---- toast and connection indicator ----
  let toastTimer = 0;
  function toast(message, isError) {
    const box = byId('toast');
    box.textContent = message;
    box.className = isError ? 'error' : '';
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 4000);
  }
  const link = { stream: false, api: false };
  let statusFailures = 0;
  function showConnection() {
    const node = byId('connection');
    if (link.stream && link.api) { node.textContent = 'live'; node.className = 'conn conn-live'; }
    else if (!link.api && statusFailures > 2) { node.textContent = 'admin API unreachable'; node.className = 'conn conn-down'; }
    else { node.textContent = 'reconnecting'; node.className = 'conn conn-wait'; }
  }

  // ---- the token and state-changing calls ----
  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (_) { return null; }
  }
  function storeToken(token) {
    try {
      if (token === null) sessionStorage.removeItem(TOKEN_KEY);
      else sessionStorage.setItem(TOKEN_KEY, token);
    } catch (_) { /* storage disabled: the token is asked for again next time */ }
    byId('token-button').textContent = token === null ? 'Set token' : 'Forget token';
  }
  let asking = false;
  /** Opens the modal question; resolves with the trimmed answer, or null when cancelled. */
  function ask(options) {
    if (asking) return Promise.resolve(null);
    asking = true;
    return new Promise((resolve) => {
      const dialog = byId('ask');
      const form = byId('ask-form');
      const input = byId('ask-input');
      const cancel = byId('ask-cancel');
      byId('ask-title').textContent = options.title;
      byId('ask-text').textContent = options.text;
      byId('ask-label').textContent = options.label;
      input.type = options.type;
      input.value = options.value === undefined ? '' : String(options.value);
      if (options.type === 'number') { input.min = '0'; input.max = '1000'; input.step = '1'; }
      else { input.removeAttribute('min'); input.removeAttribute('max'); input.removeAttribute('step'); }
      const finish = (value) => {
        form.removeEventListener('submit', onSubmit);
        cancel.removeEventListener('click', onCancel);
        dialog.removeEventListener('cancel', onCancel);
        if (dialog.open) dialog.close();
        input.value = '';
        asking = false;
        resolve(value);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        const value = input.value.trim();
        if (value !== '') finish(value);
      };
      const onCancel = (event) => {
        event.preventDefault();
        finish(null);
      };
      form.addEventListener('submit', onSubmit);
      cancel.addEventListener('click', onCancel);
      dialog.addEventListener('cancel', onCancel);
      dialog.showModal();
      input.focus();
      if (options.type !== 'password') input.select();
    });
  }
  function askToken() {
    return ask({
      title: 'Admin token',
      text: 'Changing state needs the admin token (admin.token in the configuration). It is kept in this browser tab only.',
      label: 'Token',
      type: 'password',
    });
  }
  function errorText(data, status) {
    if (data && data.error && typeof data.error.message === 'string') return data.error.message;
    if (data && Array.isArray(data.errors)) return data.errors.map(String).join('\n');
    return 'the admin API answered ' + status;
  }
  /** Sends a state-changing call with the bearer token; resolves with the JSON answer, or null after telling the user why not. */
  async function authorizedCall(method, path, body) {
    let token = storedToken();
    if (token === null) {
      token = await askToken();
      if (token === null) return null;
      storeToken(token);
    }
    let response;
    try {
      response = await fetch(path, {
        method,
        cache: 'no-store',
        headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      toast('The admin API did not answer: ' + (error && error.message ? error.message : String(error)), true);
      return null;
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (response.status === 401 || response.status === 403) {
      storeToken(null);
      toast('Refused: ' + errorText(data, response.status), true);
      return null;
    }
    if (!response.ok) {
      toast(errorText(data, response.status), true);
      return null;
    }
    refreshSoon();
    return data || {};
  }
  function serverPath(pool, server, action) {
    return '/api/v1/pools/' + encodeURIComponent(pool) + '/servers/' + encodeURIComponent(server) + '/' + action;
  }
  async function serverAction(pool, server, action) {
    const answer = await authorizedCall('POST', serverPath(pool, server, action));
    if (answer) toast(pool + '/' + server + ': ' + action + ' done' + (answer.state ? ', now ' + answer.state : ''));
  }
  async function changeWeight(pool, server, current) {
    const text = await ask({ title: 'Weight of ' + pool + '/' + server, text: 'An integer from 0 (never picked) to 1000.', label: 'Weight', type: 'number', value: current });
    if (text === null) return;
    const weight = Number(text);
    if (!Number.isInteger(weight) || weight < 0 || weight > 1000) {
      toast('The weight must be an integer from 0 to 1000.', true);
      return;
    }
    const answer = await authorizedCall('PUT', serverPath(pool, server, 'weight'), { weight });
    if (answer) toast(pool + '/' + server + ': weight is now ' + weight);
  }
  async function reloadConfig() {
    const answer = await authorizedCall('POST', '/api/v1/reload');
    if (answer) toast('Configuration reloaded.');
  }

  // ---- state kept between polls ----
  let status = null;
  let availability = new Map();
  const previousCounts = new Map();
  let previousAt = 0;
  const serverRates = new Map();
  const poolRates = new Map();
  const poolLatency = new Map();
  let latencyMode = 'smoothed';
  const samples = { rps: new Map(), p50: new Map(), p99: new Map() };
  const colors = new Map();
  const poolViews = new Map();

  function colorOf(pool) {
    let color = colors.get(pool);
    if (color === undefined) {
      color = PALETTE[colors.size % PALETTE.length];
      colors.set(pool, color);
    }
    return color;
  }
  function keyOf(pool, server) {
    return pool + '\u0000' + server;
  }
  function pushSample(map, pool, value) {
    let list = map.get(pool);
    if (list === undefined) { list = []; map.set(pool, list); }
    list.push(value);
    if (list.length > HISTORY) list.shift();
  }

  /** Rates from counter deltas; a chart sample is taken at most about once a second. */
  function ingest(next, now) {
    const pools = Array.isArray(next.pools) ? next.pools : [];
    latencyMode = pools.some((p) => typeof p.p50Ms === 'number') ? 'percentiles' : 'smoothed';
    const elapsed = (now - previousAt) / 1000;
    const sample = previousAt === 0 || now - previousAt >= MIN_SAMPLE_MS;
    if (!sample) return;
    const first = previousAt === 0;
    const seen = new Set();
    for (const pool of pools) {
      let poolRate = 0;
      let weighted = 0;
      let weights = 0;
      for (const server of Array.isArray(pool.servers) ? pool.servers : []) {
        const key = keyOf(pool.name, server.name);
        seen.add(key);
        const count = num(server.requests);
        const before = previousCounts.get(key);
        const delta = before === undefined || count < before ? 0 : count - before;
        previousCounts.set(key, count);
        const rate = first || elapsed <= 0 ? 0 : delta / elapsed;
        serverRates.set(key, rate);
        poolRate += rate;
        if (delta > 0) { weighted += num(server.latencyMs) * delta; weights += delta; }
      }
      poolRates.set(pool.name, first ? null : poolRate);
      if (latencyMode === 'percentiles') {
        poolLatency.set(pool.name, { p50: typeof pool.p50Ms === 'number' ? pool.p50Ms : null, p99: typeof pool.p99Ms === 'number' ? pool.p99Ms : null });
      } else {
        poolLatency.set(pool.name, { p50: weights > 0 ? weighted / weights : null, p99: null });
      }
      if (!first) {
        const latency = poolLatency.get(pool.name);
        pushSample(samples.rps, pool.name, poolRate);
        pushSample(samples.p50, pool.name, latency.p50);
        pushSample(samples.p99, pool.name, latency.p99);
      }
    }
    for (const key of [...previousCounts.keys()]) if (!seen.has(key)) { previousCounts.delete(key); serverRates.delete(key); }
    const names = new Set(pools.map((p) => p.name));
    for (const map of [samples.rps, samples.p50, samples.p99, poolRates, poolLatency]) {
      for (const name of [...map.keys()]) if (!names.has(name)) map.delete(name);
    }
    previousAt = now;
  }

  // ---- polling ----
  let statusTimer = 0;
  let statusBusy = false;
  let statusAgain = false;
  async function refreshStatus() {
    if (statusBusy) { statusAgain = true; return; }
    statusBusy = true;
    clearTimeout(statusTimer);
    try {
      const response = await fetch('/api/v1/status', { cache: 'no-store' });
      if (!response.ok) throw new Error('status answered ' + response.status);
      const next = await response.json();
      ingest(next, performance.now());
      status = next;
      statusFailures = 0;
      link.api = true;
      render();
    } catch (_) {
      statusFailures += 1;
      link.api = false;
    } finally {
      showConnection();
      statusBusy = false;
      if (statusAgain) { statusAgain = false; refreshStatus(); }
      else statusTimer = setTimeout(refreshStatus, STATUS_EVERY_MS);
    }
  }
  let soonTimer = 0;
  function refreshSoon() {
    clearTimeout(soonTimer);
    soonTimer = setTimeout(refreshStatus, 30);
  }
  let availabilityTimer = 0;
  async function refreshAvailability() {
    clearTimeout(availabilityTimer);
    try {
      const response = await fetch('/api/v1/availability', { cache: 'no-store' });
      if (response.ok) {
        const report = await response.json();
        const next = new Map();
        if (report && Array.isArray(report.entities)) {
          for (const entity of report.entities) next.set(entity.kind + ':' + entity.id, entity);
        }
        availability = next;
        renderAvailability(report && Array.isArray(report.entities));
        if (status !== null) renderPools();
      }
    } catch (_) { /* shown as stale figures; the next round retries */ }
    availabilityTimer = setTimeout(refreshAvailability, AVAILABILITY_EVERY_MS);
  }
  let availabilitySoonTimer = 0;
  function refreshAvailabilitySoon() {
    clearTimeout(availabilitySoonTimer);
    availabilitySoonTimer = setTimeout(refreshAvailability, 500);
  }

  // ---- events ----
  let eventCount = 0;
  function subjectOf(event) {
    if (event.server !== undefined && event.pool !== undefined) return String(event.pool) + '/' + String(event.server);
    if (event.pool !== undefined) return String(event.pool);
    if (event.site !== undefined) return 'site ' + String(event.site);
    return '';
  }
  function detailText(detail) {
    if (!detail || typeof detail !== 'object') return '';
    return Object.keys(detail).map((key) => key + '=' + String(detail[key])).join(' ');
  }
  function addEvent(event) {
    const list = byId('events');
    const item = el('li');
    item.dataset.type = String(event.type);
    const type = String(event.type);
    item.append(el('span', 'when', fmtTime(event.time)), el('span', 'badge ' + (EVENT_CLASSES[type] || 'ev-other'), type));
    const subject = subjectOf(event);
    if (subject !== '') item.append(el('span', 'subject', subject));
    const why = [event.reason === undefined ? '' : String(event.reason), detailText(event.detail)].filter((part) => part !== '').join(' · ');
    if (why !== '') item.append(el('span', 'reason', why));
    list.prepend(item);
    while (list.childElementCount > MAX_EVENTS) list.lastElementChild.remove();
    eventCount += 1;
    byId('event-count').textContent = eventCount + (eventCount > MAX_EVENTS ? ' (newest ' + MAX_EVENTS + ' shown)' : '');
  }
  function connectEvents() {
    const source = new EventSource('/api/v1/events');
    source.onopen = () => {
      byId('events').replaceChildren();
      eventCount = 0;
      byId('event-count').textContent = '';
      link.stream = true;
      showConnection();
    };
    source.onerror = () => {
      link.stream = false;
      showConnection();
      // EventSource retries by itself unless the answer was not a stream; then start over later.
      if (source.readyState === EventSource.CLOSED) setTimeout(connectEvents, 5000);
    };
    source.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      if (!event || typeof event !== 'object') return;
      addEvent(event);
      refreshSoon();
      if (AVAILABILITY_EVENTS.has(event.type)) refreshAvailabilitySoon();
    };
  }

  // ---- rendering ----
  /** Puts the nodes into parent in order, moving only what is out of place (keeps focus and clicks intact). */
  function placeInOrder(parent, nodes) {
    nodes.forEach((node, index) => {
      if (parent.children[index] !== node) parent.insertBefore(node, parent.children[index] || null);
    });
    while (parent.children.length > nodes.length) parent.lastElementChild.remove();
  }
  function uptimeText(entity) {
    if (!entity || !entity.uptime) return '—';
    return fmtPct(entity.uptime['1h']) + ' · ' + fmtPct(entity.uptime['24h']) + ' · ' + fmtPct(entity.uptime['30d']);
  }
  function button(label, title, onClick) {
    const node = el('button', null, label);
    node.type = 'button';
    node.title = title;
    node.addEventListener('click', onClick);
    return node;
  }
  function poolView(name) {
    let view = poolViews.get(name);
    if (view !== undefined) return view;
    const section = el('section', 'panel pool');
    section.dataset.pool = name;
    const heading = el('h2');
    const swatch = el('span', 'swatch');
    swatch.style.backgroundColor = colorOf(name);
    const health = el('span', 'badge');
    const algorithm = el('span', 'muted small');
    const stats = el('span', 'muted small');
    heading.append(swatch, el('span', 'pool-name', name), health, algorithm, stats);
    const table = el('table', 'servers');
    const head = el('thead');
    const headRow = el('tr');
    const columns = [['Server', ''], ['State', ''], ['Weight', 'num'], ['Active', 'num'], ['Req/s', 'num'], ['Requests', 'num'], ['Failures', 'num'], ['Latency', 'num'], ['Uptime 1h · 24h · 30d', 'num'], ['', '']];
    for (const [label, cls] of columns) headRow.append(el('th', cls, label));
    head.append(headRow);
    const body = el('tbody');
    table.append(head, body);
    section.append(heading, table);
    view = { section, health, algorithm, stats, body, rows: new Map() };
    poolViews.set(name, view);
    return view;
  }
  function serverRow(view, pool, name) {
    let row = view.rows.get(name);
    if (row !== undefined) return row;
    const tr = el('tr');
    tr.dataset.pool = pool;
    tr.dataset.server = name;
    const nameCell = el('td', 'name');
    const address = el('span', 'muted mono');
    const backup = el('span', 'muted small');
    nameCell.append(el('strong', 'server-name', name), address, backup);
    const state = el('span', 'badge state');
    const stateCell = el('td');
    stateCell.append(state);
    const weight = button('', 'Change the weight', () => changeWeight(pool, name, row.weightValue));
    weight.className = 'weight';
    const weightCell = el('td', 'num');
    weightCell.append(weight);
    const cells = {
      active: el('td', 'num active'), rate: el('td', 'num rate'), requests: el('td', 'num requests'),
      failures: el('td', 'num failures'), latency: el('td', 'num latency'), uptime: el('td', 'num uptime'),
    };
    const drain = button('Drain', 'Stop new requests; let requests in flight finish', () => serverAction(pool, name, 'drain'));
    drain.className = 'drain';
    const disable = button('Disable', 'Take out of rotation now', () => serverAction(pool, name, 'disable'));
    disable.className = 'disable';
    const enable = button('Enable', 'Put back into rotation', () => serverAction(pool, name, 'enable'));
    enable.className = 'enable';
    const actions = el('td', 'actions');
    actions.append(drain, disable, enable);
    tr.append(nameCell, stateCell, weightCell, cells.active, cells.rate, cells.requests, cells.failures, cells.latency, cells.uptime, actions);
    row = { tr, address, backup, state, weight, weightValue: 0, cells, drain, disable, enable };
    view.rows.set(name, row);
    return row;
  }
  function renderPools() {
    const pools = Array.isArray(status.pools) ? status.pools : [];
    const sections = [];
    for (const pool of pools) {
      const view = poolView(pool.name);
      const health = oneOf(pool.health, POOL_HEALTH, 'empty');
      view.health.textContent = String(pool.health);
      view.health.className = 'badge health-' + health;
      view.algorithm.textContent = String(pool.algorithm);
      const rate = poolRates.get(pool.name);
      const latency = poolLatency.get(pool.name);
      const parts = [fmtRate(rate === undefined ? null : rate) + ' req/s', num(pool.inFlight) + ' in flight'];
      if (latency && latencyMode === 'percentiles') parts.push('p50 ' + fmtMs(latency.p50) + ', p99 ' + fmtMs(latency.p99));
      else if (latency && latency.p50 !== null) parts.push('latency ' + fmtMs(latency.p50));
      const poolUptime = availability.get('pool:' + pool.name);
      if (poolUptime) parts.push('uptime ' + uptimeText(poolUptime));
      view.stats.textContent = parts.join(' · ');
      const rows = [];
      const servers = Array.isArray(pool.servers) ? pool.servers : [];
      const names = new Set();
      for (const server of servers) {
        names.add(server.name);
        const row = serverRow(view, pool.name, server.name);
        const state = oneOf(server.state, STATES, 'unknown');
        row.state.textContent = String(server.state);
        row.state.className = 'badge state state-' + state;
        row.tr.dataset.state = state;
        row.address.textContent = ' ' + String(server.address);
        row.backup.textContent = server.backup ? ' backup' : '';
        row.weightValue = num(server.weight);
        row.weight.textContent = String(num(server.weight)) + (num(server.effectiveWeight) !== num(server.weight) ? ' (now ' + num(server.effectiveWeight) + ')' : '');
        row.cells.active.textContent = String(num(server.activeConnections));
        const rate = serverRates.get(keyOf(pool.name, server.name));
        row.cells.rate.textContent = fmtRate(rate === undefined ? null : rate);
        row.cells.requests.textContent = String(num(server.requests));
        row.cells.failures.textContent = String(num(server.failures));
        row.cells.latency.textContent = num(server.requests) > 0 ? fmtMs(num(server.latencyMs)) : '–';
        const entity = availability.get('server:' + pool.name + '/' + server.name);
        row.cells.uptime.textContent = uptimeText(entity);
        row.cells.uptime.title = entity ? 'incidents: ' + num(entity.incidentCount) + ', MTTR ' + (entity.mttrMs === null ? '—' : fmtDuration(entity.mttrMs)) : 'no history yet';
        const parked = state === 'draining' || state === 'disabled';
        row.drain.hidden = parked;
        row.disable.hidden = state === 'disabled';
        row.enable.hidden = !parked;
        rows.push(row.tr);
      }
      for (const name of [...view.rows.keys()]) if (!names.has(name)) view.rows.delete(name);
      if (rows.length === 0) {
        const empty = el('tr', 'empty');
        const cell = el('td', null, 'no servers');
        cell.colSpan = 10;
        empty.append(cell);
        rows.push(empty);
      }
      placeInOrder(view.body, rows);
      sections.push(view.section);
    }
    const names = new Set(pools.map((p) => p.name));
    for (const name of [...poolViews.keys()]) if (!names.has(name)) poolViews.delete(name);
    placeInOrder(byId('pools'), sections);
  }
  function fillTable(id, rows, emptyText, columns) {
    const body = byId(id).tBodies[0];
    const nodes = rows.map((cells) => {
      const tr = el('tr');
      for (const cell of cells) tr.append(cell);
      return tr;
    });
    if (nodes.length === 0) {
      const tr = el('tr', 'empty');
      const td = el('td', null, emptyText);
      td.colSpan = columns;
      tr.append(td);
      nodes.push(tr);
    }
    body.replaceChildren(...nodes);
  }
  function badge(text, cls) {
    const td = el('td');
    td.append(el('span', 'badge ' + cls, text));
    return td;
  }
  function renderListeners() {
    const listeners = Array.isArray(status.listeners) ? status.listeners : [];
    byId('listener-count').textContent = String(listeners.length);
    fillTable('listeners', listeners.map((l) => [el('td', null, l.name), el('td', null, l.protocol), el('td', 'mono', l.address), el('td', 'num', num(l.inFlight))]), 'no listeners', 4);
  }
  function renderGslb() {
    const gslb = status.gslb;
    const section = byId('gslb');
    if (!gslb || typeof gslb !== 'object') {
      section.hidden = true;
      byId('sites-up').textContent = '–';
      return;
    }
    section.hidden = false;
    const sites = Array.isArray(gslb.sites) ? gslb.sites : [];
    const records = Array.isArray(gslb.records) ? gslb.records : [];
    const up = sites.filter((s) => s.health === 'up').length;
    byId('sites-up').textContent = up + ' / ' + sites.length;
    const quorum = gslb.quorum && typeof gslb.quorum === 'object' ? ', quorum ' + (gslb.quorum.has ? 'held' : 'lost') + ' (' + num(gslb.quorum.reachable) + ' of ' + num(gslb.quorum.sites) + ' reachable)' : '';
    byId('gslb-summary').textContent = 'this site: ' + String(gslb.site) + quorum + (gslb.dns && gslb.dns.zone ? ', zone ' + String(gslb.dns.zone) : '');
    const now = Date.now();
    fillTable('sites', sites.map((site) => {
      const name = el('td', null, String(site.site) + (site.self ? ' (this site)' : '') + (site.witness ? ' (witness)' : ''));
      const heard = site.self ? '—' : site.lastHeartbeat === null || site.lastHeartbeat === undefined ? 'never' : fmtDuration(now - site.lastHeartbeat) + ' ago';
      const phi = typeof site.phi === 'number' ? site.phi.toFixed(2) : '—';
      return [name, badge(String(site.state), 'site-' + oneOf(site.state, SITE_STATES, 'unknown')), el('td', null, site.health), el('td', null, heard), el('td', 'num', phi)];
    }), 'no sites', 5);
    fillTable('records', records.map((record) => {
      const values = Array.isArray(record.answer) ? record.answer.map(String) : [];
      const weights = Array.isArray(record.weights) ? record.weights : null;
      const shown = values.map((value, index) => (weights ? value + ' (weight ' + weights[index] + ')' : value)).join(', ');
      const answer = el('td', 'mono', shown === '' ? '(none)' : shown);
      if (record.note) answer.append(el('span', 'muted small', ' ' + String(record.note)));
      return [el('td', 'mono', record.name), el('td', null, record.type), el('td', null, record.policy), answer];
    }), 'no records', 4);
  }
  function renderAvailability(kept) {
    const rows = [];
    for (const entity of availability.values()) {
      if (entity.kind === 'server') continue;
      const state = entity.state === 'up' ? 'health-up' : entity.state === 'down' ? 'health-empty' : 'state-unknown';
      rows.push([
        el('td', null, entity.kind), el('td', null, entity.id), badge(String(entity.state), state),
        el('td', 'num', fmtPct(entity.uptime && entity.uptime['1h'])), el('td', 'num', fmtPct(entity.uptime && entity.uptime['24h'])),
        el('td', 'num', fmtPct(entity.uptime && entity.uptime['30d'])), el('td', 'num', num(entity.incidentCount)),
        el('td', 'num', entity.mttrMs === null ? '—' : fmtDuration(entity.mttrMs)),
      ]);
    }
    fillTable('availability', rows, kept ? 'no history yet' : 'no availability history is kept', 8);
  }
  function renderCards() {
    const pools = Array.isArray(status.pools) ? status.pools : [];
    let rate = null;
    for (const value of poolRates.values()) if (value !== null) rate = (rate || 0) + value;
    byId('total-rps').textContent = fmtRate(rate);
    const listeners = Array.isArray(status.listeners) ? status.listeners : [];
    byId('total-inflight').textContent = String(listeners.reduce((sum, l) => sum + num(l.inFlight), 0));
    let servers = 0;
    let serving = 0;
    for (const pool of pools) for (const server of Array.isArray(pool.servers) ? pool.servers : []) {
      servers += 1;
      if (server.state === 'healthy') serving += 1;
    }
    byId('servers-serving').textContent = serving + ' / ' + servers;
    byId('pools-up').textContent = pools.filter((p) => p.health === 'up').length + ' / ' + pools.length;
    byId('version').textContent = 'v' + String(status.version);
    const started = Date.parse(status.startedAt);
    byId('uptime').textContent = Number.isNaN(started) ? '' : 'up ' + fmtDuration(Date.now() - started);
  }
  function legend(id, names, note) {
    const node = byId(id);
    const items = names.map((name) => {
      const item = el('span');
      const swatch = el('span', 'swatch');
      swatch.style.backgroundColor = colorOf(name);
      item.append(swatch, document.createTextNode(name));
      return item;
    });
    if (note) items.push(el('span', null, note));
    node.replaceChildren(...items);
  }
  function drawChart(canvas, lines) {
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    let max = 0;
    for (const line of lines) for (const value of line.values) if (typeof value === 'number' && value > max) max = value;
    const top = niceCeil(max);
    const left = 40;
    const right = 6;
    const above = 6;
    const below = 16;
    const plotWidth = width - left - right;
    const plotHeight = height - above - below;
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.setLineDash([]);
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = Math.round(above + plotHeight - (plotHeight * i) / 4) + 0.5;
      ctx.strokeStyle = i === 0 ? '#afb8c1' : '#eaeef2';
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(width - right, y);
      ctx.stroke();
      ctx.fillStyle = '#59636e';
      ctx.textAlign = 'right';
      ctx.fillText(fmtAxis((top * i) / 4), left - 6, y);
    }
    ctx.textBaseline = 'alphabetic';
    ctx.textAlign = 'left';
    ctx.fillText('2 min ago', left, height - 3);
    ctx.textAlign = 'right';
    ctx.fillText('now', width - right, height - 3);
    for (const line of lines) {
      ctx.strokeStyle = line.color;
      ctx.lineWidth = 1.6;
      ctx.setLineDash(line.dashed ? [4, 3] : []);
      ctx.beginPath();
      let drawing = false;
      const offset = HISTORY - line.values.length;
      line.values.forEach((value, index) => {
        if (typeof value !== 'number') { drawing = false; return; }
        const x = left + (plotWidth * (index + offset)) / (HISTORY - 1);
        const y = above + plotHeight - (plotHeight * value) / top;
        if (drawing) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        drawing = true;
      });
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }
  function renderCharts() {
    const names = Array.isArray(status.pools) ? status.pools.map((p) => p.name) : [];
    legend('rps-legend', names, '');
    const percentiles = latencyMode === 'percentiles';
    byId('latency-title').textContent = percentiles ? 'Latency p50 / p99 (ms)' : 'Latency, smoothed mean (ms)';
    legend('latency-legend', names, percentiles ? 'solid p50, dashed p99' : '');
    drawChart(byId('rps-chart'), names.map((name) => ({ color: colorOf(name), values: samples.rps.get(name) || [], dashed: false })));
    const latencyLines = [];
    for (const name of names) {
      latencyLines.push({ color: colorOf(name), values: samples.p50.get(name) || [], dashed: false });
      if (percentiles) latencyLines.push({ color: colorOf(name), values: samples.p99.get(name) || [], dashed: true });
    }
    drawChart(byId('latency-chart'), latencyLines);
  }
  function render() {
    if (status === null) return;
    renderCards();
    renderPools();
    renderListeners();
    renderGslb();
    renderCharts();
  }

  // ---- start ----
  byId('token-button').addEventListener('click', async () => {
    if (storedToken() !== null) {
      storeToken(null);
      toast('The token is forgotten.');
      return;
    }
    const token = await askToken();
    if (token !== null) {
      storeToken(token);
      toast('Token kept for this tab.');
    }
  });
  byId('reload-config').addEventListener('click', () => { reloadConfig(); });
  window.addEventListener('resize', () => { if (status !== null) renderCharts(); });
  storeToken(storedToken());
  showConnection();
  connectEvents();
  refreshStatus();
  refreshAvailability();
})();
`;
