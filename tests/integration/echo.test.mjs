// ws-server echo mode driven by npm's `ws` client under node:test: text and
// binary echo at the length-encoding boundaries, multi-byte UTF-8, ping/pong,
// close-code echo, 100 pipelined messages in order, fragments, protocol errors
// (invalid UTF-8 → 1007 through ws's own socket; an unmasked frame → 1002 over
// a raw net.Socket), and no permessage-deflate although ws offers it.
// One server per backend (WSRING_BACKENDS); every wait has a timeout.
import { describe, it as nodeIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import WebSocket from 'ws';
import {
  HOST, backends, buildFrame, closed as closedWs, nextMessage as nextMessageWs, openWs, startServer, tlsOptions,
  utf8Text, withTimeout,
} from './harness.mjs';

const MiB = 1 << 20;
const SIZES = [0, 1, 125, 126, 65535, 65536, MiB];
const T = 10000;
const open = (url, opts = {}) => openWs(url, opts, T);
const nextMessage = (ws) => nextMessageWs(ws, T);
const closed = (ws) => closedWs(ws, T);

for (const backend of backends()) {
  describe(`ws-server echo, ws client (${backend})`, { timeout: 120000 }, () => {
    let server;
    let skipReason = null;
    before(async () => {
      try {
        server = await startServer({ backend });
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
    // `it`, skipped when the backend is unavailable and WSRING_ALLOW_FALLBACK is set.
    const it = (name, fn) => nodeIt(name, (t) => (skipReason ? t.skip(skipReason) : fn(t)));

    it('echoes text at every length boundary', async () => {
      const ws = await open(server.url());
      try {
        for (const n of SIZES) {
          const text = utf8Text(n);
          assert.equal(Buffer.byteLength(text), n);
          ws.send(text);
          const { data, isBinary } = await nextMessage(ws);
          assert.equal(isBinary, false, `size ${n}: type`);
          assert.equal(data.toString('utf8'), text, `size ${n}: payload`);
        }
      } finally { ws.terminate(); }
    });

    it('echoes binary at every length boundary', async () => {
      const ws = await open(server.url());
      try {
        for (const n of SIZES) {
          const buf = randomBytes(n);
          ws.send(buf);
          const { data, isBinary } = await nextMessage(ws);
          assert.equal(isBinary, true, `size ${n}: type`);
          assert.ok(buf.equals(data), `size ${n}: payload`);
        }
      } finally { ws.terminate(); }
    });

    it('echoes multi-byte UTF-8', async () => {
      const ws = await open(server.url());
      try {
        for (const s of ['Привет, мир', '你好，世界', '😀🚀🎉', '𝄞 clef', 'ж€😀'.repeat(5000)]) {
          ws.send(s);
          const { data, isBinary } = await nextMessage(ws);
          assert.equal(isBinary, false);
          assert.equal(data.toString('utf8'), s);
        }
      } finally { ws.terminate(); }
    });

    it('answers ping with a pong carrying the same payload', async () => {
      const ws = await open(server.url());
      try {
        for (const payload of [Buffer.alloc(0), Buffer.from('hello'), randomBytes(125)]) {
          const pong = withTimeout(new Promise((resolve) => ws.once('pong', resolve)), T, 'pong');
          ws.ping(payload);
          assert.ok(payload.equals(await pong));
        }
      } finally { ws.terminate(); }
    });

    it('echoes the close code', async () => {
      for (const [code, reason] of [[1000, 'bye'], [4001, 'app reason'], [3000, '']]) {
        const ws = await open(server.url());
        const done = closed(ws);
        ws.close(code, reason);
        const got = await done;
        assert.equal(got.code, code);
        assert.ok(got.reason === '' || got.reason === reason, `reason ${got.reason}`);
      }
    });

    it('returns 100 pipelined messages in order', async () => {
      const ws = await open(server.url());
      try {
        const got = [];
        const all = withTimeout(new Promise((resolve) => {
          ws.on('message', (data, isBinary) => {
            got.push({ data: Buffer.from(data), isBinary });
            if (got.length === 100) resolve();
          });
        }), T, '100 echoes');
        const sent = [];
        for (let i = 0; i < 100; i++) {
          const msg = i % 2 ? Buffer.from(`message ${i} `.repeat(i + 1)) : randomBytes(i * 31);
          sent.push({ msg, isBinary: i % 2 === 0 });
          ws.send(i % 2 ? msg.toString() : msg);
        }
        await all;
        for (let i = 0; i < 100; i++) {
          assert.equal(got[i].isBinary, sent[i].isBinary, `message ${i}: type`);
          assert.ok(got[i].data.equals(sent[i].msg), `message ${i}: payload/order`);
        }
      } finally { ws.terminate(); }
    });

    it('echoes a fragmented message whole', async () => {
      const ws = await open(server.url());
      try {
        const parts = [randomBytes(100), randomBytes(70000), randomBytes(3)];
        ws.send(parts[0], { binary: true, fin: false });
        ws.send(parts[1], { binary: true, fin: false });
        ws.send(parts[2], { binary: true, fin: true });
        const { data, isBinary } = await nextMessage(ws);
        assert.equal(isBinary, true);
        assert.ok(Buffer.concat(parts).equals(data));
      } finally { ws.terminate(); }
    });

    it('does not negotiate permessage-deflate although ws offers it', async () => {
      let offered = '';
      const ws = new WebSocket(server.url(), { handshakeTimeout: T, perMessageDeflate: true, ...server.wsOptions() });
      ws.on('upgrade', (res) => { offered = res.headers['sec-websocket-extensions'] || ''; });
      await withTimeout(new Promise((resolve, reject) => {
        ws.once('open', resolve); ws.once('error', reject);
      }), T, 'open');
      try {
        assert.equal(offered, '', 'the 101 carries Sec-WebSocket-Extensions');
        assert.equal(ws.extensions, '');
        const text = 'compressible '.repeat(1000);
        ws.send(text);
        assert.equal((await nextMessage(ws)).data.toString(), text);
      } finally { ws.terminate(); }
    });

    it('closes with 1007 on invalid UTF-8 (hand-built frame on ws\'s socket)', async () => {
      const ws = await open(server.url());
      const other = await open(server.url());
      try {
        const done = closed(ws);
        ws._socket.write(buildFrame(0x1, Buffer.from([0x6f, 0x6b, 0xff, 0xfe])));
        const got = await done;
        assert.equal(got.code, 1007);
        other.send('others still served');
        assert.equal((await nextMessage(other)).data.toString(), 'others still served');
      } finally { ws.terminate(); other.terminate(); }
    });

    it('closes with 1002 on an unmasked client frame (raw net.Socket)', async () => {
      const sock = await server.rawConnect(); // TLS when the server speaks it
      try {
        const key = randomBytes(16).toString('base64');
        const accept = createHash('sha1')
          .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        let buf = Buffer.alloc(0);
        let ended = false;
        const endedP = new Promise((resolve) => {
          sock.on('end', () => { ended = true; resolve(); });
          sock.on('close', () => { ended = true; resolve(); });
          sock.on('error', () => { ended = true; resolve(); });
        });
        const waitFor = (pred, what) => withTimeout(new Promise((resolve, reject) => {
          const check = () => {
            const r = pred();
            if (r) { sock.off('data', onData); resolve(r); } else if (ended) reject(new Error(`EOF before ${what}`));
          };
          const onData = (d) => { buf = Buffer.concat([buf, d]); check(); };
          sock.on('data', onData);
          endedP.then(check);
          check();
        }), T, what);
        sock.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
          + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        const head = await waitFor(() => {
          const i = buf.indexOf('\r\n\r\n');
          if (i < 0) return null;
          const h = buf.subarray(0, i).toString('latin1');
          buf = buf.subarray(i + 4);
          return h;
        }, '101 response');
        assert.match(head, /^HTTP\/1\.1 101 /);
        assert.match(head, new RegExp(`sec-websocket-accept: *${accept.replace(/[+/]/g, '\\$&')}`, 'i'));
        sock.write(buildFrame(0x1, Buffer.from('unmasked'), { masked: false }));
        const frame = await waitFor(() => {
          if (buf.length < 2) return null;
          const len = buf[1] & 0x7f;
          if (len >= 126 || buf.length < 2 + len) return null;
          return { op: buf[0] & 0x0f, masked: (buf[1] & 0x80) !== 0, payload: buf.subarray(2, 2 + len) };
        }, 'close frame');
        assert.equal(frame.op, 0x8);
        assert.equal(frame.masked, false);
        assert.equal(frame.payload.readUInt16BE(0), 1002);
        await withTimeout(endedP, 3000, 'server closing TCP');
      } finally { sock.destroy(); }
    });
  });
}
