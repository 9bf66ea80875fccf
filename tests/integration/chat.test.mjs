// The chat demo (web/) in a real browser: Debian's headless Chromium driven
// by npm's playwright-core, the page served by ws-server --web itself.
//   one node: two pages in a room exchange messages; a third joins and sees
//     them (the history); the server is killed and restarted on the same port,
//     which with in-memory history is a new epoch, so every page must say
//     "some messages missed" and then go on with no message doubled.
//   a cluster: redis-server, two nodes and nginx (deploy/nginx.conf); the node
//     page A is on is killed, nginx sends A to the other node, A shows
//     "reconnecting" then "recovered", and a message published meanwhile
//     arrives exactly once.
// A screenshot of each is saved ($WSRING_ARTIFACTS, else $WSRING_BUILD) and
// its path printed. Plain ws:// only: under WSRING_TLS=1 the suite skips
// (browser.test.mjs covers wss:// in Chromium; the page itself picks wss://
// on an https:// origin). Read next: web/chat.js.
import { describe, it as nodeIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOST, startServer, tlsEnabled, withTimeout } from './harness.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WEB = join(REPO, 'web');
const CHROMIUM = process.env.WSRING_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.WSRING_ARTIFACTS || process.env.WSRING_BUILD || tmpdir();

let playwright = null;
try {
  playwright = await import('playwright-core');
} catch { /* reported as a skip below */ }

function skipReason() {
  if (tlsEnabled()) return 'WSRING_TLS=1: the chat demo runs over ws:// here (browser.test.mjs covers wss://)';
  if (!playwright) return 'npm playwright-core is not installed (scripts/setup.sh)';
  if (!existsSync(CHROMIUM)) return `no browser at ${CHROMIUM} (apt-get install chromium)`;
  return null;
}

// ---- the page, seen from the test ------------------------------------------
async function openChat(browser, base, room, nick) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page ${nick}: ${e.message}`));
  await page.goto(`${base}/chat/${room}`, { timeout: 10000 });
  await page.fill('#nick', nick);
  await waitState(page, 'connected');
  return page;
}

function waitState(page, state, timeout = 10000) {
  return page.waitForFunction((s) => document.getElementById('state').dataset.state === s, state, { timeout })
    .catch(async (e) => {
      const now = await page.$eval('#state', (el) => el.textContent).catch(() => '?');
      throw new Error(`waiting for state ${state}, page says "${now}": ${e.message}`);
    });
}

// [{pos, nick, text}] of the messages shown, in order.
function shown(page) {
  return page.$$eval('#messages li[data-pos]', (els) => els.map((el) => ({
    pos: el.dataset.pos, nick: el.querySelector('.nick').textContent, text: el.querySelector('.text').textContent,
  })));
}

async function waitTexts(page, texts, timeout = 10000) {
  await page.waitForFunction((want) => {
    const have = [...document.querySelectorAll('#messages .text')].map((el) => el.textContent);
    return want.every((t) => have.includes(t));
  }, texts, { timeout }).catch(async (e) => {
    throw new Error(`waiting for ${JSON.stringify(texts)}; shown: ${JSON.stringify(await shown(page))}: ${e.message}`);
  });
}

// Sends through the form, and waits for the server to echo it back.
async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#submit');
  await waitTexts(page, [text]);
}

// Every message shown once, in offset order within each epoch, and exactly `texts`.
async function assertExactly(page, texts) {
  const got = await shown(page);
  assert.deepEqual(got.map((m) => m.text), texts, `shown: ${JSON.stringify(got)}`);
  assert.equal(new Set(got.map((m) => m.pos)).size, got.length, 'a position shown twice');
}

// Every state the page shows from now on, in order (a MutationObserver, so
// a state that lasts a few milliseconds is not missed by polling).
function recordStates(page) {
  return page.evaluate(() => {
    const el = document.getElementById('state');
    window.states = [];
    new MutationObserver(() => {
      if (window.states.at(-1) !== el.dataset.state) window.states.push(el.dataset.state);
    }).observe(el, { attributes: true, childList: true });
  });
}

async function screenshot(page, name) {
  const file = join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`chat.test: screenshot saved to ${file}`);
}

// ---- processes -------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, HOST);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function until(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A child process killed (by PID) when the test process exits, whatever happens.
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

// Signals a child by PID and waits up to 5 s for it to exit, then SIGKILLs it.
async function stopChild(child, sig) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill(sig);
  await withTimeout(gone, 5000, `pid ${child.pid} exit`).catch(() => child.kill('SIGKILL'));
}

async function startRedis(dir) {
  const port = await freePort();
  track(spawn('redis-server', ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '',
    '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no'], { stdio: 'ignore' }));
  await until('redis-server listening', () => accepts(port));
  return port;
}

// nginx from deploy/nginx.conf in front of `ports`, as tests/integration/cluster_harness.py does.
async function startNginx(dir, ports) {
  const port = await freePort();
  const servers = ports.map((p) => `        server ${HOST}:${p} max_fails=1 fail_timeout=5s;`).join('\n');
  const conf = readFileSync(join(REPO, 'deploy', 'nginx.conf'), 'utf8')
    .replace(/^(\s*listen )@LISTEN@/m, `$1${HOST}:${port}`)
    .replace(/^@UPSTREAM_SERVERS@$/m, servers);
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child = track(spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g',
    `daemon off; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')} warn;`], { stdio: 'ignore' }));
  await until('nginx listening', () => accepts(port));
  return { port, child };
}

// How many established TCP connections a node's port has (nginx → node: a
// page's WebSocket is the only one that lasts).
function established(port) {
  const out = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).length;
}

function httpPublish(port, key, topic, body) {
  return fetch(`http://${HOST}:${port}/publish/${topic}`, {
    method: 'POST', body, headers: { Authorization: `apikey ${key}`, 'Content-Type': 'application/json' },
  });
}

// ---- the suites --------------------------------------------------------------
describe('the chat demo in Chromium', { timeout: 120000 }, () => {
  const skip = skipReason();
  let browserServer;
  let browser;
  let pid;
  before(async () => {
    if (skip) return;
    browserServer = await withTimeout(playwright.chromium.launchServer({ executablePath: CHROMIUM, timeout: 60000 }),
      70000, 'chromium launch');
    pid = browserServer.process().pid;
    browser = await withTimeout(playwright.chromium.connect(browserServer.wsEndpoint()), 20000, 'connect to chromium');
  });
  after(async () => {
    try {
      if (browser) await withTimeout(browser.close(), 10000, 'browser close').catch(() => {});
      if (browserServer) await withTimeout(browserServer.close(), 10000, 'browser server close').catch(() => {});
    } finally {
      if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
    }
  });
  const it = (name, fn) => nodeIt(name, (t) => (skip ? t.skip(skip) : fn(t)));

  it('one node: messages both ways, history on join, a restart says "some messages missed"', async () => {
    const args = ['--web', WEB];
    let server = await startServer({ mode: 'pubsub', tls: false, args });
    const base = `http://${HOST}:${server.port}`;
    try {
      const a = await openChat(browser, base, 'room1', 'alice');
      const b = await openChat(browser, base, 'room1', 'bob');
      await say(a, 'hello from alice');
      await say(b, 'hi alice, bob here');
      await waitTexts(b, ['hello from alice']);
      await waitTexts(a, ['hi alice, bob here']);
      const c = await openChat(browser, base, 'room1', 'carol');
      await waitTexts(c, ['hello from alice', 'hi alice, bob here']);
      for (const p of [a, b, c]) await assertExactly(p, ['hello from alice', 'hi alice, bob here']);

      // SIGKILL: no close frames, the pages only see the TCP connections go.
      server.child.kill('SIGKILL');
      await server.stop();
      for (const p of [a, b, c]) await waitState(p, 'reconnecting');
      assert.match(await a.$eval('#state', (el) => el.textContent), /^reconnecting in \d+ s$/);
      server = await startServer({ mode: 'pubsub', tls: false, args: [...args, '--port', String(server.port)] });
      // A new epoch: the history the pages resume from is gone, and they say so.
      for (const p of [a, b, c]) await waitState(p, 'missed', 40000);
      await say(a, 'after the restart');
      for (const p of [b, c]) await waitTexts(p, ['after the restart']);
      for (const p of [a, b, c]) {
        await assertExactly(p, ['hello from alice', 'hi alice, bob here', 'after the restart']);
        assert.equal(await p.$$eval('#messages li.gap', (els) => els.length), 1, 'one "missed" marker');
      }
      await screenshot(c, 'chat-demo-restart.png');
      for (const p of [a, b, c]) await p.close();
    } finally {
      const code = await server.stop();
      assert.equal(code, 0, `exit code after SIGTERM; stderr: ${server.stderr()}`);
    }
  });

  it('a cluster: the node page A is on dies, nginx moves A to the other, "recovered", nothing missed or doubled',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wsring-chat-cluster-'));
      chmodSync(dir, 0o755); // nginx's workers (nobody, when we are root) reach their prefix
      const key = 'chat-test-key';
      const nodes = [];
      let nginx = null;
      try {
        const redis = await startRedis(dir);
        const args = ['--web', WEB, '--redis', `redis://${HOST}:${redis}`, '--api-key', key];
        for (let i = 0; i < 2; i++) nodes.push(await startServer({ mode: 'pubsub', tls: false, args }));
        nginx = await startNginx(dir, nodes.map((n) => n.port));
        const base = `http://${HOST}:${nginx.port}`;
        const a = await openChat(browser, base, 'room2', 'alice');
        const on = nodes.map((n) => established(n.port));
        assert.deepEqual([...on].sort(), [0, 1], `page A's WebSocket: ${on} connections per node`);
        const [dead, alive] = on[0] ? [nodes[0], nodes[1]] : [nodes[1], nodes[0]];
        const b = await openChat(browser, base, 'room2', 'bob');
        await say(a, 'hello from alice');
        await say(b, 'bob here');
        await waitTexts(a, ['bob here']);
        await recordStates(a);

        dead.child.kill('SIGKILL');
        // Published at once, straight to the survivor (nginx does not retry a
        // POST elsewhere): A is most likely still away, and must get it on resume.
        const r = await httpPublish(alive.port, key, 'chat/room2',
          JSON.stringify({ nick: 'backend', text: 'while alice was away', ts: Date.now() }));
        assert.equal(r.status, 200, await r.text());
        await waitState(a, 'recovered', 40000);
        const states = await a.evaluate(() => window.states);
        assert.ok(states.indexOf('reconnecting') >= 0 && states.indexOf('reconnecting') < states.indexOf('recovered'),
          `states: ${states}`);
        assert.ok(!states.includes('missed'), `states: ${states}`);
        await say(a, 'alice is back');
        await waitTexts(b, ['while alice was away', 'alice is back']);
        const all = ['hello from alice', 'bob here', 'while alice was away', 'alice is back'];
        for (const p of [a, b]) await assertExactly(p, all);
        await screenshot(a, 'chat-demo-cluster.png');
        for (const p of [a, b]) await p.close();
        // The survivor's own count: A resumed there with ?since= and was not told it missed anything.
        assert.equal(await alive.stop(), 0, `exit code after SIGTERM; stderr: ${alive.stderr()}`);
        assert.match(alive.stdout(), /recovered [1-9]\d*, unrecovered 0,/, alive.stdout());
        console.log(`chat.test: survivor says: ${/recovered .*replayed \d+/.exec(alive.stdout())}`);
      } finally {
        // nginx first, gracefully: a SIGKILLed master would leave its worker behind.
        if (nginx) await stopChild(nginx.child, 'SIGQUIT');
        for (const n of nodes) await n.stop().catch(() => {});
        for (const c of [...children]) await stopChild(c, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
});
