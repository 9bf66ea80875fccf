// The wsring chat demo: one room (the page's path, /chat/<room>), messages as
// JSON {nick, text, ts} over the wsring.v1 subprotocol (docs/protocol-v1.md).
// What it shows off: the last messages on join (from the server's history),
// reconnect with backoff and full jitter, and resume with ?since= so that a
// reconnect misses nothing, or says plainly that it did ("some messages missed").
// Plain JavaScript, nothing downloaded; tests/integration/chat.test.mjs drives it.
'use strict';

const HISTORY = 50;                // messages shown on join, when the history still has them
const BACKOFF_BASE = 500;          // ms; the n-th retry waits random(0, min(cap, base * 2^n))
const BACKOFF_CAP = 30000;
const SETTLE = 1000;               // ms without an !unrecovered notice after a resume: recovered

const room = (/^\/chat\/([A-Za-z0-9_-]{1,64})$/.exec(location.pathname) || [])[1] || 'lobby';
const $ = (id) => document.getElementById(id);
const seen = new Set();            // positions shown: a message replayed twice is shown once
let ws = null;
let position = null;               // "<epoch>:<offset>" of the last message applied (a string: 64-bit)
let joined = false;                // the join's history was asked for (or there was none)
let fetching = false;              // this connection asks for the join's history, not a resume
let attempt = 0;                   // reconnects since the last successful open
let countdown = null;

function setState(state, text) {
  $('state').dataset.state = state;
  $('state').textContent = text || state;
}

function show(pos, msg) {
  if (seen.has(pos)) return;
  seen.add(pos);
  const li = document.createElement('li');
  li.dataset.pos = pos;
  const part = (cls, text) => {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;  // never innerHTML: a message is text, whatever it contains
    li.append(s);
  };
  part('time', new Date(Number(msg.ts) || 0).toLocaleTimeString());
  part('nick', String(msg.nick || '?'));
  part('text', String(msg.text ?? ''));
  $('messages').append(li);
  li.scrollIntoView({ block: 'end' });
}

function gap(text) {
  const li = document.createElement('li');
  li.className = 'gap';
  li.textContent = text;
  $('messages').append(li);
}

// A notice: "!position E:N" (fresh) or "!unrecovered E:N" (the resume failed).
function onNotice(kind, pos) {
  const [epoch, offset] = [pos.slice(0, pos.lastIndexOf(':')), BigInt(pos.slice(pos.lastIndexOf(':') + 1))];
  if (!joined && kind === 'position' && offset > 0n) {
    // Fresh join: the history holds the room's last messages, and the only way
    // to ask for them is a resume from a little before "now". Reconnect at once.
    joined = true;
    const from = offset > BigInt(HISTORY) ? offset - BigInt(HISTORY) : 0n;
    position = `${epoch}:${from}`;
    setState('connecting', 'loading history');
    ws.onclose = null;
    ws.close(1000, 'history');
    return connect(false);
  }
  // On join an older history may just be gone (trimmed): nothing was missed yet.
  if (kind === 'unrecovered' && !fetching && position) {
    setState('missed', 'some messages missed');
    gap(epoch === position.slice(0, position.lastIndexOf(':'))
      ? 'some messages were missed here (the history no longer held them)'
      : 'the server lost the room\'s history: messages sent meanwhile may be missing');
  }
  if (kind === 'position') setState('connected');  // a fresh join with nothing to load
  joined = true;
  fetching = false;
  position = pos;
}

function onMessage(ev) {
  const data = String(ev.data);
  if (data.startsWith('!')) {
    const [kind, pos] = data.slice(1).split(' ');
    return onNotice(kind, pos);
  }
  const nl = data.indexOf('\n');
  const pos = data.slice(0, nl);
  let msg;
  try { msg = JSON.parse(data.slice(nl + 1)); } catch { msg = { nick: '?', text: data.slice(nl + 1) }; }
  show(pos, msg && typeof msg === 'object' ? msg : { nick: '?', text: String(msg) });
  position = pos;
  fetching = false;
}

// `resume`: a reconnect that should say whether it recovered what was missed.
function connect(resume) {
  clearInterval(countdown);
  const url = new URL(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat/${room}`);
  if (position) url.searchParams.set('since', position);
  const resuming = resume && Boolean(position);
  fetching = !resume && Boolean(position);
  const sock = new WebSocket(url, 'wsring.v1');
  ws = sock;
  let settle = null;
  sock.onopen = () => {
    attempt = 0;
    if (!position) return;  // fresh: "connected" once !position says where the room stands
    if (!resuming) return setState('connected');
    setState('connected', 'connected, catching up');
    // No notice means the server could honour ?since=: everything missed is replayed.
    settle = setTimeout(() => { if ($('state').dataset.state === 'connected') setState('recovered'); }, SETTLE);
  };
  sock.onmessage = onMessage;
  sock.onclose = () => {
    clearTimeout(settle);
    if (ws !== sock) return;
    // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
    // a restarted server is not hit by every client at the same instant.
    const delay = Math.random() * Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt++);
    const at = Date.now() + delay;
    const tick = () => setState('reconnecting', `reconnecting in ${Math.ceil((at - Date.now()) / 1000)} s`);
    tick();
    countdown = setInterval(tick, 250);
    setTimeout(connect, delay, true);
  };
}

$('room').textContent = room;
$('nick').value = localStorage.getItem('wsring.nick') || `guest-${Math.floor(Math.random() * 10000)}`;
$('nick').addEventListener('change', () => localStorage.setItem('wsring.nick', $('nick').value));
$('send').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
  localStorage.setItem('wsring.nick', $('nick').value);
  ws.send(JSON.stringify({ nick: $('nick').value, text, ts: Date.now() }));
  $('text').value = '';
});
connect(false);
