// Shared helpers for the Node integration suites: start ws-server (parsing its
// "listening on HOST:PORT" line) and stop it with SIGTERM, killing it if it
// overstays; the backend list from WSRING_BACKENDS; a masked-frame builder for
// byte-exact cases; a promise timeout. Every started server is also killed
// when the test process exits, so a failing test cannot leak one.
// WSRING_TLS=1 runs the suites over TLS: each server gets the test certificate
// ($WSRING_CERTS, or made once per process by scripts/make-test-certs.sh) and
// clients take tlsOptions() ({ ca }: verification stays on) or rawConnect().
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export const HOST = '127.0.0.1';
const LISTEN_RE = /ws-server: listening on (\S+):(\d+)/;
const live = new Set();

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function tlsEnabled() {
  return !['', '0', undefined].includes(process.env.WSRING_TLS);
}

let certsDir = null;
// The directory holding ca.pem, server.pem and server-key.pem.
export function testCerts() {
  if (certsDir) return certsDir;
  if (process.env.WSRING_CERTS) {
    certsDir = process.env.WSRING_CERTS;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'wsring-certs-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    execFileSync(join(REPO, 'scripts', 'make-test-certs.sh'), [dir], { stdio: 'ignore', timeout: 60000 });
    certsDir = dir;
  }
  return certsDir;
}

// Client TLS options that trust the test CA only (Node checks the name too).
export function tlsOptions(enabled = tlsEnabled()) {
  return enabled ? { ca: readFileSync(join(testCerts(), 'ca.pem')) } : {};
}

// A raw byte stream to the server: a net.Socket, or a TLS socket when the
// server speaks TLS. Resolves once connected (and the handshake is done).
export function rawConnect(port, { tls: useTls = tlsEnabled(), timeout = 10000 } = {}) {
  const sock = useTls
    ? tls.connect({ host: HOST, port, ...tlsOptions(true) })
    : net.connect(port, HOST);
  return withTimeout(new Promise((resolve, reject) => {
    sock.once(useTls ? 'secureConnect' : 'connect', () => resolve(sock));
    sock.once('error', reject);
  }), timeout, 'raw connect').catch((e) => { sock.destroy(); throw e; });
}

export function backends() {
  return (process.env.WSRING_BACKENDS || 'epoll').split(/[\s,]+/).filter(Boolean);
}

function serverCommand() {
  if (process.env.WSRING_SERVER) return process.env.WSRING_SERVER.split(/\s+/);
  if (!process.env.WSRING_BUILD) throw new Error('WSRING_BUILD is not set');
  return [join(process.env.WSRING_BUILD, 'ws-server')];
}

export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// ---- a ws client's waits, each bounded by `ms` -------------------------------
// Opens a ws client (TLS as the run asks unless opts say otherwise).
// ws.upgradeHeaders: the 101's headers (e.g. the agreed Sec-WebSocket-Extensions).
export function openWs(url, opts = {}, ms = 10000) {
  const ws = new WebSocket(url, { handshakeTimeout: ms, ...tlsOptions(), ...opts });
  ws.once('upgrade', (res) => { ws.upgradeHeaders = res.headers; });
  return withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  }), ms, 'open').catch((e) => { ws.terminate(); throw e; });
}

// The next message, or a rejection if the connection closes first.
export function nextMessage(ws, ms = 10000) {
  let onMessage;
  let onClose;
  return withTimeout(new Promise((resolve, reject) => {
    onMessage = (data, isBinary) => resolve({ data, isBinary });
    onClose = (code) => reject(new Error(`closed (${code}) while waiting for a message`));
    ws.once('message', onMessage);
    ws.once('close', onClose);
  }), ms, 'message').finally(() => { ws.off('message', onMessage); ws.off('close', onClose); });
}

// Resolves to { code, reason } once the connection is closed.
export function closed(ws, ms = 10000) {
  return withTimeout(new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve({ code: null, reason: '' });
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  }), ms, 'close');
}

// n bytes of valid UTF-8 mixing 1- to 4-byte characters.
export function utf8Text(n) {
  const unit = 'aЖ€😀'; // 1 + 2 + 3 + 4 bytes
  const s = unit.repeat(Math.floor(n / 10));
  return s + 'b'.repeat(n - Buffer.byteLength(s));
}

// Start ws-server in echo mode; resolves to { port, url(path), stop(), child }.
// `tls` (default WSRING_TLS) adds the test certificate: the URL is then wss://.
export async function startServer({ backend = 'epoll', threads = 1, args = [], tls: useTls = tlsEnabled(),
  mode = 'echo' } = {}) {
  const [cmd, ...pre] = serverCommand();
  const certs = useTls
    ? ['--tls-cert', join(testCerts(), 'server.pem'), '--tls-key', join(testCerts(), 'server-key.pem')]
    : [];
  const argv = [...pre, '--mode', mode, '--host', HOST, '--port', '0',
    '--threads', String(threads), '--backend', backend, ...args.map(String), ...certs];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => {
    live.delete(child);
    resolve({ code, sig });
  }));
  const port = await withTimeout(new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = LISTEN_RE.exec(stdout);
      if (m) resolve(Number(m[2]));
    });
    child.on('error', reject);
    exited.then(({ code }) => reject(new Error(`ws-server exited (${code}) before listening: ${stderr}`)));
  }), 15000, 'ws-server listening line').catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  // A silent fallback to another backend would test the wrong code.
  const line = LISTEN_RE.exec(stdout) && stdout.split('\n').find((l) => LISTEN_RE.test(l));
  const ran = /backend=(\S+)/.exec(line || '');
  if (ran && ran[1] !== backend) {
    child.kill('SIGKILL');
    const e = new Error(`asked for backend ${backend}, server says: ${line}; stderr: ${stderr}`);
    e.fallback = true; // WSRING_ALLOW_FALLBACK=1: the suite skips instead of failing
    throw e;
  }
  if (useTls && !/\btls=on\b/.test(line || '')) {
    child.kill('SIGKILL');
    throw new Error(`asked for TLS, server says: ${line}`);
  }
  return {
    port,
    child,
    tls: useTls,
    url: (path = '/', host = HOST) => `${useTls ? 'wss' : 'ws'}://${host}:${port}${path}`,
    wsOptions: () => tlsOptions(useTls),
    rawConnect: (opts = {}) => rawConnect(port, { tls: useTls, ...opts }),
    stdout: () => stdout,
    stderr: () => stderr,
    // SIGTERM, wait up to 10 s, else SIGKILL; resolves to the exit code.
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) {
        return (await exited).code;
      }
      child.kill('SIGTERM');
      try {
        const { code } = await withTimeout(exited, 10000, 'ws-server exit after SIGTERM');
        return code;
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      }
    },
  };
}

// One masked client frame (RFC 6455 §5.2).
export function buildFrame(opcode, payload = Buffer.alloc(0), { fin = true, rsv = 0, masked = true } = {}) {
  const data = Buffer.from(payload);
  const n = data.length;
  let head;
  const mbit = masked ? 0x80 : 0;
  const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf);
  if (n < 126) {
    head = Buffer.from([b0, mbit | n]);
  } else if (n < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0; head[1] = mbit | 126; head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0; head[1] = mbit | 127; head.writeBigUInt64BE(BigInt(n), 2);
  }
  if (!masked) return Buffer.concat([head, data]);
  const key = randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}
