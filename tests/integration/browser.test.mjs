// A real browser against ws-server: Debian's headless Chromium, driven by
// npm's playwright-core, opens `new WebSocket(...)` from a page and echoes
// text and binary at every length-encoding boundary (0 B … 16 MiB), then
// closes with a code and checks the one the server echoed back. Plain ws://
// and wss:// (issue 10), per backend (WSRING_BACKENDS). Against a second
// server with --deflate, Chromium's own permessage-deflate offer is accepted
// and compressed messages (JSON text, binary, 4 MiB text) echo exactly.
//
// How the browser trusts the test CA: an NSS database in a temporary HOME
// (~/.pki/nssdb, where Chromium on Linux looks for locally trusted roots),
// holding only our CA with trust "C,,". Certificate verification stays fully
// on — name, chain, expiry — unlike --ignore-certificate-errors, and unlike
// --ignore-certificate-errors-spki-list it goes through the same path a user's
// locally installed CA does, so a broken chain or a wrong SAN would fail here
// as it would for a user. Needs `certutil` (libnss3-tools).
//
// The page computes each payload from its size and compares what came back
// in place (no 16 MiB strings cross the DevTools pipe); Node asserts the
// per-message results. Every step has a timeout; the browser is killed by PID.
import { describe, it as nodeIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backends, startServer, testCerts, withTimeout } from './harness.mjs';

const MiB = 1 << 20;
const SIZES = [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB];
const CHROMIUM = process.env.WSRING_CHROMIUM || '/usr/bin/chromium';

let playwright = null;
try {
  playwright = await import('playwright-core');
} catch { /* reported as a skip below */ }

function missing() {
  if (!playwright) return 'npm playwright-core is not installed (scripts/setup.sh)';
  if (!existsSync(CHROMIUM)) return `no browser at ${CHROMIUM} (apt-get install chromium)`;
  return null;
}

// A temporary HOME whose NSS database trusts the test CA and nothing else of ours.
function nssHome() {
  const home = mkdtempSync(join(tmpdir(), 'wsring-chromium-'));
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  const certutil = (...args) => execFileSync('certutil', ['-d', `sql:${db}`, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
  certutil('-N', '--empty-password');
  certutil('-A', '-t', 'C,,', '-n', 'wsring-test-ca', '-i', join(testCerts(), 'ca.pem'));
  return home;
}

// Runs in the page: echo every size as text and as binary (or each of
// `items`, [{kind: 'text' | 'json' | 'binary', size}]), then close with
// 4000. Returns { results: [{kind, size, ok, type, length}], close, extensions }.
async function pageEcho({ url, sizes, timeoutMs, items }) {
  const unit = 'aЖ€😀'; // 1 + 2 + 3 + 4 bytes of UTF-8
  const textOf = (n) => {
    const s = unit.repeat(Math.floor(n / 10));
    return s + 'b'.repeat(n - new TextEncoder().encode(s).length);
  };
  const jsonOf = (n) => { // ASCII, so n characters are n bytes
    let s = '[';
    for (let i = 0; s.length < n; i++) s += `${i ? ',' : ''}{"id":${i},"name":"user-${i * 7919 % 1000}","ok":${i % 3 === 0}}`;
    return s.slice(0, Math.max(n - 1, 0)) + (n ? ']' : '');
  };
  const bytesOf = (n) => {
    const b = new Uint8Array(n);
    let x = (n * 2654435761) >>> 0 || 1;
    for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
    return b;
  };
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let waiter = null;
  let closed = null;
  const closedP = new Promise((resolve) => {
    ws.onclose = (e) => { closed = { code: e.code, reason: e.reason, wasClean: e.wasClean }; resolve(closed); if (waiter) waiter(); };
  });
  ws.onmessage = (e) => { queue.push(e.data); if (waiter) waiter(); };
  const timeout = (p, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`page: timed out: ${what}`)), timeoutMs))]);
  await timeout(new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`page: WebSocket error opening ${url}`));
  }), 'open');
  const next = () => timeout(new Promise((resolve, reject) => {
    const take = () => {
      if (queue.length) { waiter = null; resolve(queue.shift()); } else if (closed) reject(new Error(`page: closed ${closed.code}`));
    };
    waiter = take;
    take();
  }), 'message');
  const results = [];
  for (const { kind, size: n } of items || sizes.flatMap((size) => [{ kind: 'text', size }, { kind: 'binary', size }])) {
    if (kind !== 'binary') {
      const text = kind === 'json' ? jsonOf(n) : textOf(n);
      ws.send(text);
      const t = await next();
      results.push({ kind, size: n, type: typeof t, length: typeof t === 'string' ? new TextEncoder().encode(t).length : -1, ok: t === text });
      continue;
    }
    const bin = bytesOf(n);
    ws.send(bin);
    const b = await next();
    let ok = b instanceof ArrayBuffer && b.byteLength === n;
    if (ok) {
      const got = new Uint8Array(b);
      for (let i = 0; i < n; i++) if (got[i] !== bin[i]) { ok = false; break; }
    }
    results.push({ kind: 'binary', size: n, type: b instanceof ArrayBuffer ? 'arraybuffer' : typeof b, length: b.byteLength ?? -1, ok });
  }
  ws.close(4000, 'browser done');
  const close = await timeout(closedP, 'close');
  return { results, close, protocol: ws.protocol, extensions: ws.extensions };
}


// What pageEcho brought back: every message of the right type, length and
// bytes, then a clean close with the code the page sent (4000).
function assertEchoed(out) {
  for (const r of out.results) {
    assert.equal(r.type, r.kind === 'binary' ? 'arraybuffer' : 'string', `${r.kind} ${r.size}: type`);
    assert.equal(r.length, r.size, `${r.kind} ${r.size}: length`);
    assert.ok(r.ok, `${r.kind} ${r.size}: payload differs`);
  }
  assert.equal(out.close.code, 4000, 'the close code the server echoed');
  assert.equal(out.close.wasClean, true, 'a clean close handshake');
}
for (const backend of backends()) {
  for (const tls of [false, true]) {
    describe(`Chromium against ws-server (${backend}, ${tls ? 'wss' : 'ws'})`, { timeout: 240000 }, () => {
      let server;
      let deflateServer; // the same with --deflate
      let browserServer;
      let browser;
      let pid;
      let home;
      let skipReason = missing();
      before(async () => {
        if (skipReason) return;
        try {
          server = await startServer({ backend, tls });
          deflateServer = await startServer({ backend, tls, args: ['--deflate'] });
        } catch (e) {
          if (!(e.fallback && process.env.WSRING_ALLOW_FALLBACK)) throw e;
          skipReason = e.message;
          return;
        }
        home = nssHome();
        // launchServer, not launch: it names the browser's process, so the
        // after hook can kill it by PID whatever state it is in.
        browserServer = await withTimeout(playwright.chromium.launchServer({
          executablePath: CHROMIUM,
          env: { ...process.env, HOME: home },
          timeout: 60000,
        }), 70000, 'chromium launch');
        pid = browserServer.process().pid;
        browser = await withTimeout(playwright.chromium.connect(browserServer.wsEndpoint()),
          20000, 'connect to chromium');
      });
      after(async () => {
        try {
          if (browser) await withTimeout(browser.close(), 10000, 'browser close').catch(() => {});
          if (browserServer) await withTimeout(browserServer.close(), 10000, 'browser server close').catch(() => {});
        } finally {
          if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
          if (home) rmSync(home, { recursive: true, force: true });
        }
        for (const s of [server, deflateServer]) {
          if (!s) continue;
          const code = await s.stop();
          assert.equal(code, 0, `exit code after SIGTERM; stderr: ${s.stderr()}`);
        }
      });
      const it = (name, fn) => nodeIt(name, (t) => (skipReason ? t.skip(skipReason) : fn(t)));

      it('echoes text and binary 0 B … 16 MiB and sees the close code come back', async () => {
        const page = await browser.newPage();
        try {
          const url = server.url('/', 'localhost');
          const out = await withTimeout(page.evaluate(pageEcho, { url, sizes: SIZES, timeoutMs: 60000 }),
            200000, 'page echo');
          assert.equal(out.results.length, SIZES.length * 2);
          assertEchoed(out);
          assert.equal(out.extensions, '', 'no extension negotiated');
        } finally {
          await page.close().catch(() => {});
        }
      });

      it('--deflate: agrees on permessage-deflate; 1 KiB JSON, 100 KiB binary, 4 MiB text echo exactly', async () => {
        const page = await browser.newPage();
        try {
          const url = deflateServer.url('/', 'localhost');
          const items = [{ kind: 'json', size: 1024 }, { kind: 'binary', size: 100 * 1024 }, { kind: 'text', size: 4 * MiB }];
          const out = await withTimeout(page.evaluate(pageEcho, { url, items, timeoutMs: 60000 }),
            120000, 'page echo (deflate)');
          assert.match(out.extensions, /^permessage-deflate(;|$)/, `extensions: ${out.extensions}`);
          assert.match(out.extensions, /server_no_context_takeover/, `extensions: ${out.extensions}`);
          assert.match(out.extensions, /client_no_context_takeover/, `extensions: ${out.extensions}`);
          assert.equal(out.results.length, items.length);
          assertEchoed(out);
        } finally {
          await page.close().catch(() => {});
        }
      });

      it('reports the server closing with a code (1009 for a message over --max-message)', async () => {
        const page = await browser.newPage();
        try {
          const url = server.url('/', 'localhost');
          const close = await withTimeout(page.evaluate(async ({ url: u, n }) => {
            const ws = new WebSocket(u);
            await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
            const done = new Promise((resolve) => { ws.onclose = (e) => resolve({ code: e.code, wasClean: e.wasClean }); });
            ws.send(new Uint8Array(n));
            return done;
          }, { url, n: 16 * MiB + 1 }), 60000, 'server close');
          assert.equal(close.code, 1009);
        } finally {
          await page.close().catch(() => {});
        }
      });
    });
  }
}
