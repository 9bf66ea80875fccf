// wss:// with npm's `ws` client (issue 10): the server always speaks TLS here,
// and ws trusts only the test CA ({ ca }: the name and chain are verified).
// Echo of text and binary at every length-encoding boundary up to 16 MiB, the
// close handshake with several codes, ping/pong, ALPN and the TLS versions.
// One server per backend (WSRING_BACKENDS); every wait has a timeout.
import { describe, it as nodeIt, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import {
  HOST, backends, closed as closedWs, nextMessage as nextMessageWs, openWs, startServer, tlsOptions, utf8Text,
  withTimeout,
} from './harness.mjs';

const MiB = 1 << 20;
const SIZES = [0, 1, 125, 126, 65535, 65536, MiB, 16 * MiB];
const T = 30000;
const open = (url) => openWs(url, { maxPayload: 17 * MiB, ...tlsOptions(true) }, T);
const nextMessage = (ws) => nextMessageWs(ws, T);
const closed = (ws) => closedWs(ws, T);

for (const backend of backends()) {
  describe(`ws-server over TLS, ws client (${backend})`, { timeout: 180000 }, () => {
    let server;
    let skipReason = null;
    before(async () => {
      try {
        server = await startServer({ backend, tls: true, args: ['--ping-interval', '0'] });
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

    it('is wss://', () => {
      assert.match(server.url(), /^wss:\/\//);
    });

    it('echoes text and binary at every boundary up to 16 MiB', async () => {
      const ws = await open(server.url());
      try {
        for (const n of SIZES) {
          const text = utf8Text(n);
          ws.send(text);
          let got = await nextMessage(ws);
          assert.equal(got.isBinary, false, `text ${n}: type`);
          assert.ok(got.data.toString('utf8') === text, `text ${n}: payload`);
          const bin = randomBytes(n);
          ws.send(bin);
          got = await nextMessage(ws);
          assert.equal(got.isBinary, true, `binary ${n}: type`);
          assert.ok(Buffer.from(got.data).equals(bin), `binary ${n}: payload`);
        }
      } finally { ws.terminate(); }
    });

    for (const code of [1000, 1001, 3000, 4999]) {
      it(`close handshake: code ${code} comes back`, async () => {
        const ws = await open(server.url());
        const done = closed(ws);
        ws.close(code, 'bye');
        assert.equal((await done).code, code);
      });
    }

    it('answers a ping with a pong of the same payload', async () => {
      const ws = await open(server.url());
      try {
        const payload = randomBytes(125);
        const pong = withTimeout(new Promise((resolve) => ws.once('pong', resolve)), T, 'pong');
        ws.ping(payload);
        assert.ok((await pong).equals(payload));
      } finally { ws.terminate(); }
    });

    for (const version of ['TLSv1.2', 'TLSv1.3']) {
      it(`${version} with ALPN http/1.1`, async () => {
        const sock = tls.connect({
          host: HOST, port: server.port, minVersion: version, maxVersion: version,
          ALPNProtocols: ['http/1.1'], ...tlsOptions(true),
        });
        try {
          await withTimeout(new Promise((resolve, reject) => {
            sock.once('secureConnect', resolve); sock.once('error', reject);
          }), T, 'TLS handshake');
          assert.equal(sock.getProtocol(), version);
          assert.equal(sock.alpnProtocol, 'http/1.1');
        } finally { sock.destroy(); }
      });
    }
  });
}
