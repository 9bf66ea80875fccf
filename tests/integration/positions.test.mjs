// ws-server --mode pubsub with the opt-in subprotocol wsring.v1 (issue 12),
// driven by npm's `ws` client as an application would use it:
// new WebSocket(url, 'wsring.v1') agrees on the protocol, gets the
// "!position E:0" notice, then every message as "E:O\n" + the published
// bytes with its opcode kept; it comes back with ?since=E:O (built with
// URLSearchParams, so the ':' travels as %3A) and gets exactly what it
// missed, then live messages. A client offering no protocol gets the bare
// bytes, and a malformed since is refused with 400 before the upgrade.
// One server per backend (WSRING_BACKENDS); every wait has a timeout.
import { describe, it as nodeIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { backends, startServer, withTimeout } from './harness.mjs';

const T = 10000;
const V1 = 'wsring.v1';
const NOTICE_RE = /^!(position|unrecovered) ([A-Za-z0-9_-]{1,32}):(\d+)$/;
const PREFIX_RE = /^([A-Za-z0-9_-]{1,32}):(\d+)$/;

// A ws client with an inbox: every message is queued as it arrives (ws may
// emit several in one tick), next() takes the oldest, waiting up to T.
function open(server, path, protocols) {
  const ws = protocols === undefined
    ? new WebSocket(server.url(path), { handshakeTimeout: T, ...server.wsOptions() })
    : new WebSocket(server.url(path), protocols, { handshakeTimeout: T, ...server.wsOptions() });
  const queue = [];
  const waiters = [];
  let closedWith = null;
  const wake = () => { while (waiters.length) waiters.shift()(); };
  ws.on('message', (data, isBinary) => { queue.push({ data: Buffer.from(data), isBinary }); wake(); });
  ws.on('close', (code) => { closedWith = code; wake(); });
  ws.next = () => withTimeout(new Promise((resolve, reject) => {
    const check = () => {
      if (queue.length) resolve(queue.shift());
      else if (closedWith !== null) reject(new Error(`closed (${closedWith}) while waiting for a message`));
      else waiters.push(check);
    };
    check();
  }), T, 'message');
  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  }), T, 'open').catch((e) => { ws.terminate(); throw e; });
}

// A wsring.v1 message → { kind: 'position'|'unrecovered'|'data', epoch, offset, payload, isBinary }.
function parseV1({ data, isBinary }) {
  if (!isBinary) {
    const m = NOTICE_RE.exec(data.toString('utf8'));
    if (m) return { kind: m[1], epoch: m[2], offset: Number(m[3]) };
  }
  const nl = data.indexOf(0x0a);
  const m = nl < 0 ? null : PREFIX_RE.exec(data.subarray(0, nl).toString('latin1'));
  assert.ok(m, `not a wsring.v1 message: ${JSON.stringify(data.subarray(0, 60).toString('latin1'))}`);
  return { kind: 'data', epoch: m[1], offset: Number(m[2]), payload: data.subarray(nl + 1), isBinary };
}

const nextV1 = async (ws) => parseV1(await ws.next());

function assertData(msg, epoch, offset, payload, isBinary, what) {
  assert.equal(msg.kind, 'data', `${what}: ${msg.kind}`);
  assert.deepEqual([msg.epoch, msg.offset, msg.isBinary], [epoch, offset, isBinary], what);
  assert.ok(msg.payload.equals(Buffer.from(payload)), `${what}: payload ${msg.payload.toString('latin1')}`);
}

function closeWs(ws) {
  return withTimeout(new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(); return; }
    ws.once('close', () => resolve());
    ws.close();
  }), T, 'close');
}

for (const backend of backends()) {
  describe(`wsring.v1 positions, ws client (${backend})`, { timeout: 120000 }, () => {
    let server;
    let skipReason = null;
    before(async () => {
      try {
        server = await startServer({ backend, threads: 2, mode: 'pubsub', args: ['--ping-interval', 0] });
      } catch (e) {
        if (!(e.fallback && process.env.WSRING_ALLOW_FALLBACK)) throw e;
        skipReason = e.message;
      }
    });
    after(async () => {
      if (!server) return;
      const code = await server.stop();
      assert.equal(code, 0, `exit code after SIGTERM; stderr: ${server.stderr()}`);
    });
    const it = (name, fn) => nodeIt(name, (t) => (skipReason ? t.skip(skipReason) : fn(t)));

    it('agrees on wsring.v1, !position, prefixed text and binary; raw peers get bare bytes', async () => {
      const sub = await open(server, '/node/fresh', V1);
      const pub = await open(server, '/node/fresh'); // no protocol: a raw client
      try {
        assert.equal(sub.protocol, V1);
        assert.equal(pub.protocol, '');
        const first = await nextV1(sub);
        assert.equal(first.kind, 'position');
        assert.equal(first.offset, 0);
        const { epoch } = first;
        const bin = Buffer.from([0, 1, 0x0a, 0xff, 0xfe]);
        pub.send(bin);
        pub.send('caf\u00e9 \u{1f600}');
        assertData(await nextV1(sub), epoch, 1, bin, true, 'binary');
        assertData(await nextV1(sub), epoch, 2, 'caf\u00e9 \u{1f600}', false, 'text');
        // The raw publisher (subscribed too) gets the bare messages.
        let got = await pub.next();
        assert.deepEqual([got.isBinary, got.data.equals(bin)], [true, true]);
        got = await pub.next();
        assert.deepEqual([got.isBinary, got.data.toString('utf8')], [false, 'caf\u00e9 \u{1f600}']);
        // A v1 client publishes without a header; it gets its own message prefixed.
        sub.send(Buffer.from('from v1'));
        assertData(await nextV1(sub), epoch, 3, 'from v1', true, 'own message');
        got = await pub.next();
        assert.deepEqual([got.isBinary, got.data.toString()], [true, 'from v1']);
      } finally {
        sub.terminate();
        pub.terminate();
      }
    });

    it('comes back with since (as URLSearchParams encodes it) and gets exactly what it missed', async () => {
      const path = '/node/resub';
      const pub = await open(server, path);
      let sub = await open(server, path, V1);
      try {
        const first = await nextV1(sub);
        assert.equal(first.kind, 'position');
        const { epoch } = first;
        const base = first.offset;
        pub.send('a');
        assertData(await nextV1(sub), epoch, base + 1, 'a', false, 'before leaving');
        await closeWs(sub);
        const missed = ['b', Buffer.from('c\x00'), 'd'];
        for (const m of missed) pub.send(m);
        // The publisher's own copies: all three are sequenced (and kept).
        for (let i = 0; i < missed.length + 1; i++) await pub.next();
        const url = new URL(server.url(path));
        url.searchParams.set('since', `${epoch}:${base + 1}`);
        assert.match(url.search, /since=[^&]*%3A/);
        sub = await open(server, url.pathname + url.search, [V1]);
        assert.equal(sub.protocol, V1);
        for (let i = 0; i < missed.length; i++) {
          const m = missed[i];
          assertData(await nextV1(sub), epoch, base + 2 + i, m, typeof m !== 'string', `missed #${i}`);
        }
        pub.send('live');
        assertData(await nextV1(sub), epoch, base + 5, 'live', false, 'live after the replay');
      } finally {
        sub.terminate();
        pub.terminate();
      }
    });

    it('gets !unrecovered for a stale epoch, and 400 for a malformed since', async () => {
      const path = '/node/stale';
      const holder = await open(server, path, V1);
      try {
        const { epoch, offset } = await nextV1(holder);
        const stale = epoch === 'old' ? 'older' : 'old';
        const sub = await open(server, `${path}?since=${stale}:1`, V1);
        const note = await nextV1(sub);
        assert.deepEqual([note.kind, note.epoch, note.offset], ['unrecovered', epoch, offset]);
        sub.terminate();
        const refused = new WebSocket(server.url(`${path}?since=e:1x`), V1,
          { handshakeTimeout: T, ...server.wsOptions() });
        refused.on('error', () => {}); // destroying the refused request may report one
        const err = await withTimeout(new Promise((resolve) => {
          refused.once('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
          refused.once('open', () => resolve('open'));
          refused.once('error', (e) => resolve(e.message));
        }), T, 'refusal');
        assert.equal(err, 400);
        refused.terminate();
      } finally {
        holder.terminate();
      }
    });
  });
}
