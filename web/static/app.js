// ganger dashboard. Plain JavaScript, no build step, no dependencies.
//
// It uses only the public API (API.md): REST for the initial state, for
// actions and to refresh a job after one of its events, and the /channel
// WebSocket for events (EVENTS), resource figures (STATS:<session>.<job>)
// and output (STREAM:<pid>). Nothing is polled: the page changes when an
// event says something changed, and a job's events are coalesced into at
// most one GET of the job every REFRESH_MS.
'use strict';

(() => {
  // ---------------------------------------------------------------- config

  const LOG_LINES = 200;     // lines fetched when a log view opens
  const LOG_MAX = 5000;      // lines kept in the log view
  const FEED_MAX = 300;      // events kept in the feed
  const PARTIAL_MS = 300;    // an unterminated output line is shown after this
  const KEEPALIVE_MS = 30000;
  const REFRESH_MS = 200;    // at most one GET of a job this often, however many events
  const SUB_WAIT_MS = 3000;  // how long to wait for a subscription's answer
  const BACKOFF_MIN = 500, BACKOFF_MAX = 15000;
  const TOKEN_KEY = 'ganger.token';
  const COLLAPSED_KEY = 'ganger.collapsed';
  const SIGNALS = ['HUP', 'INT', 'QUIT', 'TERM', 'KILL', 'USR1', 'USR2', 'CONT', 'STOP', 'WINCH', 'TTIN', 'TTOU'];

  // The API lives next to the page: <prefix>/ui/ -> <prefix>/.
  const API_BASE = (() => {
    const p = location.pathname;
    const i = p.lastIndexOf('/ui/');
    return i >= 0 ? p.slice(0, i + 1) : '/';
  })();

  // ------------------------------------------------------------- helpers

  const $ = (sel, root = document) => root.querySelector(sel);

  // h builds an element: h('div', {class: 'x', 'data-job': n, onclick: f}, child…).
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const ICONS = {
    play: 'M5 3.5v9l7.5-4.5z',
    stop: 'M4 4h8v8H4z',
    reload: 'M12.5 8A4.5 4.5 0 1 1 11 4.6M11.2 2v2.8H8.4',
    restart: 'M2.8 7.2A5.2 5.2 0 0 1 12 4.4M13.2 8.8A5.2 5.2 0 0 1 4 11.6M12.3 1.9v2.8H9.5M3.7 14.1v-2.8h2.8',
    plus: 'M8 3.5v9M3.5 8h9',
    minus: 'M3.5 8h9',
    logs: 'M2.5 3.5h11v9h-11zM5 6.5l2 1.5-2 1.5M8.5 10h2.5',
    bolt: 'M9 1.5 3.5 9H8l-1 5.5L12.5 7H8z',
    commit: 'M8 5.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM1.5 8h4M10.5 8h4',
    chevron: 'M6 4l4 4-4 4',
    x: 'M4 4l8 8M12 4l-8 8',
  };
  const FILLED = new Set(['play', 'stop', 'bolt']);

  function icon(name) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 16 16');
    svg.setAttribute('class', 'icon');
    svg.setAttribute('aria-hidden', 'true');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', ICONS[name]);
    if (FILLED.has(name)) path.setAttribute('class', 'filled');
    svg.append(path);
    return svg;
  }

  function button(action, label, opts = {}) {
    return h('button', {
      type: opts.submit ? 'submit' : 'button',
      class: 'btn ' + (opts.cls || ''),
      'data-action': action,
      'data-write': opts.write,
      title: opts.title || label,
      'aria-label': opts.aria || opts.title || label,
    }, opts.icon ? icon(opts.icon) : null, opts.iconOnly ? null : h('span', {class: 'label'}, label));
  }

  // label2 sets a control's tooltip and accessible name.
  function label2(el, text) {
    el.title = text;
    el.setAttribute('aria-label', text);
  }

  function signalSelect(field) {
    return h('select', {class: 'input select', 'data-field': field, 'data-write': true, 'aria-label': 'Signal'},
      SIGNALS.map((s) => h('option', {value: s}, s)));
  }

  function fmtPct(v) {
    if (typeof v !== 'number' || !isFinite(v)) return '–';
    return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + '%';
  }

  function fmtBytes(v) {
    if (typeof v !== 'number' || !isFinite(v)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v >= 100 ? v.toFixed(0) : v.toFixed(1)) + '\u202f' + units[i];
  }

  function fmtAge(createTime) {
    if (typeof createTime !== 'number' || !createTime) return '–';
    let s = Math.max(0, Math.floor(Date.now() / 1000 - createTime));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const hr = Math.floor(s / 3600); s -= hr * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d}d ${hr}h`;
    if (hr) return `${hr}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function fmtAgo(t) {
    return typeof t === 'number' && t ? fmtAge(t) + ' ago' : '–';
  }

  function dueText(due) {
    return `retry in ${Math.max(1, Math.ceil(due - Date.now() / 1000))}s`;
  }

  function fmtDateTime(ms) {
    const d = new Date(ms);
    return isNaN(d) ? '' : d.toLocaleString([], {hour12: false});
  }

  // Linux signal numbers, for exits by signal.
  const SIGNAL_NAMES = ['', 'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV',
    'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU',
    'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];

  function signalName(n) {
    return SIGNAL_NAMES[n] ? 'SIG' + SIGNAL_NAMES[n] : `signal ${n}`;
  }

  function stateLabel(s) {
    return String(s || 'unknown').replace(/_/g, ' ');
  }

  function fmtClock(t) {
    const d = t instanceof Date ? t : new Date(t);
    if (isNaN(d)) return '';
    return d.toLocaleTimeString([], {hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit'});
  }

  function splitName(name) {
    const i = name.indexOf('.');
    return i < 0 ? ['default', name] : [name.slice(0, i), name.slice(i + 1)];
  }

  function jobPath(name) {
    const [s, j] = splitName(name);
    return `jobs/${encodeURIComponent(s)}/${encodeURIComponent(j)}`;
  }

  function loadSet(key) {
    try { return new Set(JSON.parse(localStorage.getItem(key) || '[]')); } catch { return new Set(); }
  }

  function saveSet(key, set) {
    try { localStorage.setItem(key, JSON.stringify([...set])); } catch { /* private mode */ }
  }

  // -------------------------------------------------------------- token

  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  }

  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    } catch { /* storage disabled: the token lives as long as the page */ }
    memToken = t;
    $('#token-button').hidden = !t && !authNeeded;
  }

  let memToken = getToken();
  let authNeeded = false;

  function token() { return getToken() || memToken; }

  function askToken(reason) {
    authNeeded = true;
    $('#token-button').hidden = false;
    const dlg = $('#token-dialog');
    $('#token-reason').textContent = token() && reason
      ? `The daemon refused the token: ${reason}.`
      : 'This daemon requires an API token.';
    if (!dlg.open) {
      $('#token-input').value = '';
      dlg.showModal();
      $('#token-input').focus();
    }
  }

  // ---------------------------------------------------------------- REST

  class ApiError extends Error {
    constructor(status, code, reason) {
      super(reason);
      this.status = status;
      this.code = code;
      this.reason = reason;
    }
  }

  // api calls the REST API and returns the decoded JSON answer. It throws
  // an ApiError carrying the error body's reason; a 401 also asks for a
  // token.
  async function api(method, path, body) {
    const headers = {Accept: 'application/json'};
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    const init = {method, headers, cache: 'no-store'};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API_BASE + path, init);
    } catch (e) {
      throw new ApiError(0, 'network', 'cannot reach the daemon');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const reason = (data && data.reason) || text.trim() || res.statusText || `HTTP ${res.status}`;
      const err = new ApiError(res.status, (data && data.error) || `http_${res.status}`, reason);
      if (res.status === 401) askToken(reason);
      throw err;
    }
    return data;
  }

  // ------------------------------------------------------------- toasts

  function toast(message, kind = 'error') {
    const box = $('#toasts');
    const close = h('button', {class: 'toast-close', type: 'button', 'aria-label': 'Dismiss'}, icon('x'));
    const el = h('div', {class: 'toast ' + kind, role: kind === 'error' ? 'alert' : 'status', 'data-kind': kind},
      h('span', {class: 'toast-text'}, message), close);
    const remove = () => el.remove();
    close.addEventListener('click', remove);
    box.append(el);
    while (box.children.length > 4) box.firstElementChild.remove();
    setTimeout(remove, kind === 'error' ? 12000 : 4000);
  }

  function showError(what, err) {
    if (err && err.status === 401) return; // the token form says it
    const reason = err && (err.reason || err.message) || String(err);
    toast(`${what}: ${reason}`, 'error');
  }

  // ------------------------------------------------------------ channel

  // The /channel connection: desired subscriptions survive reconnects and
  // are sent again on open.
  const chan = {
    ws: null,
    wanted: new Set(),    // topics to hold, across reconnects
    sent: new Set(),      // topics sent on this connection
    confirmed: new Set(), // topics the server confirmed on this connection
    waiters: new Map(),   // topic -> [resolve]
    attempt: 0,
    timer: null,
    countdown: null,
    keepalive: null,
    everOpen: false,
    reopened: false,
    offlineSynced: false,
  };

  function wsURL() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = `${proto}//${location.host}${API_BASE}channel`;
    const t = token();
    if (t) url += '?token=' + encodeURIComponent(t);
    return url;
  }

  function send(obj) {
    if (chan.ws && chan.ws.readyState === WebSocket.OPEN) {
      chan.ws.send(JSON.stringify(obj));
      return true;
    }
    return false;
  }

  // subscribe adds a topic; the promise settles (true/false) once the server
  // answers, or after SUB_WAIT_MS.
  function subscribe(topic) {
    chan.wanted.add(topic);
    if (!chan.ws || chan.ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
    if (chan.confirmed.has(topic)) return Promise.resolve(true);
    if (!chan.sent.has(topic)) {
      chan.sent.add(topic);
      send({event: 'SUB', data: {topic}});
    }
    return new Promise((resolve) => {
      let done = false;
      const once = (ok) => { if (!done) { done = true; resolve(ok); } };
      const list = chan.waiters.get(topic) || [];
      list.push(once);
      chan.waiters.set(topic, list);
      setTimeout(() => once(false), SUB_WAIT_MS);
    });
  }

  function unsubscribe(topic) {
    if (!chan.wanted.delete(topic)) return;
    const held = chan.sent.delete(topic);
    chan.confirmed.delete(topic);
    if (held) send({event: 'UNSUB', data: {topic}});
  }

  function settle(topic, ok) {
    const list = chan.waiters.get(topic);
    if (!list) return;
    chan.waiters.delete(topic);
    for (const r of list) r(ok);
  }

  function setConn(state, label) {
    const el = $('#conn-status');
    el.dataset.state = state;
    document.body.dataset.conn = state;
    $('.conn-label', el).textContent = label;
  }

  function connect() {
    clearTimeout(chan.timer);
    clearInterval(chan.countdown);
    chan.timer = chan.countdown = null;
    if (chan.ws) {
      const old = chan.ws;
      chan.ws = null;
      old.onclose = old.onmessage = old.onopen = old.onerror = null;
      try { old.close(); } catch { /* already closed */ }
    }
    chan.sent.clear();
    chan.confirmed.clear();
    setConn('connecting', chan.everOpen ? 'Reconnecting…' : 'Connecting…');
    let opened = false;
    let sock;
    try {
      sock = new WebSocket(wsURL());
    } catch (e) {
      lost(false);
      return;
    }
    chan.ws = sock;
    sock.onopen = () => {
      opened = true;
      chan.everOpen = true;
      chan.offlineSynced = false;
      chan.attempt = 0;
      setConn('open', 'Live');
      $('#conn-banner').hidden = true;
      for (const topic of chan.wanted) {
        chan.sent.add(topic);
        send({event: 'SUB', data: {topic}});
      }
      clearInterval(chan.keepalive);
      chan.keepalive = setInterval(() => send({event: 'NOP'}), KEEPALIVE_MS);
      onOpen();
    };
    sock.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      onMessage(msg);
    };
    sock.onclose = () => {
      if (chan.ws !== sock) return;
      chan.ws = null;
      clearInterval(chan.keepalive);
      for (const topic of [...chan.waiters.keys()]) settle(topic, false);
      lost(opened);
    };
  }

  // lost handles a closed or refused connection: find out why (a refused
  // handshake may mean a token is needed), show it, retry with backoff.
  async function lost(wasOpen) {
    setConn('closed', 'Offline');
    let why = wasOpen ? 'Connection to the daemon lost.' : 'Cannot open the live connection.';
    if (!wasOpen) {
      try {
        await api('GET', '');
        // The REST API works: show the state while we retry (once per outage).
        if (!chan.offlineSynced) { chan.offlineSynced = true; resync(); }
      } catch (e) {
        if (e.status === 401) {
          showBanner('The daemon needs a token.', true);
          return; // the token form reconnects
        }
        if (e.status === 403) why = `Refused: ${e.reason}.`;
        else if (e.status === 0) why = 'Cannot reach the daemon.';
      }
    }
    if (chan.ws) return; // a reconnect raced us
    const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** chan.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    chan.attempt++;
    const until = Date.now() + delay;
    const tick = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      showBanner(`${why} Reconnecting${s ? ` in ${s}s` : ''}…`, true);
    };
    tick();
    clearInterval(chan.countdown);
    chan.countdown = setInterval(tick, 1000);
    clearTimeout(chan.timer);
    chan.timer = setTimeout(connect, delay);
  }

  function showBanner(text, retry) {
    $('#conn-banner-text').textContent = text;
    $('#reconnect-now').hidden = !retry;
    $('#conn-banner').hidden = false;
  }

  async function onOpen() {
    if (chan.reopened) feed.mark('Reconnected: events sent while offline are not shown');
    chan.reopened = true;
    await subscribe('EVENTS');
    await resync();
  }

  function onMessage(msg) {
    switch (msg.event) {
      case 'gaffer:subscription_success':
        if (chan.sent.has(msg.topic)) chan.confirmed.add(msg.topic);
        settle(msg.topic, true);
        break;
      case 'gaffer:subscription_error': {
        const reason = (msg.data && msg.data.reason) || 'refused';
        chan.sent.delete(msg.topic);
        settle(msg.topic, false);
        if (msg.topic === 'EVENTS') {
          toast(`Live events unavailable: ${reason}`);
        } else {
          // A process or job that has gone: nothing to follow any more.
          chan.wanted.delete(msg.topic);
          logs.subs.delete(msg.topic);
          console.warn('subscription refused', msg.topic, reason);
        }
        break;
      }
      case 'gaffer:event': {
        const d = msg.data || {};
        const topic = String(d.topic || '');
        if (topic.startsWith('STREAM:') || d.event === 'stream' || d.event === 'output') onStream(d, topic);
        else if (topic.startsWith('STATS:') || d.event === 'stats') onStats(d, topic);
        else onEvent(d);
        break;
      }
      case 'gaffer:error': {
        const d = msg.data || {};
        if (d.error === 'overflow') {
          toast(`Live updates fell behind (${d.reason || 'events dropped'}); resynchronising.`, 'info');
          resync(); // reloads the log view too
        } else {
          console.warn('channel error', d);
        }
        break;
      }
      default:
        break;
    }
  }

  // --------------------------------------------------------------- jobs

  const jobs = new Map();      // name -> job record
  let order = [];              // job names, in the daemon's order
  const collapsed = loadSet(COLLAPSED_KEY);
  let resyncing = null, resyncAgain = false;
  let jobSeq = 0;              // numbers the elements' ids

  // Events that change nothing a job's answer shows: no refresh for them.
  const QUIET_EVENTS = new Set(['kill', 'log_error', 'oom']);
  // Slot events whose reason says why a slot is where it is.
  const NOTE_EVENTS = new Set(['backoff', 'flap', 'giveup', 'unhealthy', 'unready', 'update_failed', 'spawn_error']);

  function newJob(name) {
    const [session, short] = splitName(name);
    const j = {
      name, session, short,
      info: null,
      stats: new Map(),        // pid -> latest stats
      osPids: new Map(),       // pid -> os pid
      live: new Set(),         // pids alive until their exit: kept, stopping, commits
      exited: new Set(),       // pids seen exiting
      pidSlot: new Map(),      // pid -> slot, from spawn events (0: a commit)
      notes: new Map(),        // slot -> {event, at, reason, due} from its latest slot event
      startErrors: new Map(),  // slot -> {at, reason} of a failed start, until a spawn
      slotRows: new Map(),     // slot -> row element
      extraRows: new Map(),    // pid -> row element, for processes outside slots
      // refresh: one GET in flight, at most one every REFRESH_MS
      fetching: null,
      dirty: false,
      force: false,            // fetch even while the page is hidden
      timer: null,
      lastFetch: -Infinity,
      waiters: [],
      el: null,
      f: {},                   // fields of the element
    };
    j.el = buildJob(j);
    jobs.set(name, j);
    subscribe('STATS:' + name);
    return j;
  }

  function ensureJob(name) {
    return jobs.get(name) || newJob(name);
  }

  function removeJob(name) {
    const j = jobs.get(name);
    if (!j) return;
    jobs.delete(name);
    clearTimeout(j.timer);
    j.timer = null;
    for (const r of j.waiters.splice(0)) r();
    order = order.filter((n) => n !== name);
    unsubscribe('STATS:' + name);
    j.el.remove();
    renderOrder();
    renderDependents(name);
    if (logs.target && logs.target.job === name) logs.markGone('unloaded');
  }

  // resync reloads everything from REST; calls made while one runs are
  // folded into one more run.
  function resync() {
    if (resyncing) { resyncAgain = true; return resyncing; }
    resyncing = (async () => {
      do {
        resyncAgain = false;
        try {
          const [ver, list] = await Promise.all([api('GET', ''), api('GET', 'jobs')]);
          $('#version').textContent = ver && ver.version ? 'v' + ver.version : '';
          const names = (list && list.jobs) || [];
          for (const name of [...jobs.keys()]) if (!names.includes(name)) removeJob(name);
          order = names.slice();
          // Exits may have been missed: start over from what the API and
          // the next stats say is alive.
          for (const j of jobs.values()) j.live.clear();
          for (const n of names) ensureJob(n);
          renderOrder();
          await Promise.all(names.map((n) => refreshJob(n, true)));
          logs.afterResync();
        } catch (e) {
          showError('Loading jobs', e);
        }
      } while (resyncAgain);
    })().finally(() => { resyncing = null; });
    return resyncing;
  }

  // refreshJob asks for a fresh GET /jobs/{s}/{j}; the promise settles once
  // an answer fetched after the call is shown. Calls are coalesced: at
  // most one request per job is in flight and at most one starts every
  // REFRESH_MS, however many events arrive, so a crash loop or a burst of
  // spawns costs a few requests a second, not one per event. While the
  // page is hidden nothing is fetched (unless now is set, as a resync
  // does); the job is fetched when the page shows again.
  function refreshJob(name, now = false) {
    const j = jobs.get(name);
    if (!j) return Promise.resolve();
    j.dirty = true;
    j.force = j.force || now;
    const p = new Promise((resolve) => j.waiters.push(resolve));
    pump(j);
    return p;
  }

  function pump(j) {
    if (!j.dirty || j.fetching || j.timer) return;
    if (document.hidden && !j.force) return; // visibilitychange pumps it
    const wait = j.lastFetch + REFRESH_MS - performance.now();
    if (wait > 0) {
      j.timer = setTimeout(() => { j.timer = null; pump(j); }, wait);
      return;
    }
    j.dirty = j.force = false;
    j.lastFetch = performance.now();
    const waiters = j.waiters.splice(0);
    j.fetching = fetchJob(j).finally(() => {
      j.fetching = null;
      for (const r of waiters) r();
      if (jobs.get(j.name) === j) pump(j);
    });
  }

  async function fetchJob(j) {
    try {
      const info = await api('GET', jobPath(j.name));
      if (jobs.get(j.name) !== j || !info) return;
      j.info = info;
      for (const s of info.slots || []) {
        if (!s.pid) continue;
        if (!j.exited.has(s.pid)) j.live.add(s.pid);
        j.pidSlot.set(s.pid, s.slot);
        if (s.os_pid) j.osPids.set(s.pid, s.os_pid);
      }
      for (const pid of info.processes || []) if (!j.exited.has(pid)) j.live.add(pid);
      renderJob(j);
    } catch (e) {
      if (e.status === 404) { removeJob(j.name); return; }
      showError(`Refreshing ${j.name}`, e);
    }
  }

  function refreshHidden() {
    if (document.hidden) return;
    for (const j of jobs.values()) pump(j);
    tick();
  }

  function jobByPid(pid) {
    for (const j of jobs.values()) {
      if (j.live.has(pid) || j.pidSlot.has(pid)) return j;
    }
    return null;
  }

  function onEvent(d) {
    feed.add(d);
    const type = d.event;
    const name = d.name;
    if (!name) return;
    if (type === 'unload') { removeJob(name); return; }
    let j = jobs.get(name);
    if (!j) {
      if (!order.includes(name)) order.push(name);
      j = ensureJob(name);
      renderOrder();
    }
    const pid = d.pid;
    switch (type) {
      case 'spawn':
        if (pid) {
          j.live.add(pid);
          j.pidSlot.set(pid, Number(d.slot) || 0);
          if (d.slot) j.startErrors.delete(d.slot);
          if (d.os_pid) j.osPids.set(pid, d.os_pid);
          logs.onSpawn(j.name, pid);
        }
        break;
      case 'exit':
        if (pid) {
          j.live.delete(pid);
          j.stats.delete(pid);
          j.pidSlot.delete(pid);
          j.exited.add(pid);
          if (j.exited.size > 2000) j.exited.delete(j.exited.values().next().value);
          logs.onExit(pid);
        }
        break;
      case 'spawn_error':
        if (d.slot) j.startErrors.set(d.slot, {at: Date.now() / 1000, reason: d.reason || 'cannot start'});
        break;
      case 'update_failed':
        toast(`${name}: the rolling replacement stopped at ${slotName(j, d.slot)}${d.reason ? ': ' + d.reason : ''}`, 'error');
        break;
      default:
        break;
    }
    if (d.slot && NOTE_EVENTS.has(type)) {
      const wait = type === 'backoff' ? d.delay : type === 'flap' ? d.retry_in : 0;
      j.notes.set(d.slot, {
        event: type,
        at: Date.now() / 1000,
        reason: d.reason || '',
        due: typeof wait === 'number' && wait > 0 ? Date.now() / 1000 + wait : 0,
      });
    }
    if (QUIET_EVENTS.has(type)) return;
    renderJob(j);
    refreshJob(name);
  }

  function onStats(d, topic) {
    let list;
    if (Array.isArray(d.stats)) list = d.stats;
    else if (d.stats && typeof d.stats === 'object') list = [Object.assign({pid: d.pid, os_pid: d.os_pid}, d.stats)];
    else list = [d];
    let name = d.name;
    if (!name && topic.startsWith('STATS:') && topic.includes('.')) name = topic.slice(6);
    const touched = new Set();
    for (const s of list) {
      const pid = Number(s.pid);
      if (!pid) continue;
      const j = (name && jobs.get(name)) || jobByPid(pid);
      if (!j || j.exited.has(pid)) continue;
      j.stats.set(pid, s);
      if (s.os_pid) j.osPids.set(pid, s.os_pid);
      j.live.add(pid);
      touched.add(j);
    }
    for (const j of touched) renderJob(j);
  }

  // ---------------------------------------------------------- rendering

  function srOnly(text) {
    return h('span', {class: 'sr-only'}, text);
  }

  function slotName(j, n) {
    return n ? `${j.short}.${n}` : `${j.short} (one-off)`;
  }

  // setBadge shows a state as a coloured badge; the text says it too.
  function setBadge(el, state) {
    if (el.dataset.state === state) return;
    el.dataset.state = state;
    el.textContent = stateLabel(state);
  }

  // writable enables a control that changes state, unless the token is
  // read-only.
  function writable(el, enabled) {
    el.disabled = readOnly || !enabled;
  }

  function buildJob(j) {
    const f = j.f;
    f.toggle = h('button', {class: 'toggle', type: 'button', 'data-action': 'toggle', 'aria-label': 'Hide slots', 'aria-expanded': 'true'}, icon('chevron'));
    f.state = h('span', {class: 'badge', 'data-field': 'state', 'data-state': 'unknown'}, '…');
    f.ready = h('span', {'data-field': 'ready'}, '–');
    f.restarts = h('span', {'data-field': 'restarts'}, '–');
    f.cpu = h('span', {'data-field': 'cpu'}, '–');
    f.mem = h('span', {'data-field': 'mem'}, '–');
    f.numprocesses = h('span', {class: 'stepper-value', 'data-field': 'numprocesses', title: 'wanted processes'}, '–');
    f.start = button('start', 'Start', {icon: 'play', cls: 'start', write: true});
    f.stop = button('stop', 'Stop', {icon: 'stop', cls: 'danger-hover', write: true});
    f.restart = button('restart', 'Restart', {icon: 'restart', write: true, title: 'Restart: replace the processes one slot at a time, each new one ready before the next slot (rolling)'});
    f.reload = button('reload', 'Reload', {icon: 'reload', write: true, title: 'Reload: replace every process gracefully (rolling)'});
    f.down = button('scale-down', '−1', {icon: 'minus', iconOnly: true, cls: 'icon-only', write: true, title: 'Scale down by one'});
    f.up = button('scale-up', '+1', {icon: 'plus', iconOnly: true, cls: 'icon-only', write: true, title: 'Scale up by one'});
    f.logs = button('logs', 'Logs', {icon: 'logs', title: 'Show the output of every process of this job'});
    f.scaleTo = h('input', {class: 'input num-input', type: 'number', min: '0', step: '1', inputmode: 'numeric', 'data-field': 'scale-to', 'data-write': true, 'aria-label': 'Number of processes', placeholder: 'n'});
    f.signal = signalSelect('signal');
    f.cmd = h('code', {class: 'cmd', 'data-field': 'cmd'});
    f.flap = h('span', {class: 'flap-note', 'data-field': 'flapping', hidden: true});
    f.wait = h('p', {class: 'wait-note', 'data-field': 'waiting-for', hidden: true});
    f.slotBody = h('tbody', {});
    const col = (label, cls) => h('th', {scope: 'col', class: cls}, label);
    f.slotTable = h('table', {class: 'slots', 'data-field': 'slots'},
      h('caption', {class: 'sr-only'}, `Slots and processes of ${j.name}`),
      h('colgroup', {}, ['name', 'state', 'pid', 'restarts', 'exit', 'since', 'cpu', 'mem', 'actions'].map((c) => h('col', {class: 'c-' + c}))),
      h('thead', {}, h('tr', {},
        col('Slot'), col('State'), col('PID'), col('Restarts', 'num'), col('Last exit'),
        col('In state', 'num'), col('CPU', 'num'), col('Memory', 'num'),
        h('th', {scope: 'col'}, srOnly('Actions')))),
      f.slotBody);

    f.body = h('div', {class: 'job-body'},
      f.wait,
      h('div', {class: 'slots-wrap'}, f.slotTable),
      h('div', {class: 'job-tools'},
        h('form', {class: 'tool', 'data-form': 'scale-to'},
          h('label', {}, h('span', {class: 'tool-label'}, 'Scale to'), f.scaleTo),
          button('scale-to', 'Set', {submit: true, cls: 'small', write: true, title: 'Set the number of processes'})),
        h('form', {class: 'tool', 'data-form': 'signal'},
          h('label', {}, h('span', {class: 'tool-label'}, 'Signal'), f.signal),
          button('signal', 'Send', {submit: true, icon: 'bolt', cls: 'small', write: true, title: 'Send the signal to every process of the job'})),
        button('commit', 'Commit', {icon: 'commit', cls: 'small', write: true, title: 'Run the job once more, never restarted (commit)'}),
        f.cmd));

    const nameId = 'job-name-' + (++jobSeq);
    const row = h('div', {class: 'job-row'},
      f.toggle,
      h('h4', {class: 'job-name', id: nameId},
        h('span', {class: 'session'}, j.session + '.'), h('strong', {}, j.short), f.flap),
      h('span', {class: 'cell-state'}, srOnly('State: '), f.state),
      h('span', {class: 'num', title: 'ready slots / wanted'}, srOnly('Ready: '), f.ready),
      h('span', {class: 'num', title: 'respawns after a crash, since the job was loaded'}, srOnly('Restarts: '), f.restarts),
      h('span', {class: 'num'}, srOnly('CPU: '), f.cpu),
      h('span', {class: 'num'}, srOnly('Memory: '), f.mem),
      h('div', {class: 'actions', role: 'group', 'aria-label': `Actions on ${j.name}`},
        f.start, f.stop, f.restart, f.reload,
        h('span', {class: 'stepper'}, f.down, f.numprocesses, f.up),
        f.logs));

    f.row = row;
    const el = h('article', {class: 'job', 'data-job': j.name, 'data-state': 'unknown', 'aria-labelledby': nameId}, row, f.body);
    setExpanded(j, !collapsed.has(j.name), el);
    applyReadOnly(el);
    return el;
  }

  function setExpanded(j, open, el = j.el) {
    el.classList.toggle('collapsed', !open);
    j.f.toggle.setAttribute('aria-expanded', String(open));
    j.f.toggle.setAttribute('aria-label', open ? `Hide the slots of ${j.name}` : `Show the slots of ${j.name}`);
    if (open) collapsed.delete(j.name); else collapsed.add(j.name);
    saveSet(COLLAPSED_KEY, collapsed);
  }

  // procPids are the pids of the job's live processes: its slots' and
  // the others (commits), oldest first.
  function procPids(j) {
    const set = new Set();
    for (const s of (j.info && j.info.slots) || []) if (s.pid && !j.exited.has(s.pid)) set.add(s.pid);
    for (const p of j.live) if (!j.exited.has(p)) set.add(p);
    return [...set].sort((a, b) => a - b);
  }

  function renderJob(j) {
    const f = j.f;
    const info = j.info;
    if (info) {
      const state = info.state || (info.active ? 'running' : 'stopped');
      if (j.el.dataset.state !== state) j.el.dataset.state = state;
      setBadge(f.state, state);
      const wanted = info.numprocesses;
      const ready = info.ready ?? (info.slots || []).filter((s) => s.ready).length;
      f.ready.replaceChildren(String(ready), h('span', {class: 'dim'}, '/' + wanted));
      f.ready.dataset.ready = ready;
      f.ready.dataset.wanted = wanted;
      f.restarts.textContent = String(info.restarts ?? 0);
      f.restarts.parentElement.classList.toggle('hot', (info.restarts || 0) > 0);
      f.numprocesses.textContent = wanted;
      const settled = info.active && ['running', 'starting', 'waiting'].includes(state);
      writable(f.start, !settled);
      writable(f.stop, info.active || procPids(j).length > 0);
      writable(f.restart, true);
      writable(f.reload, true);
      writable(f.down, wanted > 0);
      writable(f.up, true);
      if (document.activeElement !== f.scaleTo) f.scaleTo.placeholder = String(wanted);
      const cfg = info.config || {};
      const cmd = [cfg.cmd, ...(cfg.args || []).map(quoteArg)].filter(Boolean).join(' ');
      if (f.cmd.textContent !== cmd) { f.cmd.textContent = cmd; f.cmd.title = cmd; }
      const fl = info.flapping || {};
      if (fl.state === 'flapping' && fl.retries) {
        f.flap.hidden = false;
        f.flap.textContent = `retry ${fl.retries}`;
        f.flap.title = `flapping: retry ${fl.retries} of max_retry`;
      } else {
        f.flap.hidden = true;
      }
      renderWaiting(j);
    }
    const pids = procPids(j);
    let cpu = 0, rss = 0, have = false;
    for (const pid of pids) {
      const s = j.stats.get(pid);
      if (s && typeof s.cpu === 'number') { cpu += s.cpu; have = true; }
      if (s && typeof s.rss === 'number') { rss += s.rss; have = true; }
    }
    f.cpu.textContent = have ? fmtPct(cpu) : '–';
    f.mem.textContent = have ? fmtBytes(rss) : '–';
    // The one-line summary the narrow layout shows instead of columns.
    if (info) {
      f.row.dataset.metrics = `${f.ready.textContent} ready · ${info.restarts ?? 0} restart${info.restarts === 1 ? '' : 's'}` +
        (have ? ` · CPU ${f.cpu.textContent} · ${f.mem.textContent}` : '');
    }
    renderSlots(j);
    renderSummary();
    renderDependents(j.name);
  }

  const CONDITIONS = {started: 'to start', ready: 'to be ready', completed: 'to complete'};

  // renderWaiting says what a waiting job waits for, and where each
  // dependency stands now when the page knows it.
  function renderWaiting(j) {
    const f = j.f;
    const list = (j.info && j.info.waiting_for) || [];
    f.wait.hidden = list.length === 0;
    if (!list.length) { f.wait.replaceChildren(); return; }
    const parts = [h('strong', {}, 'Waiting for ')];
    list.forEach((dep, i) => {
      if (i) parts.push(i === list.length - 1 ? ' and ' : ', ');
      const other = jobs.get(dep.name);
      const now = other && other.info ? other.info.state : null;
      parts.push(h('code', {class: 'dep', 'data-dep': dep.name, 'data-condition': dep.condition}, dep.name),
        ' ' + (CONDITIONS[dep.condition] || dep.condition) + ' ',
        now ? h('span', {class: 'dep-now'}, '(now ', h('span', {class: 'badge small', 'data-state': now}, stateLabel(now)), ')')
          : h('span', {class: 'dep-now muted'}, '(not loaded)'));
    });
    f.wait.replaceChildren(...parts);
  }

  // renderDependents redraws the waiting notes that mention a job.
  function renderDependents(name) {
    for (const k of jobs.values()) {
      if (k.info && (k.info.waiting_for || []).some((d) => d.name === name)) renderWaiting(k);
    }
  }

  function quoteArg(a) {
    return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${String(a).replace(/'/g, `'\\''`)}'`;
  }

  // buildSlot makes a slot's row (n > 0) or the row of a process outside
  // the slots (n = 0, pid given: a commit).
  function buildSlot(j, n, pid) {
    const r = {
      name: h('th', {scope: 'row', class: 'slot-name', 'data-field': 'slot-name'}, n ? slotName(j, n) : `${j.short} #${pid}`),
      state: h('span', {class: 'badge', 'data-field': 'slot-state'}),
      note: h('span', {class: 'slot-note', 'data-field': 'note'}),
      os: h('span', {class: 'os-pid', 'data-field': 'os-pid'}),
      pid: h('span', {class: 'int-pid', 'data-field': 'pid'}),
      restarts: h('td', {class: 'num', 'data-field': 'restarts', 'data-label': 'Restarts'}),
      exit: h('td', {class: 'cell-exit', 'data-field': 'last-exit', 'data-label': 'Last exit'}),
      since: h('td', {class: 'num', 'data-field': 'since', 'data-label': 'In state'}),
      cpu: h('td', {class: 'num', 'data-field': 'cpu', 'data-label': 'CPU'}, '–'),
      mem: h('td', {class: 'num', 'data-field': 'mem', 'data-label': 'Memory'}, '–'),
      signal: signalSelect('proc-signal'),
      logs: button('proc-logs', 'Logs', {icon: 'logs', iconOnly: true, cls: 'icon-only'}),
      send: button('proc-signal', 'Send', {submit: true, icon: 'bolt', iconOnly: true, cls: 'icon-only', write: true}),
      stop: button('proc-stop', 'Stop', {icon: 'stop', iconOnly: true, cls: 'icon-only danger-hover', write: true}),
    };
    const el = h('tr', {class: 'slot', 'data-slot': n},
      r.name,
      h('td', {class: 'cell-state', 'data-label': 'State'}, r.state, r.note),
      h('td', {class: 'cell-pid', 'data-label': 'PID'}, r.os, r.pid),
      r.restarts, r.exit, r.since, r.cpu, r.mem,
      h('td', {class: 'actions'},
        r.logs,
        h('form', {class: 'tool inline', 'data-form': 'proc-signal'}, r.signal, r.send),
        r.stop));
    el._r = r;
    applyReadOnly(el);
    return el;
  }

  // fillSlot shows slot s (from the job's answer) in its row; s.pid null
  // when it has no process.
  function fillSlot(j, el, s) {
    const r = el._r;
    const pid = s.pid || 0;
    const label = el.dataset.slot === '0' ? r.name.textContent : slotName(j, s.slot);
    if (String(pid || '') !== (el.dataset.pid || '')) {
      if (pid) el.dataset.pid = pid; else delete el.dataset.pid;
      label2(r.logs, pid ? `Show the output of ${label} (process ${pid})` : `${label} has no process`);
      label2(r.send, `Send the signal to ${label}`);
      r.signal.setAttribute('aria-label', `Signal for ${label}`);
      label2(r.stop, `Stop the process of ${label} (the job starts a new one if it is below its count)`);
    }
    if (el.dataset.state !== s.state) el.dataset.state = s.state;
    setBadge(r.state, s.state);
    r.logs.disabled = !pid;
    writable(r.send, !!pid);
    writable(r.signal, !!pid);
    writable(r.stop, !!pid && s.state !== 'stopping');
    const os = s.os_pid || (pid && j.osPids.get(pid)) || 0;
    r.os.textContent = os ? String(os) : '–';
    r.os.title = os ? `operating system pid ${os}` : 'no process';
    r.pid.textContent = pid ? `#${pid}` : '';
    r.pid.title = pid ? `ganger pid ${pid}` : '';
    r.restarts.textContent = s.restarts === undefined ? '–' : String(s.restarts);
    r.restarts.classList.toggle('hot', s.restarts > 0);
    const note = s.slot ? j.notes.get(s.slot) : null;
    renderExit(j, r.exit, s.last_exit, s.slot ? j.startErrors.get(s.slot) : null);
    if (s.since) {
      r.since.dataset.since = s.since;
      r.since.title = `${stateLabel(s.state)} since ${fmtDateTime(s.since * 1000)}`;
    } else {
      delete r.since.dataset.since;
      r.since.title = '';
    }
    r.since.textContent = s.since ? fmtAge(s.since) : '–';
    // The reason of the slot's latest event, if it led to this state.
    r.state.title = note && note.reason && note.at >= (s.since || 0) - 1 ? note.reason : '';
    if (note && note.due && (s.state === 'backoff') && note.due > Date.now() / 1000) {
      r.note.dataset.due = note.due;
      r.note.textContent = dueText(note.due);
    } else {
      delete r.note.dataset.due;
      r.note.textContent = s.state === 'fatal' && note && note.event === 'giveup' ? 'gave up' : '';
    }
    const st = pid ? j.stats.get(pid) : null;
    r.cpu.textContent = st ? fmtPct(st.cpu) : '–';
    r.mem.textContent = st ? fmtBytes(st.rss) : '–';
    r.mem.title = st && typeof st.mem === 'number' ? `${st.mem.toFixed(1)}% of memory` : '';
  }

  // renderExit shows how a slot's last process ended: its code or signal,
  // the reason and when; a failure (not a user's stop, not a success
  // code) stands out. A failed start seen since then (a spawn_error
  // event: no such program, bad cwd) is shown instead, with its reason.
  function renderExit(j, cell, e, startError) {
    const failedStart = startError && (!e || startError.at >= e.time) ? startError : null;
    const key = failedStart ? `spawn_error/${failedStart.at}` : e ? `${e.exit_status}/${e.term_signal}/${e.reason}/${e.time}` : '';
    if (cell.dataset.key === key) return;
    cell.dataset.key = key;
    for (const k of ['exitStatus', 'termSignal', 'reason']) delete cell.dataset[k];
    cell.title = '';
    if (failedStart) {
      cell.dataset.reason = 'spawn_error';
      cell.classList.add('bad');
      cell.title = failedStart.reason;
      cell.replaceChildren(h('span', {class: 'exit-code'}, 'not started'),
        h('span', {class: 'exit-why'}, failedStart.reason.replace(/^starting \S+: /, '')));
      return;
    }
    if (!e) {
      cell.classList.remove('bad');
      cell.replaceChildren(h('span', {class: 'muted'}, '–'));
      return;
    }
    cell.dataset.exitStatus = e.exit_status;
    cell.dataset.termSignal = e.term_signal;
    cell.dataset.reason = e.reason || '';
    const codes = (j.info && j.info.config && j.info.config.success_exit_codes) || [0];
    const bad = e.reason !== 'stopped' && (e.term_signal > 0 || !codes.includes(e.exit_status));
    cell.classList.toggle('bad', bad);
    const what = e.term_signal ? signalName(e.term_signal) : `exit ${e.exit_status}`;
    const at = e.time ? h('time', {class: 'ago', 'data-ago': e.time, datetime: new Date(e.time * 1000).toISOString(), title: fmtDateTime(e.time * 1000)}, fmtAgo(e.time)) : null;
    cell.replaceChildren(
      h('span', {class: 'exit-code', title: e.term_signal ? `killed by signal ${e.term_signal}` : `exit status ${e.exit_status}`}, what),
      e.reason ? h('span', {class: 'exit-reason'}, e.reason) : null,
      at);
  }

  function renderSlots(j) {
    const body = j.f.slotBody;
    const slots = (j.info && j.info.slots) || [];
    const inSlots = new Set();
    const want = [];
    for (const s of slots) {
      let el = j.slotRows.get(s.slot);
      if (!el) { el = buildSlot(j, s.slot); j.slotRows.set(s.slot, el); }
      if (s.pid) inSlots.add(s.pid);
      fillSlot(j, el, s);
      want.push(el);
    }
    const keep = new Set(slots.map((s) => s.slot));
    for (const [n, el] of j.slotRows) if (!keep.has(n)) { el.remove(); j.slotRows.delete(n); }
    // Processes outside the slots: commits, whatever their spawn or stats
    // said. A process a spawn event put in a slot waits for the job's
    // answer to show it there.
    const extra = [];
    for (const pid of procPids(j)) {
      if (inSlots.has(pid) || (j.pidSlot.get(pid) || 0) > 0) continue;
      extra.push(pid);
    }
    const extraSet = new Set(extra);
    for (const [pid, el] of j.extraRows) if (!extraSet.has(pid)) { el.remove(); j.extraRows.delete(pid); }
    for (const pid of extra) {
      let el = j.extraRows.get(pid);
      if (!el) { el = buildSlot(j, 0, pid); j.extraRows.set(pid, el); }
      fillSlot(j, el, {slot: 0, pid, os_pid: j.osPids.get(pid), state: 'commit', since: 0, last_exit: null});
      want.push(el);
    }
    // Move nodes only when the order changed, so focus stays put.
    let prev = null;
    for (const el of want) {
      const at = prev ? prev.nextSibling : body.firstChild;
      if (at !== el) body.insertBefore(el, at);
      prev = el;
    }
    j.f.slotTable.hidden = want.length === 0;
  }

  function renderOrder() {
    const root = $('#jobs');
    const bySession = new Map();
    for (const name of order) {
      const j = jobs.get(name);
      if (!j) continue;
      if (!bySession.has(j.session)) bySession.set(j.session, []);
      bySession.get(j.session).push(j);
    }
    const groups = [];
    for (const [session, list] of bySession) {
      let g = root.querySelector(`:scope > [data-session="${CSS.escape(session)}"]`);
      if (!g) {
        g = h('section', {class: 'session', 'data-session': session},
          h('h3', {class: 'session-title'}, h('span', {}, session), h('span', {class: 'count'})));
      }
      $('.count', g).textContent = `${list.length} job${list.length === 1 ? '' : 's'}`;
      const body = list.map((j) => j.el);
      // Move nodes only when the order changed, so focus and scroll stay put.
      const current = [...g.querySelectorAll(':scope > .job')];
      if (current.length !== body.length || current.some((el, i) => el !== body[i])) {
        for (const el of body) g.append(el);
      }
      groups.push(g);
    }
    for (const g of [...root.children]) if (!groups.includes(g)) g.remove();
    groups.forEach((g, i) => { if (root.children[i] !== g) root.insertBefore(g, root.children[i] || null); });
    $('#jobs-empty').hidden = order.length > 0;
    applyJobFilter();
    renderSummary();
  }

  // The states the summary counts, as they need attention.
  const ALERT_STATES = ['degraded', 'flapping', 'gave_up'];

  function renderSummary() {
    let procs = 0;
    const counts = {};
    for (const j of jobs.values()) {
      procs += procPids(j).length;
      const st = j.info && j.info.state;
      if (st) counts[st] = (counts[st] || 0) + 1;
    }
    const parts = [h('span', {}, `${jobs.size} job${jobs.size === 1 ? '' : 's'}`),
      h('span', {}, `${procs} process${procs === 1 ? '' : 'es'}`)];
    for (const st of ALERT_STATES) {
      if (counts[st]) parts.push(h('span', {class: 'badge', 'data-state': st}, `${counts[st]} ${stateLabel(st)}`));
    }
    $('#summary').replaceChildren(...parts);
  }

  function applyJobFilter() {
    const q = $('#job-filter').value.trim().toLowerCase();
    for (const g of $('#jobs').children) {
      let any = false;
      for (const el of g.querySelectorAll(':scope > .job')) {
        const show = !q || el.dataset.job.toLowerCase().includes(q);
        el.hidden = !show;
        any = any || show;
      }
      g.hidden = !any;
    }
  }

  // tick updates the durations and countdowns shown, once a second.
  function tick() {
    if (document.hidden) return;
    for (const el of document.querySelectorAll('[data-since]')) el.textContent = fmtAge(Number(el.dataset.since));
    for (const el of document.querySelectorAll('[data-ago]')) el.textContent = fmtAgo(Number(el.dataset.ago));
    for (const el of document.querySelectorAll('[data-due]')) {
      const due = Number(el.dataset.due);
      if (due > Date.now() / 1000) el.textContent = dueText(due);
      else { delete el.dataset.due; el.textContent = ''; }
    }
  }

  // ------------------------------------------------------------ actions

  // readOnly is set once the daemon refused an action because the token
  // may only read (403): every control that changes state is then
  // disabled, and the top bar says why.
  let readOnly = false;

  function applyReadOnly(root) {
    if (!readOnly) return;
    for (const el of root.querySelectorAll('[data-write]')) el.disabled = true;
  }

  function setReadOnly(on, reason) {
    if (readOnly === on) return;
    readOnly = on;
    document.body.dataset.readonly = on ? 'true' : 'false';
    const note = $('#readonly-note');
    note.hidden = !on;
    note.title = on ? `The daemon refused an action${reason ? ': ' + reason : ''}. Use an admin token to act.` : '';
    if (on) applyReadOnly(document);
    else for (const j of jobs.values()) { for (const el of j.el.querySelectorAll('[data-write]')) el.disabled = false; renderJob(j); }
  }

  const JOB_ACTIONS = {
    start: {verb: 'Starting', run: (n) => api('POST', jobPath(n) + '/state', {action: 'start'})},
    stop: {verb: 'Stopping', run: (n) => api('POST', jobPath(n) + '/state', {action: 'stop'})},
    restart: {verb: 'Restarting', run: (n) => api('POST', jobPath(n) + '/state', {action: 'restart'})},
    reload: {verb: 'Reloading', run: (n) => api('POST', jobPath(n) + '/state', {action: 'reload'})},
    'scale-up': {verb: 'Scaling up', run: (n) => api('POST', jobPath(n) + '/numprocesses', {scale: '+1'})},
    'scale-down': {verb: 'Scaling down', run: (n) => api('POST', jobPath(n) + '/numprocesses', {scale: '-1'})},
    'scale-to': {verb: 'Scaling', run: (n, j) => {
      const v = j.f.scaleTo.value.trim();
      if (!/^\d+$/.test(v)) return Promise.reject(new ApiError(400, 'bad_request', 'type a whole number of processes (0 or more)'));
      return api('POST', jobPath(n) + '/numprocesses', {scale: '=' + v}).then((r) => { j.f.scaleTo.value = ''; return r; });
    }},
    signal: {verb: 'Signalling', run: (n, j) => api('POST', jobPath(n) + '/signal', {signal: j.f.signal.value})},
    commit: {verb: 'Committing', run: (n) => api('POST', jobPath(n) + '/commit').then((r) => {
      if (r && r.pid) toast(`${n}: one-off run started as process #${r.pid}`, 'info');
      return r;
    })},
  };

  const PROC_ACTIONS = {
    'proc-stop': {verb: 'Stopping', run: (pid) => api('DELETE', String(pid))},
    'proc-signal': {verb: 'Signalling', run: (pid, row) => api('POST', `${pid}/signal`, {signal: row._r.signal.value})},
  };

  async function runAction(btn, what, fn, after) {
    if (btn) { btn.disabled = true; btn.setAttribute('aria-busy', 'true'); }
    try {
      await fn();
    } catch (e) {
      if (e && e.status === 403) setReadOnly(true, e.reason);
      showError(what, e);
    } finally {
      if (btn) { btn.removeAttribute('aria-busy'); btn.disabled = readOnly && 'write' in btn.dataset; }
      if (after) after();
    }
  }

  function onJobsClick(ev) {
    const btn = ev.target.closest('[data-action]');
    if (!btn || btn.type === 'submit') return;
    dispatch(btn);
  }

  function onJobsSubmit(ev) {
    ev.preventDefault();
    const btn = ev.submitter || ev.target.querySelector('[data-action]');
    if (btn) dispatch(btn);
  }

  function dispatch(btn) {
    if (btn.disabled) return;
    const action = btn.dataset.action;
    const jobEl = btn.closest('[data-job]');
    if (!jobEl) return;
    const j = jobs.get(jobEl.dataset.job);
    if (!j) return;
    if (action === 'toggle') { setExpanded(j, j.el.classList.contains('collapsed')); return; }
    if (action === 'logs') { logs.open(j.name, null, true); return; }
    const procEl = btn.closest('[data-pid]');
    const pid = procEl ? Number(procEl.dataset.pid) : 0;
    if (action === 'proc-logs') { if (pid) logs.open(j.name, pid, true); return; }
    if (PROC_ACTIONS[action]) {
      if (!pid) return;
      const a = PROC_ACTIONS[action];
      const label = procEl.dataset.slot && procEl.dataset.slot !== '0' ? slotName(j, Number(procEl.dataset.slot)) : `#${pid}`;
      runAction(btn, `${a.verb} ${label} (process #${pid})`, () => a.run(pid, procEl), () => refreshJob(j.name));
      return;
    }
    const a = JOB_ACTIONS[action];
    if (!a) return;
    runAction(btn, `${a.verb} ${j.name}`, () => a.run(j.name, j), () => refreshJob(j.name));
  }

  // --------------------------------------------------------------- logs

  // The log view follows one job (all its processes) or one process. It
  // subscribes to STREAM:<pid> for each followed pid, buffers what arrives
  // until the recent lines are fetched, then appends live output.
  const logs = {
    target: null,            // {job, pid}
    subs: new Set(),         // STREAM:<pid> topics we hold
    catching: new Map(),     // pid -> chunks buffered while recent lines load
    partial: new Map(),      // "pid stream" -> unterminated text
    partialTimer: null,
    queue: [],               // lines waiting to be appended
    flushTimer: null,
    follow: true,
    autoTop: 0,              // scrollTop after the last scrollToEnd
    unseen: 0,
    gen: 0,
    spawned: [],             // new pids waiting for one catch-up
    spawnTimer: null,

    view: null,

    init() {
      this.view = $('#log-view');
      this.view.addEventListener('scroll', () => {
        const v = this.view;
        const atBottom = v.scrollTop + v.clientHeight >= v.scrollHeight - 8;
        if (atBottom !== this.follow) {
          this.follow = atBottom;
          if (atBottom) this.unseen = 0;
          this.renderFollow();
        }
      }, {passive: true});
      $('#log-follow').addEventListener('click', () => this.scrollToEnd());
      $('#log-filter').addEventListener('input', () => this.applyFilter());
      $('#log-clear').addEventListener('click', () => {
        this.view.replaceChildren();
        this.unseen = 0;
        this.renderFollow();
      });
    },

    // open shows the output of a job (pid null) or of one of its processes.
    open(job, pid, fromUser) {
      this.target = {job, pid: pid || null};
      const hash = '#logs=' + encodeURIComponent(job) + (pid ? '/' + pid : '');
      if (location.hash !== hash) history.replaceState(null, '', hash);
      $('#log-target').textContent = pid ? `${job} · #${pid}` : job;
      $('#log-empty').hidden = true;
      $('#logs-section').dataset.target = job;
      for (const el of document.querySelectorAll('.job.viewing')) el.classList.remove('viewing');
      const j = jobs.get(job);
      if (j) j.el.classList.add('viewing');
      this.follow = true;
      this.view.replaceChildren();
      this.renderFollow();
      this.reload();
      if (fromUser && matchMedia('(max-width: 900px)').matches) $('#logs-section').scrollIntoView({behavior: 'smooth', block: 'start'});
    },

    pidsOf(job) {
      const j = jobs.get(job);
      return j ? procPids(j) : [];
    },

    // reload refetches the recent lines and (re)subscribes.
    async reload() {
      if (!this.target) return;
      const gen = ++this.gen;
      const {job, pid} = this.target;
      const pids = pid ? [pid] : this.pidsOf(job);
      for (const topic of [...this.subs]) {
        const p = Number(topic.slice(7));
        if (!pids.includes(p)) { unsubscribe(topic); this.subs.delete(topic); }
      }
      // The old lines stay until the new ones are in, so a reconnect does
      // not blank the view.
      this.queue = [];
      this.partial.clear();
      this.catching.clear();
      $('#logs-section').classList.remove('gone');
      $('#logs-section').classList.add('loading');
      await this.catchUp(pids, gen, true);
      if (gen === this.gen) $('#logs-section').classList.remove('loading');
    },

    // catchUp subscribes to pids, fetches the job's recent lines, shows
    // those of pids (all of the job's when all is set) and then what
    // arrived meanwhile, without the lines both contain.
    async catchUp(pids, gen, all) {
      const {job, pid: only} = this.target;
      for (const p of pids) this.catching.set(p, []);
      await Promise.all(pids.map((p) => this.sub(p)));
      let lines = [];
      try {
        const r = await api('GET', `${jobPath(job)}/logs?lines=${LOG_LINES}`);
        lines = Array.isArray(r) ? r : (r && r.lines) || [];
      } catch (e) {
        if (e.status === 404) this.markGone('unloaded');
        else showError(`Loading logs of ${job}`, e);
      }
      if (gen !== this.gen) return;
      if (all) {
        this.view.replaceChildren();
        this.unseen = 0;
      }
      const want = new Set(pids);
      const last = new Map();
      for (const l of lines) {
        if (only && l.pid !== only) continue;
        if (!all && !want.has(l.pid)) continue;
        this.push(l.pid, l.stream, stripCR(l.data), l.time);
        last.set(l.pid, stripCR(l.data));
      }
      for (const p of pids) {
        const chunks = this.catching.get(p) || [];
        this.catching.delete(p);
        let skip = last.has(p);
        const lastLine = last.get(p);
        // Lines already in the snapshot are dropped up to its last line.
        const pending = [];
        for (const c of chunks) pending.push(...this.split(c.pid, c.stream, c.text));
        let start = 0;
        if (skip) {
          const i = pending.findIndex((l) => l.text === lastLine);
          if (i >= 0) start = i + 1;
        }
        for (const l of pending.slice(start)) this.push(l.pid, l.stream, l.text);
      }
      this.flush();
    },

    sub(pid) {
      const topic = 'STREAM:' + pid;
      if (this.subs.has(topic)) return Promise.resolve(true);
      this.subs.add(topic);
      return subscribe(topic);
    },

    afterResync() {
      if (!this.target) {
        const m = /^#logs=([^/]+)(?:\/(\d+))?$/.exec(location.hash);
        if (m && jobs.has(decodeURIComponent(m[1]))) this.open(decodeURIComponent(m[1]), m[2] ? Number(m[2]) : null);
        else if (order.length) this.open(order[0], null);
        return;
      }
      if (jobs.has(this.target.job)) this.reload();
    },

    // onSpawn follows a new process of the followed job. Spawns of one
    // burst (a scale, a start) share one fetch, so lines stay in order.
    onSpawn(job, pid) {
      if (!this.target || this.target.job !== job || this.target.pid) return;
      this.spawned.push(pid);
      if (this.spawnTimer) return;
      this.spawnTimer = setTimeout(() => {
        const pids = this.spawned;
        this.spawned = [];
        this.spawnTimer = null;
        if (this.target && this.target.job === job) this.catchUp(pids, this.gen, false);
      }, 40);
    },

    onExit(pid) {
      const topic = 'STREAM:' + pid;
      if (!this.subs.has(topic)) return;
      if (this.target && this.target.pid === pid) this.markGone('exited');
      // Output may still be on its way; let it arrive, then let go.
      setTimeout(() => {
        if (this.target && this.target.pid === pid) return; // keep a single-process view
        if (this.subs.delete(topic)) unsubscribe(topic);
      }, 3000);
    },

    markGone(why) {
      $('#logs-section').classList.add('gone');
      const t = this.target;
      $('#log-target').textContent = t ? `${t.job}${t.pid ? ' · #' + t.pid : ''} (${why})` : '';
    },

    ingest(pid, stream, text) {
      if (!this.target || !this.subs.has('STREAM:' + pid)) return;
      if (this.target.pid && this.target.pid !== pid) return;
      const c = this.catching.get(pid);
      if (c) { c.push({pid, stream, text}); return; }
      for (const l of this.split(pid, stream, text)) this.push(l.pid, l.stream, l.text);
      this.scheduleFlush();
    },

    // split cuts a chunk into complete lines, keeping an unterminated tail
    // per (pid, stream) that is shown after PARTIAL_MS of silence.
    split(pid, stream, text) {
      const key = pid + ' ' + stream;
      const buf = (this.partial.get(key) || '') + text;
      const parts = buf.split('\n');
      const tail = parts.pop();
      if (tail) this.partial.set(key, tail); else this.partial.delete(key);
      if (this.partial.size) {
        clearTimeout(this.partialTimer);
        this.partialTimer = setTimeout(() => this.flushPartial(), PARTIAL_MS);
      }
      return parts.map((t) => ({pid, stream, text: stripCR(t)}));
    },

    flushPartial() {
      for (const [key, text] of this.partial) {
        const [pid, stream] = key.split(' ');
        this.push(Number(pid), stream, text);
      }
      this.partial.clear();
      this.flush();
    },

    push(pid, stream, text, time) {
      this.queue.push({pid, stream, text, time: time ? new Date(time) : new Date()});
    },

    scheduleFlush() {
      if (this.flushTimer) return;
      this.flushTimer = setTimeout(() => this.flush(), 30);
    },

    flush() {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
      if (!this.queue.length) return;
      this.noticeScroll();
      const q = $('#log-filter').value.trim().toLowerCase();
      const frag = document.createDocumentFragment();
      const many = !this.target || !this.target.pid;
      for (const l of this.queue) {
        const el = h('div', {class: 'ln', 'data-log-pid': l.pid, 'data-stream': l.stream},
          h('span', {class: 'ln-time'}, fmtClock(l.time)),
          many ? h('span', {class: 'ln-pid p' + (l.pid % 8)}, '#' + l.pid) : null,
          h('span', {class: 'ln-text'}, l.text));
        el._t = l.text.toLowerCase();
        if (q && !el._t.includes(q)) el.hidden = true;
        frag.append(el);
      }
      const added = this.queue.length;
      this.queue = [];
      this.view.append(frag);
      let extra = this.view.childElementCount - LOG_MAX;
      while (extra-- > 0) this.view.firstElementChild.remove();
      if (this.follow) this.scrollToEnd();
      else { this.unseen += added; this.renderFollow(); }
    },

    // noticeScroll pauses following when the view was scrolled up since
    // we last scrolled it to the end, even if its scroll event has not been
    // dispatched yet: new lines must not yank it back down.
    noticeScroll() {
      const v = this.view;
      if (!this.follow || v.scrollTop >= this.autoTop - 8) return;
      if (v.scrollTop + v.clientHeight >= v.scrollHeight - 8) return; // still at the end
      this.follow = false;
      this.renderFollow();
    },

    scrollToEnd() {
      this.view.scrollTop = this.view.scrollHeight;
      this.autoTop = this.view.scrollTop;
      this.follow = true;
      this.unseen = 0;
      this.renderFollow();
    },

    renderFollow() {
      const b = $('#log-follow');
      b.hidden = this.follow;
      b.textContent = this.unseen ? `Paused · ${this.unseen} new line${this.unseen === 1 ? '' : 's'} ↓` : 'Paused · jump to latest ↓';
      $('#logs-section').dataset.follow = this.follow ? 'on' : 'off';
    },

    applyFilter() {
      const q = $('#log-filter').value.trim().toLowerCase();
      for (const el of this.view.children) el.hidden = !!q && !el._t.includes(q);
      if (this.follow) this.scrollToEnd();
    },
  };

  function stripCR(s) {
    s = String(s ?? '');
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  }

  function onStream(d, topic) {
    let pid = Number(d.pid);
    let stream = d.stream || d.label;
    if (!pid && topic.startsWith('STREAM:')) {
      const [p, label] = topic.slice(7).split('.');
      pid = Number(p);
      stream = stream || label;
    }
    if (!pid) return;
    const text = typeof d.data === 'string' ? d.data : '';
    logs.ingest(pid, stream || 'stdout', text);
  }

  // ------------------------------------------------------------ events

  // Topic patterns as in API.md: a dot-separated prefix, "*" for exactly
  // one segment, "" or "." for everything.
  function matches(pattern, topic) {
    pattern = pattern.trim();
    if (pattern === '' || pattern === '.') return true;
    const p = pattern.split('.');
    const t = topic.split('.');
    if (p.length > t.length) return false;
    return p.every((seg, i) => seg === '*' || seg === t[i]);
  }

  function topicsOf(d) {
    const out = [d.event];
    if (d.name) out.push(`job.${d.name}.${d.event}`);
    if (d.pid) out.push(`proc.${d.pid}.${d.event}`);
    if (d.topic && !out.includes(d.topic) && d.topic !== 'EVENTS') out.push(d.topic);
    return out;
  }

  const feed = {
    items: [],
    init() {
      $('#event-filter').addEventListener('input', () => this.render());
      $('#event-clear').addEventListener('click', () => { this.items = []; this.render(); });
    },
    mark(text) {
      this.items.push({mark: text, time: new Date(), topics: []});
      if (this.items.length > FEED_MAX) this.items.shift();
      this.render();
    },
    add(d) {
      const item = {d, time: new Date(), topics: topicsOf(d)};
      this.items.push(item);
      if (this.items.length > FEED_MAX) this.items.shift();
      const list = $('#event-feed');
      const pattern = $('#event-filter').value;
      if (item.topics.some((t) => matches(pattern, t))) {
        list.prepend(this.build(item));
        while (list.childElementCount > FEED_MAX) list.lastElementChild.remove();
      }
      this.renderCount();
    },
    build({d, time, mark}) {
      if (mark) {
        return h('li', {class: 'ev-mark'}, h('span', {}, `${fmtClock(time)} · ${mark}`));
      }
      const details = [];
      switch (d.event) {
        case 'spawn': case 'reap': case 'stop_process': case 'ready': case 'unready':
          if (d.os_pid) details.push(`os pid ${d.os_pid}`);
          break;
        case 'exit':
          details.push(d.term_signal ? signalName(d.term_signal) : `exit ${d.exit_status}`);
          if (d.reason && d.reason !== 'exited' && d.reason !== 'signal') details.push(d.reason);
          if (d.once) details.push('commit');
          break;
        case 'kill':
          details.push(signalName(d.signal));
          break;
        case 'scale':
          details.push(`→ ${d.numprocesses}`);
          break;
        case 'backoff':
          details.push(d.reason || `respawn in ${d.delay}s`);
          break;
        case 'flap':
          details.push(d.reason || `retry in ${d.retry_in}s`);
          break;
        case 'waiting':
          details.push('for ' + (d.waiting_for || []).map((w) => `${w.name} ${w.condition}`).join(', '));
          break;
        case 'spawn_error': case 'unhealthy': case 'update_failed': case 'giveup': case 'log_error':
          if (d.reason) details.push(d.reason);
          break;
        default:
          break;
      }
      const slot = d.slot ? `${splitName(d.name || '')[1]}.${d.slot}` : '';
      return h('li', {class: 'ev', 'data-event': d.event},
        h('time', {class: 'ev-time', datetime: time.toISOString()}, fmtClock(time)),
        h('span', {class: 'ev-type'}, d.event),
        h('span', {class: 'ev-body'},
          h('span', {class: 'ev-name'}, d.name || ''),
          slot ? h('span', {class: 'ev-slot'}, slot) : null,
          d.pid ? h('span', {class: 'ev-pid'}, '#' + d.pid) : null,
          details.length ? h('span', {class: 'ev-detail'}, details.join(' · ')) : null));
    },
    render() {
      const pattern = $('#event-filter').value;
      const frag = document.createDocumentFragment();
      for (let i = this.items.length - 1; i >= 0; i--) {
        const it = this.items[i];
        if (it.mark || it.topics.some((t) => matches(pattern, t))) frag.append(this.build(it));
      }
      $('#event-feed').replaceChildren(frag);
      this.renderCount();
    },
    renderCount() {
      const shown = $('#event-feed').querySelectorAll('.ev').length;
      const total = this.items.filter((it) => !it.mark).length;
      $('#event-count').textContent = total ? (shown === total ? String(shown) : `${shown} of ${total}`) : '';
      $('#event-empty').hidden = $('#event-feed').childElementCount > 0;
      $('#event-empty').textContent = total ? 'No event matches the pattern.' : 'Events appear here as they happen.';
    },
  };

  // -------------------------------------------------------------- setup

  // tokenFromURL takes a token given in the page's URL (`ganger start`
  // prints /ui/?token=…), keeps it like a typed one and drops it from the
  // address bar and the history.
  function tokenFromURL() {
    const url = new URL(location.href);
    const t = url.searchParams.get('token');
    if (t === null) return;
    if (t.trim()) setToken(t.trim());
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }

  function init() {
    tokenFromURL();
    logs.init();
    feed.init();
    const jobsEl = $('#jobs');
    jobsEl.addEventListener('click', onJobsClick);
    jobsEl.addEventListener('submit', onJobsSubmit);
    $('#job-filter').addEventListener('input', applyJobFilter);
    $('#reconnect-now').addEventListener('click', () => { chan.attempt = 0; connect(); });

    const dlg = $('#token-dialog');
    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('#token-input').value.trim();
      if (!t) return;
      setToken(t);
      setReadOnly(false);
      dlg.close();
      chan.attempt = 0;
      connect();
    });
    $('#token-cancel').addEventListener('click', () => dlg.close());
    $('#token-forget').addEventListener('click', () => {
      setToken('');
      setReadOnly(false);
      $('#token-input').value = '';
      dlg.close();
      connect();
    });
    $('#token-button').addEventListener('click', () => askToken(''));
    $('#token-button').hidden = !token();
    document.addEventListener('visibilitychange', refreshHidden);
    setInterval(tick, 1000);

    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
