// busywork console: polls the console's JSON API and draws the page. The
// Content-Security-Policy runs no inline script, so this file is all of
// it. Every string that comes from a job (types, errors, bodies) goes
// into the page as text, never as markup.
(() => {
  'use strict';

  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const token = meta('console-token');
  const refreshMS = Math.max(1000, Number(meta('console-refresh-ms')) || 5000);
  const taskPollMS = 1000;
  const autoRecountMS = 30000; // at most one automatic count a lane per this
  const num = new Intl.NumberFormat();
  const dec = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

  const state = {
    lanes: [],      // the last GET /api/lanes's lanes
    dead: {},       // lane -> its last dead-letter count, with .fetched
    counting: {},   // lane -> a count is under way
    tasks: {},      // lane -> its latest task
    polling: {},    // task id -> being polled
    open: {},       // row key -> the letters shown under it
  };

  // el makes an element: props set its class, text, data-*, listeners and
  // attributes; kids are elements or strings (text).
  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'data') Object.assign(e.dataset, v);
      else if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined && kid !== false) e.append(kid);
    return e;
  }

  const $ = (id) => document.getElementById(id);

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } };
    if (method === 'POST') {
      opts.headers['Content-Type'] = 'application/json';
      opts.headers['X-Console-Token'] = token;
      opts.body = JSON.stringify(body || {});
    }
    const resp = await fetch(path, opts);
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok) throw new Error((data && data.error) || `${resp.status} ${resp.statusText}`);
    return data;
  }

  // span formats seconds as "45s", "12m", "3h 5m", "4d 2h".
  function span(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m`;
    const h = Math.floor(m / 60);
    if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
    const d = Math.floor(h / 24);
    return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
  }
  const ago = (ms) => (ms ? `${span((Date.now() - ms) / 1000)} ago` : '–');
  const clock = (ms) => new Date(ms).toLocaleTimeString();
  const stamp = (ms) => new Date(ms).toLocaleString();
  const signed = (x) => (x > 0 ? '+' : x < 0 ? '−' : '') + dec.format(Math.abs(x));
  const laneClass = (name) => `s${state.lanes.findIndex((l) => l.name === name) % 3}`;

  function setStatus(text, cls) {
    const s = $('status');
    s.textContent = text;
    s.className = `status ${cls}`;
  }

  // ---- lanes, totals and chart, refreshed every refreshMS ----

  async function poll() {
    try {
      const v = await api('GET', '/api/lanes');
      state.lanes = v.lanes;
      drawTiles(v.lanes);
      drawLanes(v.lanes);
      drawChart(v);
      takeTasks(v.tasks || []);
      for (const l of v.lanes) countIfNeeded(l);
      setStatus(`live · updated ${clock(v.at)} · every ${span(v.interval_ms / 1000)}`, 'live');
    } catch (e) {
      setStatus(`cannot reach the console: ${e.message}`, 'down');
    }
    setTimeout(poll, refreshMS);
  }

  function drawTiles(lanes) {
    const sum = (f) => lanes.reduce((n, l) => n + f(l), 0);
    $('t-waiting').textContent = num.format(sum((l) => l.visible));
    $('t-flight').textContent = num.format(sum((l) => l.in_flight));
    const dead = sum((l) => l.dead);
    $('t-dead').textContent = num.format(dead);
    $('t-dead-tile').classList.toggle('alert', dead > 0);
    const fleets = lanes.map((l) => l.fleet).filter(Boolean);
    const measured = fleets.filter((f) => f.answered > 0);
    if (measured.length) {
      const f = fleets[0];
      $('t-rate-label').textContent = 'Jobs a second';
      $('t-rate').textContent = dec.format(sum((l) => (l.fleet ? l.fleet.succeeded : 0)));
      $('t-rate-sub').textContent = `succeeded; ${dec.format(sum((l) => (l.fleet ? l.fleet.failed : 0)))} failed · ${f.answered} of ${f.workers} workers`;
    } else {
      const nets = lanes.filter((l) => l.net_rate !== null && l.net_rate !== undefined);
      $('t-rate-label').textContent = 'Backlog a second';
      $('t-rate').textContent = nets.length ? signed(sum((l) => l.net_rate || 0)) : '–';
      $('t-rate-sub').textContent = fleets.length
        ? (fleets[0].error ? `no worker's metrics: ${fleets[0].error}` : 'measuring the workers…')
        : 'its change over the last minute (no worker metrics set)';
    }
  }

  function oldestText(o) {
    switch (o.kind) {
      case 'empty': return 'nothing waits';
      case 'under': return `under ${span(o.seconds)} (empty ${span(o.seconds)} ago)`;
      case 'over': return `over ${span(o.seconds)} (not empty since the console started)`;
      default: return '–';
    }
  }

  function backlogText(rate) {
    if (rate === null || rate === undefined) return 'measuring…';
    if (Math.abs(rate) < 0.05) return 'steady over the last minute';
    return `${signed(rate)} a second over the last minute (${rate > 0 ? 'growing' : 'draining'})`;
  }

  function rateText(l) {
    const f = l.fleet;
    if (!f) return null;
    if (f.answered === 0) return f.error ? `no worker answered: ${f.error}` : 'measuring…';
    return `${dec.format(f.succeeded)} a second succeeded, ${dec.format(f.failed)} failed (${f.answered} of ${f.workers} workers)`;
  }

  function drawLanes(lanes) {
    for (const l of lanes) {
      const card = $(`lane-${l.name}`);
      if (!card) continue;
      card.className = `lane ${laneClass(l.name)}`;
      const nums = el('dl', { class: 'nums' },
        el('div', {}, el('dt', { text: 'waiting' }), el('dd', { class: 'n-visible', text: num.format(l.visible) })),
        el('div', {}, el('dt', { text: 'in flight' }), el('dd', { class: 'n-flight', text: num.format(l.in_flight) })),
        el('div', {}, el('dt', { text: 'delayed' }), el('dd', { class: 'n-delayed', text: num.format(l.delayed) })),
        el('div', {}, el('dt', { text: 'dead letters' }), el('dd', { class: `n-dead${l.dead ? ' dead-some' : ''}`, text: num.format(l.dead) })));
      const facts = el('ul', { class: 'facts' },
        el('li', {}, el('b', { text: 'Oldest: ' }), oldestText(l.oldest)),
        el('li', {}, el('b', { text: 'Backlog: ' }), backlogText(l.net_rate)),
        rateText(l) && el('li', {}, el('b', { text: 'Workers: ' }), rateText(l)),
        l.error && el('li', { class: 'error', text: `Last sample failed: ${l.error}` }));
      card.replaceChildren(
        el('h3', { text: l.name }),
        el('p', { class: 'names' }, 'queue ', el('span', { class: 'mono', text: l.queue }), ' · DLQ ', el('span', { class: 'mono', text: l.dlq })),
        l.sampled ? nums : el('p', { class: 'muted', text: 'waiting for the first sample…' }),
        facts);
    }
  }

  const svgNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // niceMax rounds a chart's top up to 1, 2 or 5 times a power of ten.
  function niceMax(n) {
    if (n <= 4) return 4;
    const p = 10 ** Math.floor(Math.log10(n));
    for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
    return 10 * p;
  }

  let lastChart = null;
  function drawChart(v) {
    lastChart = v;
    const box = $('chart');
    const W = Math.max(240, box.clientWidth || 600);
    const H = window.matchMedia('(max-width: 720px)').matches ? 150 : 180;
    const left = 44; const right = 8; const top = 8; const bottom = 22;
    const end = v.at; const start = end - v.history_s * 1000;
    let top0 = 0;
    for (const l of v.lanes) for (const h of l.history) top0 = Math.max(top0, h[1] + h[2] + h[3]);
    const ymax = niceMax(top0);
    const x = (t) => left + ((t - start) / (end - start)) * (W - left - right);
    const y = (n) => top + (1 - n / ymax) * (H - top - bottom);
    const root = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}` });
    for (const f of [0, 0.5, 1]) {
      const n = ymax * f;
      root.append(svg('line', { class: 'grid', x1: left, x2: W - right, y1: y(n), y2: y(n) }));
      root.append(svg('text', { class: 'axis', x: left - 6, y: y(n) + 4, 'text-anchor': 'end' }, num.format(n)));
    }
    const narrow = W < 520;
    for (const m of [15, 10, 5, 0]) {
      const t = end - m * 60000;
      let label = `${m} min ago`;
      if (m === 0) label = 'now';
      else if (narrow) label = `−${m}m`;
      root.append(svg('text', { class: 'axis', x: x(t), y: H - 6, 'text-anchor': m === 15 ? 'start' : m === 0 ? 'end' : 'middle' }, label));
    }
    const legend = [];
    v.lanes.forEach((l) => {
      const cls = laneClass(l.name);
      const pts = l.history.filter((h) => h[0] >= start).map((h) => `${x(h[0]).toFixed(1)},${y(h[1] + h[2] + h[3]).toFixed(1)}`);
      if (pts.length === 1) pts.push(`${x(end).toFixed(1)},${pts[0].split(',')[1]}`);
      if (pts.length) root.append(svg('polyline', { class: `series ${cls}`, points: pts.join(' ') }));
      legend.push(el('li', { class: cls, text: `${l.name}: ${num.format(l.visible + l.in_flight + l.delayed)}` }));
    });
    box.replaceChildren(root);
    $('legend').replaceChildren(...legend);
  }
  window.addEventListener('resize', () => { if (lastChart) drawChart(lastChart); });

  // ---- dead letters ----

  function countIfNeeded(l) {
    const d = state.dead[l.name];
    if (state.counting[l.name] || activeTask(l.name)) return;
    if (!d) {
      if (l.dead === 0) {
        state.dead[l.name] = { lane: l.name, dlq: l.dlq, queue: l.queue, messages: 0, rows: [], counted_at: 0, fetched: Date.now(), uncounted: true };
        drawDead(l.name);
      } else {
        loadDead(l.name, false);
      }
      return;
    }
    if (l.dead !== d.messages && Date.now() - d.fetched > autoRecountMS) loadDead(l.name, true);
  }

  async function loadDead(lane, recount) {
    state.counting[lane] = true;
    drawDead(lane);
    try {
      const v = await api('GET', `/api/lanes/${encodeURIComponent(lane)}/dead-letters${recount ? '?recount=1' : ''}`);
      v.fetched = Date.now();
      state.dead[lane] = v;
      // The letters shown belong to the count before: read them again.
      for (const k of Object.keys(state.open)) if (k.startsWith(`${lane}\u0000`)) delete state.open[k];
    } catch (e) {
      const d = state.dead[lane] || { lane, rows: [], messages: 0 };
      d.problem = e.message;
      d.fetched = Date.now();
      state.dead[lane] = d;
    } finally {
      state.counting[lane] = false;
      drawDead(lane);
    }
  }

  function laneInfo(lane) {
    return state.lanes.find((l) => l.name === lane) || { name: lane, dlq: '', queue: '' };
  }

  function drawDead(lane) {
    const box = $(`dead-${lane}`);
    if (!box) return;
    const d = state.dead[lane];
    const info = laneInfo(lane);
    const task = state.tasks[lane];
    const busy = activeTask(lane);
    let counted = 'not counted yet';
    if (state.counting[lane]) counted = 'counting…';
    else if (d && d.counted_at) counted = `${num.format(d.messages)} counted at ${clock(d.counted_at)}`;
    else if (d && d.uncounted) counted = 'SQS counts none';
    const head = el('div', { class: 'dl-head' },
      el('h3', {}, `${lane} `, el('span', { class: 'queue mono', text: (d && d.dlq) || info.dlq })),
      el('span', { class: 'note counted', text: counted }),
      el('button', { type: 'button', class: 'recount', disabled: state.counting[lane] || busy, on: { click: () => loadDead(lane, true) } }, 'Recount'));
    const parts = [head];
    if (d && d.busy) parts.push(el('p', { class: 'note', text: d.busy }));
    if (d && d.problem) parts.push(el('p', { class: 'error', text: d.problem }));
    if (d && d.oldest) {
      const keep = d.retention_s ? `; the queue keeps a message ${span(d.retention_s)} from when it entered` : '';
      parts.push(el('p', { class: 'note', text: `Oldest dead letter ${ago(d.oldest)}${keep}.` }));
    }
    if (task) parts.push(drawTask(task));
    if (d && d.rows && d.rows.length) {
      parts.push(drawRows(lane, d, busy));
    } else if (d && !state.counting[lane] && !d.problem) {
      parts.push(el('p', { class: 'muted empty', text: `No dead letters in ${(d && d.dlq) || info.dlq}.` }));
    }
    box.replaceChildren(...parts);
  }

  function drawRows(lane, d, busy) {
    const body = el('tbody');
    d.rows.forEach((r, i) => {
      const id = `row-${lane}-${i}`;
      const key = rowKey(lane, r);
      const open = state.open[key];
      body.append(el('tr', { class: 'row', id, data: { lane, type: r.type, error: r.error } },
        el('td', { class: 'n', 'data-label': 'Messages', text: num.format(r.n) }),
        el('td', { class: 'type mono', 'data-label': 'Type', text: r.type_shown }),
        el('td', { class: 'err', 'data-label': 'Error', text: r.error_shown }),
        el('td', { class: 'age', 'data-label': 'Oldest', text: ago(r.oldest) }),
        el('td', { class: 'acts' },
          el('button', { type: 'button', class: 'bodies', 'aria-expanded': open ? 'true' : 'false', on: { click: () => toggleLetters(lane, r) } }, open ? 'Hide' : 'Bodies'),
          ' ',
          el('button', { type: 'button', class: 'replay primary', disabled: busy, on: { click: () => replay(lane, r) } }, 'Replay'),
          ' ',
          el('button', { type: 'button', class: 'purge danger', disabled: busy, on: { click: () => purge(lane, r) } }, 'Purge'))));
      if (open) body.append(el('tr', { class: 'detail', id: `${id}-letters` }, el('td', { colspan: 5 }, open)));
    });
    return el('table', { class: 'rows' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Messages' }), el('th', { text: 'Type' }), el('th', { text: 'Error' }),
        el('th', { text: 'Oldest' }), el('th', { text: 'Actions' }))),
      body);
  }

  const rowKey = (lane, r) => `${lane}\u0000${r.type}\u0000${r.error}`;

  async function toggleLetters(lane, r) {
    const key = rowKey(lane, r);
    if (state.open[key]) {
      delete state.open[key];
      drawDead(lane);
      return;
    }
    state.open[key] = el('p', { class: 'note', text: 'reading a few…' });
    drawDead(lane);
    try {
      const q = new URLSearchParams({ type: r.type, error: r.error, max: '5' });
      const v = await api('GET', `/api/lanes/${encodeURIComponent(lane)}/letters?${q}`);
      state.open[key] = v.letters.length
        ? el('ul', { class: 'letters' }, ...v.letters.map((l) => el('li', {},
          el('span', { class: 'note' }, `job ${l.job_id} · ${l.receive_count} receives · failed ${l.failed_at || 'by the redrive policy'}`),
          el('pre', { class: 'body', text: l.body }))))
        : el('p', { class: 'note', text: 'None left to show: they were moved or deleted meanwhile.' });
    } catch (e) {
      state.open[key] = el('p', { class: 'error', text: e.message });
    }
    if (state.open[key]) drawDead(lane);
  }

  // ---- replay and purge ----

  function confirmDialog({ title, text, rate, ok, danger }) {
    const dlg = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    const rateRow = $('confirm-rate-row');
    const rateInput = $('confirm-rate');
    rateRow.hidden = rate === undefined;
    rateInput.disabled = rate === undefined;
    if (rate !== undefined) rateInput.value = String(rate);
    const okButton = $('confirm-ok');
    okButton.textContent = ok;
    okButton.className = danger ? 'primary danger' : 'primary';
    dlg.returnValue = '';
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => resolve({ ok: dlg.returnValue === 'ok', rate: Number(rateInput.value) }), { once: true });
      dlg.showModal();
    });
  }

  function describeRow(lane, r) {
    const info = laneInfo(lane);
    return { info, what: `the ${num.format(r.n)} dead letters of type ${r.type_shown} that failed with “${r.error_shown}”` };
  }

  async function replay(lane, r) {
    const { info, what } = describeRow(lane, r);
    const c = await confirmDialog({
      title: `Replay ${num.format(r.n)} dead letters?`,
      text: `Send ${what} from ${info.dlq} back to ${info.queue}, at the rate below. Each is sent before it is deleted from the dead-letter queue, so none is lost; a job's id stays, so its handler runs it once. Other rows stay where they are.`,
      rate: 10, ok: 'Replay',
    });
    if (c.ok) start(lane, 'replay', { type: r.type, error: r.error, rate: c.rate, expected: r.n });
  }

  async function purge(lane, r) {
    const { info, what } = describeRow(lane, r);
    const c = await confirmDialog({
      title: `Purge ${num.format(r.n)} dead letters?`,
      text: `Delete ${what} from ${info.dlq}, for good: nobody can replay them afterwards. Other rows stay where they are.`,
      ok: 'Purge', danger: true,
    });
    if (c.ok) start(lane, 'purge', { type: r.type, error: r.error, expected: r.n });
  }

  async function start(lane, kind, body) {
    try {
      const t = await api('POST', `/api/lanes/${encodeURIComponent(lane)}/${kind}`, body);
      state.tasks[lane] = t;
      drawDead(lane);
      followTask(t.id);
    } catch (e) {
      state.tasks[lane] = { lane, kind, state: 'failed', message: `Not started: ${e.message}`, type_shown: body.type, error_shown: body.error };
      drawDead(lane);
    }
  }

  const isActive = (t) => t && (t.state === 'waiting' || t.state === 'running');
  const activeTask = (lane) => isActive(state.tasks[lane]);

  // takeTasks adopts the newest task of each lane from GET /api/lanes,
  // so that a reloaded page follows a task under way.
  function takeTasks(tasks) {
    const seen = {};
    for (const t of tasks) {
      if (seen[t.lane]) continue;
      seen[t.lane] = true;
      const mine = state.tasks[t.lane];
      if (!mine || (mine.id === t.id && mine.state !== t.state) || (mine.id !== t.id && (!mine.started || t.started >= mine.started))) {
        state.tasks[t.lane] = t;
        drawDead(t.lane);
      }
      if (isActive(t)) followTask(t.id);
    }
  }

  async function followTask(id) {
    if (state.polling[id]) return;
    state.polling[id] = true;
    try {
      for (;;) {
        const t = await api('GET', `/api/tasks/${encodeURIComponent(id)}`);
        state.tasks[t.lane] = t;
        drawDead(t.lane);
        if (!isActive(t)) {
          await loadDead(t.lane, false); // the console counted them again as the task ended
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, taskPollMS));
      }
    } catch (e) {
      setStatus(`lost track of a task: ${e.message}`, 'down');
    } finally {
      delete state.polling[id];
    }
  }

  function drawTask(t) {
    const verb = t.kind === 'replay' ? 'Replay' : 'Purge';
    const what = `${verb} of ${t.type_shown} · “${t.error_shown}”${t.rate ? ` at ${dec.format(t.rate)} a second` : ''}`;
    const box = el('div', { class: `task ${t.state}`, id: `task-${t.lane}`, data: { state: t.state } }, el('strong', { text: what }));
    if (isActive(t)) {
      const moved = t.kind === 'replay' ? 'moved' : 'deleted';
      const max = Math.max(t.expected, t.matched, 1);
      box.append(
        el('progress', { max, value: t.moved }),
        el('div', { class: 'note' }, t.state === 'waiting' ? 'waiting for the dead-letter queue…'
          : `${num.format(t.moved)} of ${num.format(t.expected || t.matched)} ${moved}; ${num.format(t.skipped)} others read and left`),
        el('button', { type: 'button', class: 'cancel', on: { click: () => api('POST', `/api/tasks/${encodeURIComponent(t.id)}/cancel`, {}).catch(() => {}) } }, 'Cancel'));
    } else {
      box.append(el('div', { class: 'result', text: t.message || t.state }));
      if (t.failures && t.failures.length) box.append(el('ul', {}, ...t.failures.map((f) => el('li', { class: 'mono', text: f }))));
    }
    return box;
  }

  // ---- groups ----

  function drawGroup(g) {
    const name = g.kind ? `${g.kind} ${g.id}` : `group ${g.id}`;
    const badges = el('div', { class: 'badges' });
    const badge = (text, cls) => badges.append(el('span', { class: `badge ${cls || ''}`, text }));
    if (g.follow_up_ran_at) {
      badge(`follow-up ran ${ago(g.follow_up_ran_at)}`, 'good');
    } else if (g.complete) {
      if (g.stall) badge('stalled', 'bad');
      if (g.follow_up_sent_at) badge(`follow-up enqueued ${ago(g.follow_up_sent_at)}, not run yet`);
      else if (!g.stall) badge(`complete ${ago(g.completed_at)}, follow-up not enqueued yet`);
    } else {
      badge('in progress');
    }
    if (g.failed.length) badge(`${num.format(g.failed.length)} failed`, 'bad');
    const card = el('article', { class: 'group', id: `group-${g.id}` },
      el('h3', { text: name }),
      g.title && el('p', { class: 'title', text: g.title }),
      el('progress', { max: Math.max(g.total, 1), value: g.done }),
      el('p', { class: 'note progress-text', text: `${num.format(g.done)} of ${num.format(g.total)} children done · started ${stamp(g.created_at)}${g.follow_up_type ? ` · follow-up ${g.follow_up_type}` : ''}` }),
      badges);
    if (g.failed.length) {
      const shown = g.failed.slice(0, 20);
      card.append(el('p', { text: 'Failed for good:' }),
        el('ul', { class: 'failed' }, ...shown.map((f) => el('li', {}, el('b', { text: `child ${f.child}: ` }), f.reason || '(no reason recorded)')),
          g.failed.length > shown.length && el('li', { class: 'muted', text: `and ${g.failed.length - shown.length} more` })));
    }
    if (g.stall) {
      const why = g.stall.follow_up_failed ? 'the follow-up failed for good'
        : `the follow-up could not be enqueued on the last receive of child ${g.stall.children.join(', ')}`;
      card.append(el('p', { class: 'stall' }, el('b', { text: `Stalled since ${stamp(g.stall.since)}: ` }), `${why}: ${g.stall.reason}`));
    }
    if (g.action) card.append(el('p', { class: 'action', text: g.action }));
    if (g.repairable) {
      card.append(el('p', {}, el('button', { type: 'button', class: 'repair primary', on: { click: () => repair(g) } }, 'Repair: enqueue the follow-up again')));
    }
    return card;
  }

  function groupsStatus(text, cls) {
    const s = $('groups-status');
    s.textContent = text;
    s.className = cls || 'note';
  }

  async function lookUp(ev) {
    ev.preventDefault();
    const id = $('group-id').value.trim();
    if (!id) return;
    groupsStatus('reading…');
    $('scan-more').hidden = true;
    try {
      const g = await api('GET', `/api/groups/${encodeURIComponent(id)}`);
      $('groups').replaceChildren(drawGroup(g));
      groupsStatus('');
    } catch (e) {
      $('groups').replaceChildren();
      groupsStatus(e.message, 'error');
    }
  }

  let scanned = 0;
  async function scan(cursor) {
    const more = $('scan-more');
    more.hidden = true;
    if (!cursor) {
      scanned = 0;
      $('groups').replaceChildren();
    }
    groupsStatus('scanning…');
    try {
      const v = await api('POST', '/api/groups/scan', { cursor });
      scanned += v.scanned;
      $('groups').append(...v.groups.map(drawGroup));
      const found = $('groups').children.length;
      groupsStatus(`Scanned ${num.format(scanned)} items${v.next ? ' so far' : ', the whole table'}: ${num.format(found)} groups want a look.`);
      if (v.next) {
        more.hidden = false;
        more.onclick = () => scan(v.next);
      }
    } catch (e) {
      groupsStatus(e.message, 'error');
    }
  }

  async function repair(g) {
    const c = await confirmDialog({
      title: `Repair group ${g.id}?`,
      text: `Enqueue its follow-up${g.follow_up_type ? ` (${g.follow_up_type})` : ''} again. It runs once however often it is enqueued, so this is safe beside a replay of the group's dead letters.`,
      ok: 'Repair',
    });
    if (!c.ok) return;
    try {
      const v = await api('POST', `/api/groups/${encodeURIComponent(g.id)}/repair`, {});
      const card = drawGroup(v.group);
      card.append(el('p', { class: 'note repaired', text: v.message }));
      const old = $(`group-${g.id}`);
      if (old) old.replaceWith(card);
    } catch (e) {
      groupsStatus(e.message, 'error');
    }
  }

  function init() {
    const form = $('group-form');
    if (form) form.addEventListener('submit', lookUp);
    const scanButton = $('scan-groups');
    if (scanButton) scanButton.addEventListener('click', () => scan(''));
    poll();
  }

  init();
})();
