// permessage-deflate (RFC 7692) in ws-server --deflate, driven by npm's `ws`
// client with its own zlib: the agreed parameters in the 101, exact echo of
// text and binary 0 B … 16 MiB (client compressing everything, and with ws's
// default 1 KiB threshold), compressed fragmented messages, 200 varied
// messages in a row (a fresh window per message, or kept with
// --deflate-takeover), the window and level options, a compressed bomb past
// --max-message (1009), the RFC's own example frames and the RSV1 rules over
// a raw socket, and pub/sub to receivers with and without the extension.
// One set of servers per backend (WSRING_BACKENDS); every wait has a timeout.
import { describe, it as nodeIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import {
  HOST, backends, buildFrame, closed as closedWs, nextMessage as nextMessageWs, openWs, startServer, utf8Text,
  withTimeout,
} from './harness.mjs';

const KiB = 1 << 10;
const MiB = 1 << 20;
const SIZES = [0, 1, KiB, 64 * KiB, MiB, 16 * MiB];
const T = 30000;
const NO_TAKEOVER = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]); // RFC 7692 §7.2.1: removed by the sender
const nextMessage = (ws) => nextMessageWs(ws, T);
const closed = (ws) => closedWs(ws, T);

// ws's client, compressing every message (threshold 0) unless told otherwise.
const open = (server, pmd = { threshold: 0 }, path = '/') =>
  openWs(server.url(path), { perMessageDeflate: pmd, ...server.wsOptions() }, T);

// The agreed Sec-WebSocket-Extensions, as one normalised string.
const agreed = (ws) => (ws.upgradeHeaders['sec-websocket-extensions'] || '').split(/\s*;\s*/).join('; ');

// JSON-ish text of about n bytes: repetitive keys, varying values.
function jsonText(n, seed = 0) {
  let s = '[';
  for (let i = 0; s.length < n; i++) {
    s += `${i ? ',' : ''}{"id":${seed + i},"name":"user-${(seed + i) * 7919 % 1000}","ok":${i % 3 === 0}}`;
  }
  return (s + ' '.repeat(n)).slice(0, Math.max(n - 1, 0)) + (n ? ']' : '');
}

// n bytes alternating random runs and repeats of earlier bytes, so the
// compressor emits both literals and matches (some far back in the window).
function mixedBytes(n) {
  const b = randomBytes(n);
  for (let i = 4096; i + 512 <= n; i += 1536) b.copy(b, i, i - 4096 + (i % 1000), i - 4096 + (i % 1000) + 512);
  return b;
}

// Echo each message and compare; returns nothing, asserts on the first difference.
async function echoExact(ws, payloads, what) {
  for (const p of payloads) {
    const isBinary = typeof p !== 'string';
    ws.send(p);
    const got = await nextMessage(ws);
    const n = isBinary ? p.length : Buffer.byteLength(p);
    assert.equal(got.isBinary, isBinary, `${what}: ${n} B type`);
    if (isBinary) assert.ok(Buffer.from(got.data).equals(p), `${what}: binary ${n} B differs`);
    else assert.ok(got.data.toString('utf8') === p, `${what}: text ${n} B differs (got ${got.data.length} B)`);
  }
}

// 200 varied messages sent back to back, then compared in order.
async function pipelined(ws, count = 200) {
  const sent = [];
  for (let i = 0; i < count; i++) {
    const n = (i * 977) % 20000;
    if (i % 4 === 0) sent.push(jsonText(n, i));
    else if (i % 4 === 1) sent.push(mixedBytes(n));
    else if (i % 4 === 2) sent.push(utf8Text(n % 300));
    else sent.push(i % 8 === 3 ? randomBytes(i) : Buffer.from(sent[i - 3])); // an earlier message again
  }
  const got = [];
  const all = withTimeout(new Promise((resolve, reject) => {
    ws.on('message', (data, isBinary) => {
      got.push({ data: Buffer.from(data), isBinary });
      if (got.length === count) resolve();
    });
    ws.once('close', (code) => reject(new Error(`closed (${code}) after ${got.length} of ${count}`)));
  }), T, `${count} echoes`);
  for (const p of sent) ws.send(p);
  await all;
  for (let i = 0; i < count; i++) {
    const isBinary = typeof sent[i] !== 'string';
    assert.equal(got[i].isBinary, isBinary, `message ${i}: type`);
    assert.ok(got[i].data.equals(Buffer.from(sent[i])), `message ${i}: payload/order`);
  }
}

// Wire bytes the client read and wrote while one message was echoed.
async function wireCost(ws, payload) {
  const r0 = ws._socket.bytesRead;
  const w0 = ws._socket.bytesWritten;
  ws.send(payload);
  const got = await nextMessage(ws);
  assert.ok(Buffer.from(got.data).equals(Buffer.from(payload)), 'echo differs');
  return { read: ws._socket.bytesRead - r0, written: ws._socket.bytesWritten - w0 };
}

// ---- a raw client for byte-exact frames -----------------------------------------
// Opens a WebSocket by hand offering `ext`; resolves to { head, ext, send(frame),
// frame(): the next server frame { fin, rsv1, op, payload }, close() }.
async function rawOpen(server, ext) {
  const sock = await server.rawConnect();
  let buf = Buffer.alloc(0);
  let ended = false;
  let waiter = null;
  const wake = () => { if (waiter) waiter(); };
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); wake(); });
  for (const ev of ['end', 'close', 'error']) sock.on(ev, () => { ended = true; wake(); });
  const waitFor = (take, what) => withTimeout(new Promise((resolve, reject) => {
    const check = () => {
      const r = take();
      if (r) { waiter = null; resolve(r); } else if (ended) reject(new Error(`EOF before ${what}`));
    };
    waiter = check;
    check();
  }), T, what);
  const key = randomBytes(16).toString('base64');
  sock.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`
    + `${ext === undefined ? '' : `Sec-WebSocket-Extensions: ${ext}\r\n`}\r\n`);
  const head = await waitFor(() => {
    const i = buf.indexOf('\r\n\r\n');
    if (i < 0) return null;
    const h = buf.subarray(0, i).toString('latin1');
    buf = buf.subarray(i + 4);
    return h;
  }, '101 response');
  assert.match(head, /^HTTP\/1\.1 101 /);
  const m = /^sec-websocket-extensions:[ \t]*(.*?)[ \t]*$/im.exec(head);
  const frame = () => waitFor(() => {
    if (buf.length < 2) return null;
    let len = buf[1] & 0x7f;
    let at = 2;
    if (len === 126) { if (buf.length < 4) return null; len = buf.readUInt16BE(2); at = 4; }
    if (len === 127) { if (buf.length < 10) return null; len = Number(buf.readBigUInt64BE(2)); at = 10; }
    if (buf.length < at + len) return null;
    assert.equal(buf[1] & 0x80, 0, 'a server frame is never masked (RFC 6455 §5.1)');
    const f = { fin: (buf[0] & 0x80) !== 0, rsv1: (buf[0] & 0x40) !== 0, op: buf[0] & 0x0f,
      payload: Buffer.from(buf.subarray(at, at + len)) };
    buf = buf.subarray(at + len);
    return f;
  }, 'a frame');
  return { head, ext: m ? m[1] : null, send: (b) => sock.write(b), frame, close: () => sock.destroy() };
}

// RFC 7692 §7.2.2: the receiver appends 00 00 ff ff and inflates.
const inflate = (payload) => zlib.inflateRawSync(Buffer.concat([payload, TAIL]),
  { finishFlush: zlib.constants.Z_SYNC_FLUSH });
const h = (hex) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

// The server's close frame's code, skipping data frames before it.
async function closeCode(raw) {
  for (;;) {
    const f = await raw.frame();
    if (f.op === 0x8) return f.payload.readUInt16BE(0);
  }
}

// ---- suites: one server each, skipped when the backend is unavailable -----------
function serverSuite(title, serverOpts, body) {
  describe(title, { timeout: 120000 }, () => {
    const ctx = { server: null };
    let skipReason = null;
    before(async () => {
      try {
        ctx.server = await startServer(serverOpts);
      } catch (e) {
        if (!(e.fallback && process.env.WSRING_ALLOW_FALLBACK)) throw e;
        skipReason = e.message;
      }
    });
    after(async () => {
      if (!ctx.server) return;
      const code = await ctx.server.stop();
      assert.equal(code, 0, `exit code after SIGTERM; stderr: ${ctx.server.stderr()}`);
    });
    const it = (name, fn) => nodeIt(name, (t) => (skipReason ? t.skip(skipReason) : fn(t)));
    body(it, ctx);
  });
}

for (const backend of backends()) {
  serverSuite(`permessage-deflate, ws client (${backend})`, { backend, args: ['--deflate'] }, (it, ctx) => {
    // ws's defaults compress only messages of 1 KiB or more: the same wire
    // above 1 MiB, so that run stops there.
    for (const [label, pmd, sizes] of [['threshold 0', { threshold: 0 }, SIZES],
      ['ws defaults', true, SIZES.filter((n) => n <= MiB)]]) {
      it(`${label}: agrees on no context takeover both ways`, async () => {
        const ws = await open(ctx.server, pmd);
        try {
          assert.equal(ws.extensions, 'permessage-deflate');
          assert.equal(agreed(ws), NO_TAKEOVER);
        } finally { ws.terminate(); }
      });

      it(`${label}: echoes text and binary 0 B … ${sizes.at(-1) / MiB} MiB exactly`, async () => {
        const ws = await open(ctx.server, pmd);
        try {
          const texts = sizes.map((n) => (n === KiB ? jsonText(n) : utf8Text(n)));
          await echoExact(ws, texts, 'text');
          await echoExact(ws, sizes.map((n) => mixedBytes(n)), 'binary');
          await echoExact(ws, [randomBytes(MiB)], 'incompressible');
        } finally { ws.terminate(); }
      });

      it(`${label}: echoes compressed fragmented messages whole`, async () => {
        const ws = await open(ctx.server, pmd);
        try {
          const parts = [mixedBytes(100), mixedBytes(70000), mixedBytes(3), Buffer.alloc(0)];
          parts.forEach((p, i) => ws.send(p, { binary: true, fin: i === parts.length - 1 }));
          let got = await nextMessage(ws);
          assert.equal(got.isBinary, true);
          assert.ok(Buffer.concat(parts).equals(got.data), 'binary fragments');
          const texts = [jsonText(2000), utf8Text(5000), 'tail'];
          texts.forEach((p, i) => ws.send(p, { fin: i === texts.length - 1 }));
          got = await nextMessage(ws);
          assert.equal(got.isBinary, false);
          assert.equal(got.data.toString('utf8'), texts.join(''), 'text fragments');
        } finally { ws.terminate(); }
      });

      it(`${label}: 200 varied messages in a row come back exact and in order`, async () => {
        const ws = await open(ctx.server, pmd);
        try { await pipelined(ws); } finally { ws.terminate(); }
      });
    }

    it('compresses on the wire both ways (1 MiB of JSON in under 256 KiB)', async () => {
      const ws = await open(ctx.server);
      try {
        const cost = await wireCost(ws, jsonText(MiB));
        assert.ok(cost.written < 256 * KiB, `client sent ${cost.written} B`);
        assert.ok(cost.read < 256 * KiB, `server sent ${cost.read} B: not compressed?`);
      } finally { ws.terminate(); }
    });

    it('a client without the extension gets none and plain echo', async () => {
      const ws = await open(ctx.server, false);
      try {
        assert.equal(ws.extensions, '');
        assert.equal(ws.upgradeHeaders['sec-websocket-extensions'], undefined);
        await echoExact(ws, [jsonText(MiB), mixedBytes(MiB)], 'uncompressed');
      } finally { ws.terminate(); }
    });

    it('honours server_max_window_bits=10 asked by the client', async () => {
      const ws = await open(ctx.server, { threshold: 0, serverMaxWindowBits: 10 });
      try {
        // ws inflates with a 1 KiB window: a match from further back would fail it.
        assert.match(agreed(ws), /(^|; )server_max_window_bits=(9|10)(;|$)/);
        await echoExact(ws, [Buffer.concat(Array(500).fill(randomBytes(2000)))], 'window 10');
      } finally { ws.terminate(); }
    });

    it('closes 1009 on a message that inflates past --max-message (16 MiB + 1 zeros)', async () => {
      const ws = await open(ctx.server);
      const other = await open(ctx.server);
      try {
        const done = closed(ws);
        ws.send(Buffer.alloc(16 * MiB + 1));
        assert.equal((await done).code, 1009);
        await echoExact(other, [jsonText(KiB)], 'others still served');
      } finally { ws.terminate(); other.terminate(); }
    });

    it('raw: the 101 answers a plain offer with both no_context_takeover', async () => {
      const raw = await rawOpen(ctx.server, 'permessage-deflate');
      raw.close();
      assert.equal(raw.ext.split(/\s*;\s*/).join('; '), NO_TAKEOVER);
    });

    it('raw: skips an unknown extension and an invalid offer for a valid one', async () => {
      const raw = await rawOpen(ctx.server,
        'x-webkit-deflate-frame, permessage-deflate; bogus_param, permessage-deflate; client_max_window_bits');
      raw.close();
      assert.ok(raw.ext && /^permessage-deflate(;|$)/.test(raw.ext), `answered ${raw.ext}`);
      assert.ok(!/bogus|x-webkit/.test(raw.ext), `answered ${raw.ext}`);
    });

    it('raw: RFC 7692 §7.2.3 example frames of "Hello" all echo "Hello" (uncompressed: < 64 B)', async () => {
      const raw = await rawOpen(ctx.server, 'permessage-deflate');
      try {
        const cases = [
          ['§7.2.3.1 one compressed frame', [[true, 'f2 48 cd c9 c9 07 00']]],
          ['§7.2.3.2 two fragments', [[false, 'f2 48 cd'], [true, 'c9 c9 07 00']]],
          ['§7.2.3.3 a stored block', [[true, '00 05 00 fa ff 48 65 6c 6c 6f 00']]],
          ['§7.2.3.4 a BFINAL block', [[true, 'f3 48 cd c9 c9 07 00 00']]],
          ['§7.2.3.5 two blocks', [[true, 'f2 48 05 00 00 00 ff ff ca c9 c9 07 00']]],
        ];
        for (const [what, frames] of cases) {
          frames.forEach(([fin, hex], i) => raw.send(buildFrame(i ? 0x0 : 0x1, h(hex), { fin, rsv: i ? 0 : 4 })));
          const f = await raw.frame();
          assert.deepEqual([f.op, f.fin, f.rsv1, f.payload.toString()], [0x1, true, false, 'Hello'], what);
        }
        raw.send(buildFrame(0x2, h('00'), { rsv: 4 })); // §7.2.3.6: an empty message
        const f = await raw.frame();
        assert.deepEqual([f.op, f.payload.length], [0x2, 0], '§7.2.3.6 empty');
      } finally { raw.close(); }
    });

    it('raw: the server compresses a large message (RSV1, one frame, inflates exactly)', async () => {
      const raw = await rawOpen(ctx.server, 'permessage-deflate');
      try {
        const msg = Buffer.from(jsonText(4000));
        raw.send(buildFrame(0x1, msg));
        const f = await raw.frame();
        assert.equal(f.op, 0x1);
        assert.equal(f.rsv1, true, 'a 4000 B message comes back compressed');
        assert.ok(f.payload.length < msg.length / 2, `${f.payload.length} B`);
        assert.ok(inflate(f.payload).equals(msg));
      } finally { raw.close(); }
    });

    for (const [what, frames, code] of [
      ['corrupt DEFLATE data → 1007 (§6.2)', [buildFrame(0x1, h('ff ff ff ff'), { rsv: 4 })], 1007],
      ['RSV1 on a continuation frame → 1002 (§6.1)',
        [buildFrame(0x1, h('f2 48 cd'), { fin: false, rsv: 4 }), buildFrame(0x0, h('c9 c9 07 00'), { rsv: 4 })], 1002],
      ['RSV1 on a ping → 1002 (§6.1)', [buildFrame(0x9, Buffer.from('p'), { rsv: 4 })], 1002],
      ['a compressed message that is not UTF-8 text → 1007',
        [buildFrame(0x1, zlib.deflateRawSync(h('6f 6b ff fe'), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
          .subarray(0, -4), { rsv: 4 })], 1007],
    ]) {
      it(`raw: ${what}`, async () => {
        const raw = await rawOpen(ctx.server, 'permessage-deflate');
        try {
          frames.forEach((f) => raw.send(f));
          assert.equal(await closeCode(raw), code);
        } finally { raw.close(); }
      });
    }

    it('raw: RSV1 without the extension agreed → 1002', async () => {
      const raw = await rawOpen(ctx.server);
      try {
        assert.equal(raw.ext, null);
        raw.send(buildFrame(0x1, h('f2 48 cd c9 c9 07 00'), { rsv: 4 }));
        assert.equal(await closeCode(raw), 1002);
      } finally { raw.close(); }
    });
  });

  serverSuite(`permessage-deflate --deflate-takeover, ws client (${backend})`,
    { backend, args: ['--deflate', '--deflate-takeover'] }, (it, ctx) => {
      for (const [label, pmd] of [['threshold 0', { threshold: 0 }], ['ws defaults', true]]) {
        it(`${label}: agrees on context takeover; 200 varied messages exact`, async () => {
          const ws = await open(ctx.server, pmd);
          try {
            assert.equal(ws.extensions, 'permessage-deflate');
            assert.match(agreed(ws), /^permessage-deflate(;|$)/);
            assert.doesNotMatch(agreed(ws), /no_context_takeover/);
            await pipelined(ws);
            await echoExact(ws, [utf8Text(MiB), mixedBytes(MiB), ''], 'after 200');
          } finally { ws.terminate(); }
        });
      }

      it('keeps the window across messages: a repeated 8 KiB message costs little the second time', async () => {
        const ws = await open(ctx.server);
        try {
          const msg = randomBytes(6 * KiB).toString('base64'); // 8 KiB that compresses only to ~6 KiB
          const first = await wireCost(ws, msg);
          const second = await wireCost(ws, msg);
          assert.ok(first.read > 5 * KiB, `first echo ${first.read} B`);
          assert.ok(second.read < KiB, `second echo ${second.read} B: server window not kept?`);
        } finally { ws.terminate(); }
      });

      it('a client asking client_no_context_takeover still gets exact echo', async () => {
        const ws = await open(ctx.server, { threshold: 0, clientNoContextTakeover: true });
        try {
          await pipelined(ws, 50);
        } finally { ws.terminate(); }
      });
    });

  for (const [window, level] of [[10, 9], [9, 1]]) {
    serverSuite(`permessage-deflate --deflate-window ${window} --deflate-level ${level} (${backend})`,
      { backend, args: ['--deflate', '--deflate-window', window, '--deflate-level', level] }, (it, ctx) => {
        it('announces its window and keeps to it', async () => {
          const ws = await open(ctx.server);
          try {
            assert.match(agreed(ws), new RegExp(`(^|; )server_max_window_bits=${window}(;|$)`));
            // ws inflates with exactly that window: a match from further back would fail it.
            await echoExact(ws, [Buffer.concat(Array(300).fill(randomBytes(1500))), jsonText(MiB)], 'window');
            await pipelined(ws, 50);
          } finally { ws.terminate(); }
        });
      });
  }

  serverSuite(`permessage-deflate pub/sub (${backend})`,
    { backend, threads: 2, mode: 'pubsub', args: ['--deflate', '--ping-interval', '0'] }, (it, ctx) => {
      it('receivers with and without deflate all get the same 100 messages in order', async () => {
        const path = '/deflate-room';
        const clients = [];
        try {
          for (const pmd of [{ threshold: 0 }, true, false, { threshold: 0 }]) clients.push(await open(ctx.server, pmd, path));
          const publisher = clients[3];
          assert.deepEqual(clients.map((c) => c.extensions),
            ['permessage-deflate', 'permessage-deflate', '', 'permessage-deflate']);
          const sent = [];
          for (let i = 0; i < 100; i++) {
            const stamp = `p:${i}:`;
            sent.push(i % 3 === 0 ? Buffer.concat([Buffer.from(stamp), mixedBytes((i * 331) % 9000)])
              : stamp + jsonText((i * 541) % 12000, i));
          }
          const gets = clients.map((ws, k) => withTimeout(new Promise((resolve, reject) => {
            const got = [];
            ws.on('message', (data, isBinary) => {
              got.push({ data: Buffer.from(data), isBinary });
              if (got.length === sent.length) resolve(got);
            });
            ws.once('close', (code) => reject(new Error(`client ${k} closed (${code}) after ${got.length}`)));
          }), T, `client ${k}: 100 messages`));
          for (const p of sent) publisher.send(p);
          const all = await Promise.all(gets);
          all.forEach((got, k) => {
            for (let i = 0; i < sent.length; i++) {
              assert.equal(got[i].isBinary, typeof sent[i] !== 'string', `client ${k} message ${i}: type`);
              assert.ok(got[i].data.equals(Buffer.from(sent[i])), `client ${k} message ${i}: payload/order`);
            }
          });
        } finally { clients.forEach((ws) => ws.terminate()); }
      });
    });
}
