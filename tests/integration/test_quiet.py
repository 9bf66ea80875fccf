# The quiet cases, as a new user meets them: a server left alone for longer
# than its longest-armed deadline (the handshake timeout), then traffic. Every
# timer armed after the silence must count from when the traffic came: the
# first client echoes, /healthz answers, a burst of 100 connections all
# upgrade. Also: one process per port — a second ws-server on a port that a
# running one holds fails with "Address already in use" and exits non-zero,
# while the reactors of one process still share their port, and a server
# restarted right after a SIGKILL gets its port back.
#
# The waits here are the point of the tests (silence longer than a timer), so
# they are real sleeps, each commented; everything else waits on events.
import asyncio
import socket
import subprocess
import time
import unittest

from wsring_harness import (HOST, OP_TEXT, RawClient, Server, free_port, http_request, per_backend,
                            server_command, skip_unless_unfiltered, ws_connect)


async def echo_once(url, text):
    async with ws_connect(url, open_timeout=5, close_timeout=5) as ws:
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), 5)


async def burst(url, n):
    """n clients connect at once (one loop turn sees many accepts), each echoes."""
    async def one(i):
        async with ws_connect(url, open_timeout=10, close_timeout=5) as ws:
            await ws.send("burst %d" % i)
            return await asyncio.wait_for(ws.recv(), 10)
    return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)


class QuietBase:
    def check_after_silence(self, srv, silence):
        # The silence is the test: no connection, no timer armed, the reactor
        # sleeps until the next connection wakes it.
        time.sleep(silence)
        got = asyncio.run(asyncio.wait_for(echo_once(srv.url(), "hi"), 15))
        self.assertEqual(got, "hi", "the first client after %.1f s of silence" % silence)
        time.sleep(silence)  # quiet again, then a plain HTTP request
        status, _, body = http_request(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                       timeout=5)
        self.assertEqual((status, body), (200, b"ok\n"))
        time.sleep(silence)  # quiet again, then 100 connections in one burst
        results = asyncio.run(asyncio.wait_for(burst(srv.url(), 100), 60))
        failures = [r for r in results if not isinstance(r, str)]
        self.assertEqual(failures, [], "connections of the burst after silence failed")
        self.assertEqual(sorted(results), sorted("burst %d" % i for i in range(100)))

    def test_traffic_after_silence_longer_than_handshake_timeout(self):
        with Server("--handshake-timeout", "1", backend=self.backend) as srv:
            self.check_after_silence(srv, 1.6)

    def test_traffic_after_silence_with_default_timeouts(self):
        # The reported case, with the defaults (handshake deadline 10 s).
        with Server(backend=self.backend) as srv:
            time.sleep(12)  # longer than the default handshake timeout
            self.assertEqual(asyncio.run(asyncio.wait_for(echo_once(srv.url(), "hi"), 15)), "hi")

    def test_two_reactors_share_a_fixed_port(self):
        port = free_port()
        with Server("--port", port, backend=self.backend, threads=2) as srv:
            self.assertEqual(srv.port, port)
            for i in range(8):  # connections spread over both reactors
                with RawClient(port) as c:
                    c.handshake()
                    c.echo(OP_TEXT, b"client %d" % i)

    def test_second_server_on_a_taken_port_fails(self):
        port = free_port()
        with Server("--port", port, backend=self.backend, threads=2) as first:
            cmd = server_command() + ["--host", HOST, "--port", str(port), "--threads", "2",
                                      "--backend", self.backend]
            try:
                second = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                        timeout=15)
            except subprocess.TimeoutExpired:
                self.fail("a second server started on a taken port and kept serving")
            self.assertNotEqual(second.returncode, 0, "a second server started on a taken port")
            self.assertIn(b"Address already in use", second.stderr)
            self.assertNotIn(b"listening on", second.stdout)
            # ... and the first one still has every client.
            for i in range(8):
                with RawClient(port) as c:
                    c.handshake()
                    c.echo(OP_TEXT, b"still the first %d" % i)
            self.assertTrue(first.alive())

    def test_restart_right_after_sigkill_takes_the_port(self):
        # A supervisor restarts a crashed server at once, on its port. A
        # SIGKILLed io_uring server's listener outlives the process by a few
        # ms (the kernel tears its ring down afterwards): the new server must
        # wait that out, not exit with "Address already in use".
        port = free_port()
        for attempt in range(3):
            with Server("--port", port, backend=self.backend, threads=2) as old:
                idle = [socket.create_connection((HOST, port)) for _ in range(200)]
                try:
                    with RawClient(port) as c:  # the server has taken connections
                        c.handshake()
                        c.echo(OP_TEXT, b"before the kill")
                    old.kill()  # SIGKILL, by PID
                    with Server("--port", port, backend=self.backend, threads=2):
                        with RawClient(port) as c:
                            c.handshake()
                            c.echo(OP_TEXT, b"restart %d" % attempt)
                finally:
                    for s in idle:
                        s.close()

    def test_port_held_by_another_program_fails(self):
        with socket.socket() as holder:  # a plain listener, no SO_REUSEPORT
            holder.bind((HOST, 0))
            holder.listen()
            port = holder.getsockname()[1]
            cmd = server_command() + ["--host", HOST, "--port", str(port),
                                      "--backend", self.backend]
            out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(b"Address already in use", out.stderr)


@skip_unless_unfiltered
class QuietTest(QuietBase):
    pass


per_backend(globals(), QuietTest)
del QuietTest

if __name__ == "__main__":
    unittest.main()
