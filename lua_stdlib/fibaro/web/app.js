// plua web UI: one card per emulated QuickApp (and child) with its UI rows, events sent to
// /api/plugins/callUIEvent, live updates over /ws/quickapps (reconnecting), a device table,
// an event log and an execute-code tab. Plain JS, no framework, no build step.
'use strict';

const LONG_PRESS_MS = 500;
const MAX_LOG = 300;
const $ = (sel, root = document) => root.querySelector(sel);
const cards = new Map(); // deviceID -> {entry, node, elements: Map(name -> updater)}
let eventCount = 0;

function make(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function toast(message) {
  const node = $('#toast');
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 4000);
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${(data && data.reason) || text}`);
  }
  return data;
}

function uiEvent(deviceID, elementName, eventType, values) {
  return api('POST', '/api/plugins/callUIEvent', { deviceID, elementName, eventType, values })
    .catch((e) => toast(e.message));
}

// HC3 label text may carry <br> and simple markup: shown as plain text with line breaks.
function plain(text) {
  return String(text ?? '').replace(/<br\s*\/?>/gi, '\n').replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

const truthy = (v) => v === true || v === 'true' || v === 1 || v === '1' || v === 'on';

function optionsOf(el, st) {
  const list = st.options ?? el.options ?? [];
  return Array.isArray(list) ? list : [];
}

// Each builder returns {node, update(state)}.
const builders = {
  label(id, el) {
    const node = make('div', { class: 'el-label', 'data-name': el.name });
    return { node, update(st) { node.textContent = plain(st.text ?? el.text ?? ''); } };
  },
  button(id, el) {
    const node = make('button', { class: 'el-button', type: 'button', 'data-name': el.name });
    let timer = null; let long = false; let down = false;
    const release = () => {
      if (!down) return;
      down = false; clearTimeout(timer); node.classList.remove('pressing');
      uiEvent(id, el.name, long ? 'onLongPressReleased' : 'onReleased', []);
    };
    node.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      down = true; long = false; node.classList.add('pressing');
      timer = setTimeout(() => { long = true; uiEvent(id, el.name, 'onLongPressDown', []); }, LONG_PRESS_MS);
    });
    node.addEventListener('pointerup', release);
    node.addEventListener('pointerleave', () => { if (down && long) release(); else { down = false; clearTimeout(timer); node.classList.remove('pressing'); } });
    node.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); uiEvent(id, el.name, 'onReleased', []); }
    });
    return { node, update(st) { node.textContent = plain(st.text ?? el.text ?? el.name); } };
  },
  switch(id, el) {
    const input = make('input', { type: 'checkbox', role: 'switch' });
    const caption = make('span');
    const node = make('label', { class: 'el-switch', 'data-name': el.name }, [input, caption]);
    input.addEventListener('change', () => uiEvent(id, el.name, 'onReleased', [input.checked]));
    return {
      node,
      update(st) { caption.textContent = plain(st.text ?? el.text ?? el.name); input.checked = truthy(st.value ?? el.value); },
    };
  },
  slider(id, el) {
    const input = make('input', { type: 'range' });
    const out = make('output');
    const caption = make('div', { class: 'caption' });
    const node = make('div', { 'data-name': el.name }, [caption, make('div', { class: 'el-slider' }, [input, out])]);
    input.addEventListener('input', () => { out.textContent = input.value; });
    input.addEventListener('change', () => uiEvent(id, el.name, 'onChanged', [Number(input.value)]));
    return {
      node,
      update(st) {
        input.min = st.min ?? el.min ?? 0; input.max = st.max ?? el.max ?? 100; input.step = st.step ?? el.step ?? 1;
        if (document.activeElement !== input || st.value !== undefined) input.value = st.value ?? el.value ?? input.min;
        out.textContent = input.value;
        const text = st.text ?? el.text;
        caption.textContent = plain(text ?? ''); caption.classList.toggle('hidden', !text);
      },
    };
  },
  select(id, el) {
    const select = make('select', { class: 'el-select' });
    const caption = make('div', { class: 'caption' });
    const node = make('div', { 'data-name': el.name }, [caption, select]);
    select.addEventListener('change', () => uiEvent(id, el.name, 'onToggled', [select.value]));
    return {
      node,
      update(st) {
        const text = st.text ?? el.text;
        caption.textContent = plain(text ?? ''); caption.classList.toggle('hidden', !text);
        const chosen = st.selectedItem ?? st.value ?? el.selectedItem;
        select.replaceChildren(make('option', { value: '', text: '—' }),
          ...optionsOf(el, st).map((o) => make('option', { value: String(o.value ?? o.text), text: plain(o.text ?? o.value) })));
        select.value = chosen === undefined || chosen === null ? '' : String(chosen);
      },
    };
  },
  multi(id, el) {
    const legend = make('legend');
    const box = make('fieldset', { class: 'el-multi', 'data-name': el.name }, [legend]);
    let boxes = [];
    const send = () => uiEvent(id, el.name, 'onToggled', [boxes.filter((b) => b.checked).map((b) => b.value)]);
    return {
      node: box,
      update(st) {
        legend.textContent = plain(st.text ?? el.text ?? el.name);
        const chosen = new Set((st.selectedItems ?? el.selectedItems ?? []).map(String));
        box.querySelectorAll('label').forEach((n) => n.remove());
        boxes = optionsOf(el, st).map((o) => {
          const value = String(o.value ?? o.text);
          const input = make('input', { type: 'checkbox', value });
          input.checked = chosen.has(value);
          input.addEventListener('change', send);
          box.append(make('label', {}, [input, document.createTextNode(plain(o.text ?? value))]));
          return input;
        });
      },
    };
  },
};

function renderCard(entry) {
  const elements = new Map();
  const state = (entry.ui && entry.ui.state) || {};
  const body = make('div', { class: 'card-body' });
  for (const row of (entry.ui && entry.ui.rows) || []) {
    const rowNode = make('div', { class: 'row' });
    for (const el of row) {
      const build = builders[el.type];
      if (!build) continue;
      const built = build(entry.id, el);
      const st = Object.assign({}, state[el.name] || {});
      const apply = () => { built.update(st); built.node.classList.toggle('hidden', st.visible === false || st.visible === 'false'); };
      apply();
      elements.set(el.name, { st, apply });
      rowNode.append(built.node);
    }
    body.append(rowNode);
  }
  if (!body.children.length) body.append(make('div', { class: 'empty', text: 'No UI elements' }));
  const value = make('span', { class: 'badge' });
  const node = make('article', { class: 'card' + (entry.parentId ? ' child' : ''), 'data-id': entry.id }, [
    make('div', { class: 'card-head' }, [
      make('div', {}, [
        make('div', { class: 'card-title', text: entry.name ?? `Device ${entry.id}` }),
        make('div', { class: 'card-sub', text: `#${entry.id} · ${entry.type ?? ''}${entry.parentId ? ` · child of #${entry.parentId}` : ''}` }),
      ]),
      value,
    ]),
    body,
  ]);
  const card = { entry, node, elements, value };
  showValue(card);
  return card;
}

function showValue(card) {
  const props = card.entry.properties || {};
  const v = props.value;
  card.value.textContent = v === undefined ? (props.state === undefined ? '' : String(props.state)) : (typeof v === 'object' ? JSON.stringify(v) : String(v));
  card.value.classList.toggle('hidden', card.value.textContent === '');
}

async function loadQuickApps() {
  try {
    const list = await api('GET', '/api/quickapps');
    const root = $('#cards');
    cards.clear();
    root.replaceChildren();
    for (const entry of list) {
      const card = renderCard(entry);
      cards.set(entry.id, card);
      root.append(card.node);
    }
    if (!list.length) root.append(make('p', { class: 'empty', text: 'No QuickApps are running.' }));
  } catch (e) { toast(e.message); }
}

async function loadDevices() {
  try {
    const list = await api('GET', '/api/devices');
    const filter = $('#device-filter').value.trim().toLowerCase();
    const rows = list.filter((d) => !filter || `${d.id} ${d.name} ${d.type}`.toLowerCase().includes(filter)).map((d) => {
      const p = d.properties || {};
      const value = p.value === undefined ? '' : JSON.stringify(p.value);
      return make('tr', { 'data-id': d.id }, [
        make('td', { text: d.id }), make('td', { text: d.name }), make('td', {}, [make('code', { text: d.type })]),
        make('td', { text: value }),
        make('td', {}, [make('details', {}, [make('summary', { text: `${Object.keys(p).length} properties` }), make('pre', { text: JSON.stringify(p, null, 2) })])]),
      ]);
    });
    $('#devices tbody').replaceChildren(...rows);
  } catch (e) { toast(e.message); }
}

function logEvent(kind, data) {
  eventCount += 1;
  $('#event-count').textContent = `${eventCount} event${eventCount === 1 ? '' : 's'}`;
  const log = $('#event-log');
  log.prepend(make('li', {}, [make('time', { text: new Date().toLocaleTimeString() }), make('span', { class: 'kind', text: kind }), document.createTextNode(JSON.stringify(data))]));
  while (log.children.length > MAX_LOG) log.lastChild.remove();
}

function onMessage(msg) {
  if (msg.type === 'ui_update') {
    const card = cards.get(msg.deviceID);
    if (msg.kind === 'view' && card) {
      const el = card.elements.get(msg.elementName);
      if (el) { el.st[msg.propertyName] = msg.newValue; el.apply(); }
    } else if (msg.kind === 'property' && card) {
      card.entry.properties = card.entry.properties || {};
      card.entry.properties[msg.propertyName] = msg.newValue;
      showValue(card);
    }
    logEvent(msg.kind === 'view' ? 'updateView' : 'updateProperty', msg);
  } else if (msg.type === 'event' && msg.event) {
    logEvent(msg.event.type, msg.event.data ?? {});
    if (/^Device(Created|Removed)Event$/.test(msg.event.type)) loadQuickApps();
  }
}

function connect(delay = 1000) {
  const conn = $('#conn');
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/quickapps`);
  ws.onopen = () => { conn.classList.add('live'); $('#conn-text').textContent = 'live'; delay = 1000; loadQuickApps(); };
  ws.onmessage = (e) => { try { onMessage(JSON.parse(e.data)); } catch (err) { console.warn(err); } };
  ws.onclose = () => {
    conn.classList.remove('live'); $('#conn-text').textContent = 'reconnecting';
    setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  };
}

async function runCode() {
  const out = $('#result');
  out.classList.remove('error');
  out.textContent = 'running…';
  try {
    const r = await api('POST', '/api/execute', { code: $('#code').value });
    const parts = [];
    if (r.output) parts.push(r.output);
    if (r.success) parts.push('→ ' + (typeof r.result === 'object' ? JSON.stringify(r.result, null, 2) : String(r.result ?? 'nil')));
    else { parts.push(r.error); out.classList.add('error'); }
    out.textContent = parts.join('\n');
  } catch (e) { out.classList.add('error'); out.textContent = e.message; }
}

function showTab(name) {
  document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', t.dataset.tab === name));
  document.querySelectorAll('.panel').forEach((p) => p.classList.toggle('active', p.id === `tab-${name}`));
  if (name === 'devices') loadDevices();
}

document.querySelectorAll('.tab').forEach((t) => t.addEventListener('click', () => showTab(t.dataset.tab)));
$('#devices-refresh').addEventListener('click', loadDevices);
$('#device-filter').addEventListener('input', loadDevices);
$('#events-clear').addEventListener('click', () => { $('#event-log').replaceChildren(); eventCount = 0; $('#event-count').textContent = '0 events'; });
$('#run').addEventListener('click', runCode);
$('#code').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); runCode(); } });
loadQuickApps();
connect();
