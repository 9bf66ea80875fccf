# ws-server --mode pubsub with the opt-in subprotocol wsring.v1 (issue 12),
# driven by Python's `websockets`: a fresh subscription's "!position E:O"
# notice, every delivered message prefixed "E:O\n" with its opcode kept (raw
# clients get the bare bytes), resubscribing with ?since=E:O for exactly the
# missed messages then live ones (from WebSocket and HTTP publishers, across
# two reactors), "!unrecovered E:O" for a stale epoch, a history trimmed by
# count, age or bytes and --history-size 0 (where a topic nobody holds is
# forgotten: a new epoch), replay with permessage-deflate, 400 for a
# malformed since, and a 10,000-message soak (WSRING_SOAK_MESSAGES
# overrides) with subscribers that drop and come back. Payloads name their
# publisher and number, so loss, duplicates and reordering are all visible.
# Read next: proto/wsring_v1.hpp (the wire format), modes/topic_log.hpp.
import asyncio
import http.client
import json
import os
import random
import time
import unittest

import websockets  # Debian's python3-websockets (10.x): missing fails, never skips

from wsring_v1 import parse_v1
from wsring_harness import (HOST, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawClient,
                            Server, ServerTestMixin, aio_open, aio_recv_frame, build_frame,
                            per_backend, upgrade_request, ws_connect)

V1 = "wsring.v1"
API_KEY = "test-key-0123"
T = 10.0  # seconds any one expected message may take
# The soak's message count (even; at least 2,000): fewer for slow sanitizer builds.
SOAK_MESSAGES = int(os.environ.get("WSRING_SOAK_MESSAGES", "10000"))


def url_for(srv, topic, query=""):
    return srv.url("/" + topic + (("?" + query) if query else ""))


async def v1_open(srv, topic, query="", **kw):
    """A wsring.v1 subscriber on `topic`; checks the agreed subprotocol."""
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", T)
    ws = await ws_connect(url_for(srv, topic, query), subprotocols=[V1], **kw)
    if ws.subprotocol != V1:
        await ws.close()
        raise AssertionError("server agreed on %r, not %s" % (ws.subprotocol, V1))
    return ws


async def recv_v1(ws, timeout=T):
    return parse_v1(await asyncio.wait_for(ws.recv(), timeout))


async def fresh(test, srv, topic, **kw):
    """A fresh wsring.v1 subscription: (ws, its !position notice)."""
    ws = await v1_open(srv, topic, **kw)
    first = await recv_v1(ws)
    test.assertEqual(first.kind, "position", "a fresh subscription starts with !position: %r" % first)
    return ws, first


def expect_data(test, msg, epoch, offset, payload, text, who=""):
    test.assertEqual((msg.kind, msg.epoch, msg.offset, msg.payload, msg.text),
                     ("data", epoch, offset, payload, text), "%s: got %r" % (who, msg))


# ---------------------------------------------------------------- publishers

def http_conn(srv, timeout=T):
    if srv.tls:
        return http.client.HTTPSConnection(HOST, srv.port, timeout=timeout, context=srv.ssl())
    return http.client.HTTPConnection(HOST, srv.port, timeout=timeout)


def http_publish(conn, topic, body, text, key=API_KEY):
    """POST /publish/<topic> on an http.client connection → (epoch, offset)."""
    ctype = "text/plain; charset=utf-8" if text else "application/octet-stream"
    conn.request("POST", "/publish/" + topic, body=body,
                 headers={"Authorization": "apikey " + key, "Content-Type": ctype})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise AssertionError("publish answered %d %r" % (resp.status, data))
    doc = json.loads(data)
    return doc["epoch"], doc["offset"]


def http_publish_once(srv, topic, body, text):
    conn = http_conn(srv)
    try:
        return http_publish(conn, topic, body, text)
    finally:
        conn.close()


class RawPeer:
    """A raw asyncio client (no subprotocol) that publishes and reads frames."""

    @classmethod
    async def open(cls, srv, topic):
        self = cls()
        self.reader, self.writer = await aio_open(srv.port, timeout=T, path="/" + topic)
        return self

    async def send(self, payload, text):
        self.writer.write(build_frame(OP_TEXT if text else OP_BINARY, payload))
        await self.writer.drain()

    async def recv(self, timeout=T):
        """The next data message → (payload, text)."""
        while True:
            f = await aio_recv_frame(self.reader, timeout=timeout)
            if f.opcode in (OP_PING, OP_PONG):
                continue
            if f.opcode == OP_CLOSE or not f.fin:
                raise AssertionError("raw subscriber: unexpected %r" % f)
            return f.payload, f.opcode == OP_TEXT

    def close(self):
        self.writer.close()


def status_of(srv, path, protocol=V1):
    """The HTTP status of an upgrade request on `path` (101, 400, ...)."""
    headers = {"Sec-WebSocket-Protocol": protocol} if protocol else None
    with RawClient(srv.port, timeout=T) as c:
        c.send(upgrade_request(path, headers=headers)[0])
        status, hdrs, _ = c.read_response(body=False)
        return status, hdrs


# ---------------------------------------------------------------- tests on one server

class PositionsBase(ServerTestMixin):
    threads = 2
    server_args = ("--api-key", API_KEY, "--ping-interval", 0, "--idle-timeout", 0)

    @classmethod
    def setUpClass(cls):
        # ServerTestMixin's, in pub/sub mode (its tearDownClass stops it).
        cls.server = Server(*cls.server_args, mode="pubsub", backend=cls.backend,
                            threads=cls.threads, tls=cls.tls)
        cls.server.start()

    def run_async(self, coro, timeout=60):
        return asyncio.run(asyncio.wait_for(coro, timeout))

    def test_fresh_position_then_prefixed_messages(self):
        """!position E:0, then E:1.. with the published bytes and opcodes;
        raw subscribers get the bare bytes; raw, v1 and HTTP publishers."""
        srv, topic = self.server, "pos/fresh"

        async def scenario():
            sub, first = await fresh(self, srv, topic)
            self.assertEqual(first.offset, 0, "no message yet: %r" % first)
            epoch = first.epoch
            raw_sub = await RawPeer.open(srv, topic)
            raw_pub = await RawPeer.open(srv, topic)
            v1_pub, pub_first = await fresh(self, srv, topic)
            self.assertEqual((pub_first.epoch, pub_first.offset), (epoch, 0))
            sent = [(b"one", True, "raw"), (b"\x00\x01two\n\xff", False, "v1"),
                     (b"\xff\xfe three", False, "raw"), ("four \u00e9\n\u20ac".encode(), True, "v1"),
                     (b"five", True, "http"), (b"\x80six", False, "http")]
            for i, (payload, text, how) in enumerate(sent, 1):
                if how == "raw":
                    await raw_pub.send(payload, text)
                elif how == "v1":
                    await v1_pub.send(payload.decode() if text else payload)
                else:
                    e, off = http_publish_once(srv, topic, payload, text)
                    self.assertEqual((e, off), (epoch, i), "the publish answer")
                # Waiting for each one fixes the order across publishers.
                expect_data(self, await recv_v1(sub), epoch, i, payload, text, "v1 subscriber")
            for i, (payload, text, _) in enumerate(sent, 1):
                expect_data(self, await recv_v1(v1_pub), epoch, i, payload, text, "v1 publisher")
                self.assertEqual(await raw_sub.recv(), (payload, text), "raw subscriber #%d" % i)
                self.assertEqual(await raw_pub.recv(), (payload, text), "raw publisher #%d" % i)
            # A marker: nothing came in between (no notice, no duplicate).
            await raw_pub.send(b"marker", True)
            expect_data(self, await recv_v1(sub), epoch, len(sent) + 1, b"marker", True, "marker")
            self.assertEqual(await raw_sub.recv(), (b"marker", True))
            # A second fresh subscriber stands at the current position.
            late, late_first = await fresh(self, srv, topic)
            self.assertEqual((late_first.epoch, late_first.offset), (epoch, len(sent) + 1))
            for ws in (sub, v1_pub, late):
                await ws.close()
            raw_sub.close()
            raw_pub.close()
        self.run_async(scenario())

    def test_raw_clients_ignore_query_and_get_no_protocol(self):
        """No subprotocol offered (or another one): today's raw behaviour,
        a malformed since ignored, no Sec-WebSocket-Protocol in the 101."""
        srv, topic = self.server, "pos/raw"
        for path in ("/%s?since=abc" % topic, "/%s?since=a:1&since=a:2" % topic,
                     "/%s?since=zz:3" % topic):
            status, hdrs = status_of(srv, path, protocol=None)
            self.assertEqual(status, 101, path)
            self.assertNotIn("sec-websocket-protocol", hdrs, path)
        status, hdrs = status_of(srv, "/" + topic, protocol="other.v9")
        self.assertEqual(status, 101)
        self.assertNotIn("sec-websocket-protocol", hdrs, "a protocol nobody offered")
        status, hdrs = status_of(srv, "/" + topic)
        self.assertEqual((status, hdrs.get("sec-websocket-protocol")), (101, V1))

        async def scenario():
            raw = await ws_connect(url_for(srv, topic, "since=abc"), ping_interval=None)
            other = await ws_connect(url_for(srv, topic), subprotocols=["other.v9"],
                                     ping_interval=None)
            self.assertIsNone(raw.subprotocol)
            self.assertIsNone(other.subprotocol)
            await raw.send(b"\x01bare")
            await raw.send("bare text")
            for ws in (raw, other):
                self.assertEqual(await asyncio.wait_for(ws.recv(), T), b"\x01bare")
                self.assertEqual(await asyncio.wait_for(ws.recv(), T), "bare text")
                await ws.close()
        self.run_async(scenario())

    def test_resubscribe_gets_missed_then_live(self):
        """A subscriber leaves and comes back with since, four times, while
        WebSocket (raw and v1) and HTTP publishers go on: exactly the missed
        messages, then live ones; eight other subscribers spread over both
        reactors see the same stream."""
        srv, topic = self.server, "pos/resub"

        async def scenario():
            holders = [await fresh(self, srv, topic) for _ in range(4)]
            raws = [await RawPeer.open(srv, topic) for _ in range(4)]
            epoch = holders[0][1].epoch
            for _, first in holders:
                self.assertEqual((first.epoch, first.offset), (epoch, 0))
            v1_pub = holders[0][0]
            raw_pub = raws[0]
            log = []  # (payload, text) by offset - 1
            http = http_conn(srv)

            async def publish(n):
                for _ in range(n):
                    k = len(log) + 1
                    payload, text = b"msg-%d" % k, k % 3 != 1
                    if k % 3 == 0:
                        e, off = http_publish(http, topic, payload, text)
                        self.assertEqual((e, off), (epoch, k))
                    elif k % 3 == 1:
                        await raw_pub.send(payload, text)
                    else:
                        await v1_pub.send(payload.decode())
                    log.append((payload, text))
                    # The last holder has it: it is in the history now.
                    expect_data(self, await recv_v1(holders[-1][0]), epoch, k, payload, text,
                                "holder")

            sub, first = await fresh(self, srv, topic)
            self.assertEqual((first.epoch, first.offset), (epoch, 0))
            await publish(3)
            for k in range(1, 4):
                expect_data(self, await recv_v1(sub), epoch, k, *log[k - 1], "subscriber")
            last = 3
            for round_ in range(4):
                await sub.close()
                await publish(2 + round_ * 3)
                sub = await v1_open(srv, topic, "since=%s:%d" % (epoch, last))
                missed = len(log)
                for k in range(last + 1, missed + 1):
                    expect_data(self, await recv_v1(sub), epoch, k, *log[k - 1],
                                "round %d replay" % round_)
                await publish(1)  # live
                expect_data(self, await recv_v1(sub), epoch, missed + 1, *log[missed],
                            "round %d live" % round_)
                last = missed + 1
            http.close()
            # Everyone else saw the whole stream once, in order.
            for i, (ws, _) in enumerate(holders[:-1]):
                for k in range(1, len(log) + 1):
                    expect_data(self, await recv_v1(ws), epoch, k, *log[k - 1], "holder %d" % i)
            for i, r in enumerate(raws):
                for k in range(1, len(log) + 1):
                    self.assertEqual(await r.recv(), log[k - 1], "raw %d #%d" % (i, k))
            for ws, _ in holders:
                await ws.close()
            await sub.close()
            for r in raws:
                r.close()
        self.run_async(scenario())

    def test_since_current_no_notice(self):
        """since == the current position: no notice, the next message is live."""
        srv, topic = self.server, "pos/current"

        async def scenario():
            holder, first = await fresh(self, srv, topic)
            epoch = first.epoch
            for k in (1, 2):
                http_publish_once(srv, topic, b"m%d" % k, True)
                expect_data(self, await recv_v1(holder), epoch, k, b"m%d" % k, True, "holder")
            sub = await v1_open(srv, topic, "since=%s:2" % epoch)
            await holder.send("live")
            expect_data(self, await recv_v1(sub), epoch, 3, b"live", True, "resubscriber")
            await sub.close()
            await holder.close()
        self.run_async(scenario())

    def test_stale_epoch_and_future_offset_unrecovered(self):
        srv, topic = self.server, "pos/stale"

        async def scenario():
            holder, first = await fresh(self, srv, topic)
            epoch = first.epoch
            for k in (1, 2):
                http_publish_once(srv, topic, b"m%d" % k, False)
                expect_data(self, await recv_v1(holder), epoch, k, b"m%d" % k, False, "holder")
            stale = "Zq" if epoch != "Zq" else "Zr"
            longer = epoch + "x" if len(epoch) < 32 else epoch[:-1]
            current = 2
            # Each after the position moved on (by one live message per round).
            for make in (lambda: "%s:1" % stale, lambda: "%s:0" % stale, lambda: "%s:1" % longer,
                         lambda: "%s:%d" % (epoch, current + 1), lambda: "%s:99" % epoch):
                since = make()
                sub = await v1_open(srv, topic, "since=" + since)
                note = await recv_v1(sub)
                self.assertEqual((note.kind, note.epoch, note.offset),
                                 ("unrecovered", epoch, current), "since=%s: %r" % (since, note))
                # Then live messages, from the next offset on.
                await holder.send(b"after " + since.encode())
                current += 1
                expect_data(self, await recv_v1(sub), epoch, current, b"after " + since.encode(),
                            False, "since=%s, live" % since)
                expect_data(self, await recv_v1(holder), epoch, current, b"after " + since.encode(),
                            False, "holder")
                await sub.close()
            await holder.close()
        self.run_async(scenario())

    def test_malformed_since_400(self):
        srv = self.server
        bad = ["since=abc", "since=:5", "since=e:", "since=e:-1", "since=e:1x", "since=",
               "since=e:+1", "since=e:1:2", "since=e%3Ax", "since=e:18446744073709551616",
               "since=%s:1" % ("a" * 33), "since=a:1&since=a:2", "since=a%20b:1",
               "x=1&since=e.f:1"]
        for q in bad:
            with self.subTest(query=q):
                status, _ = status_of(srv, "/pos/bad?" + q)
                self.assertEqual(status, 400, q)
        # The edges that are fine: 32 characters, 20 digits, leading zeros.
        for q in ("since=%s:1" % ("a" * 32), "since=e:18446744073709551615", "since=e:007",
                  "other=1&since=A-z_9:0&more"):
            with self.subTest(query=q):
                status, hdrs = status_of(srv, "/pos/good?" + q)
                self.assertEqual((status, hdrs.get("sec-websocket-protocol")), (101, V1), q)

        async def scenario():
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                await v1_open(srv, "pos/bad", "since=e:1x")
            self.assertEqual(cm.exception.status_code, 400)
            ws, _ = await fresh(self, srv, "pos/bad")  # still serving
            await ws.close()
        self.run_async(scenario())

    def test_percent_encoded_since(self):
        srv, topic = self.server, "pos/pct"

        async def scenario():
            holder, first = await fresh(self, srv, topic)
            epoch = first.epoch
            for k in range(1, 5):
                http_publish_once(srv, topic, b"m%d" % k, True)
                expect_data(self, await recv_v1(holder), epoch, k, b"m%d" % k, True, "holder")
            for query, start in (("since=%s%%3A2" % epoch, 3), ("a=%%3A&since=%s%%3a3" % epoch, 4)):
                sub = await v1_open(srv, topic, query)
                for k in range(start, 5):
                    expect_data(self, await recv_v1(sub), epoch, k, b"m%d" % k, True, query)
                await sub.close()
            await holder.close()
        self.run_async(scenario())


# ---------------------------------------------------------------- history bounds

class HistoryBase:
    threads = 2

    def server(self, *args):
        return Server("--api-key", API_KEY, "--ping-interval", 0, "--idle-timeout", 0, *args,
                      mode="pubsub", backend=self.backend, threads=self.threads)

    def stop_ok(self, srv):
        self.assertEqual(srv.stop(timeout=20), 0, srv.stderr_text())

    async def publish_seen(self, srv, holder, topic, epoch, first, count):
        """HTTP-publishes m<first>..m<first+count-1>; the holder sees each."""
        conn = http_conn(srv)
        try:
            for k in range(first, first + count):
                self.assertEqual(http_publish(conn, topic, b"m%d" % k, True), (epoch, k))
                expect_data(self, await recv_v1(holder), epoch, k, b"m%d" % k, True, "holder")
        finally:
            conn.close()

    async def unrecovered(self, srv, topic, since, epoch, offset):
        sub = await v1_open(srv, topic, "since=" + since)
        note = await recv_v1(sub)
        self.assertEqual((note.kind, note.epoch, note.offset), ("unrecovered", epoch, offset),
                         "since=%s: %r" % (since, note))
        return sub

    def test_trimmed_history(self):
        """--history-size 5, 20 published: the history holds 16..20, so since
        E:15 .. E:20 replay the rest; E:14, E:2, E:0 get !unrecovered E:20."""
        with self.server("--history-size", 5) as srv:
            async def scenario():
                holder, first = await fresh(self, srv, "h/trim")
                epoch = first.epoch
                await self.publish_seen(srv, holder, "h/trim", epoch, 1, 20)
                for since in (0, 2, 14):
                    sub = await self.unrecovered(srv, "h/trim", "%s:%d" % (epoch, since), epoch, 20)
                    await sub.close()
                for since in (15, 19, 20):
                    sub = await v1_open(srv, "h/trim", "since=%s:%d" % (epoch, since))
                    for k in range(since + 1, 21):
                        expect_data(self, await recv_v1(sub), epoch, k, b"m%d" % k, True,
                                    "since %d" % since)
                    await sub.close()
                # Live traffic after an !unrecovered: the next offset, to both.
                sub = await self.unrecovered(srv, "h/trim", "%s:2" % epoch, epoch, 20)
                await holder.send("live")
                expect_data(self, await recv_v1(sub), epoch, 21, b"live", True, "after unrecovered")
                expect_data(self, await recv_v1(holder), epoch, 21, b"live", True, "holder")
                await sub.close()
                await holder.close()
            asyncio.run(asyncio.wait_for(scenario(), 60))
            self.stop_ok(srv)

    def test_history_max_bytes(self):
        """--history-max-bytes 16K, 40 messages of 1,000 bytes: the oldest are
        gone (since E:1 → !unrecovered E:40), the newest two still replay."""
        with self.server("--history-max-bytes", "16K") as srv:
            async def scenario():
                holder, first = await fresh(self, srv, "h/bytes")
                epoch = first.epoch
                conn = http_conn(srv)
                for k in range(1, 41):
                    body = (b"m%d:" % k).ljust(1000, b".")
                    self.assertEqual(http_publish(conn, "h/bytes", body, False), (epoch, k))
                    expect_data(self, await recv_v1(holder), epoch, k, body, False, "holder")
                conn.close()
                sub = await self.unrecovered(srv, "h/bytes", "%s:1" % epoch, epoch, 40)
                await sub.close()
                sub = await v1_open(srv, "h/bytes", "since=%s:38" % epoch)
                for k in (39, 40):
                    expect_data(self, await recv_v1(sub), epoch, k, (b"m%d:" % k).ljust(1000, b"."),
                                False, "since 38")
                await holder.send("live")
                expect_data(self, await recv_v1(sub), epoch, 41, b"live", True, "live")
                for ws in (sub, holder):
                    await ws.close()
            asyncio.run(asyncio.wait_for(scenario(), 60))
            self.stop_ok(srv)

    def test_replay_compressed(self):
        """websockets offers permessage-deflate: with --deflate (shared or per
        connection contexts) the replay and live messages arrive exact."""
        for extra in (("--deflate",), ("--deflate", "--deflate-takeover")):
            with self.subTest(args=extra), self.server(*extra) as srv:
                async def scenario():
                    holder, first = await fresh(self, srv, "h/z")
                    epoch = first.epoch
                    sub, _ = await fresh(self, srv, "h/z")
                    self.assertTrue(sub.extensions, "no permessage-deflate agreed")
                    texts = ["%d: %s" % (k, "compressible words " * (20 * k)) for k in range(1, 7)]
                    await holder.send(texts[0])
                    expect_data(self, await recv_v1(sub), epoch, 1, texts[0].encode(), True, "live")
                    await sub.close()
                    for k in range(2, 6):
                        await holder.send(texts[k - 1] if k % 2 else texts[k - 1].encode())
                    for k in range(1, 6):
                        self.assertEqual((await recv_v1(holder)).offset, k)
                    sub = await v1_open(srv, "h/z", "since=%s:1" % epoch)
                    for k in range(2, 6):
                        expect_data(self, await recv_v1(sub), epoch, k, texts[k - 1].encode(),
                                    k % 2 == 1, "replay")
                    await holder.send(texts[5])
                    expect_data(self, await recv_v1(sub), epoch, 6, texts[5].encode(), True, "live")
                    for ws in (sub, holder):
                        await ws.close()
                asyncio.run(asyncio.wait_for(scenario(), 60))
                self.stop_ok(srv)

    def test_history_off(self):
        """--history-size 0: positions still count; since == current gets no
        notice, anything behind it gets !unrecovered."""
        with self.server("--history-size", 0) as srv:
            async def scenario():
                holder, first = await fresh(self, srv, "h/off")
                epoch = first.epoch
                self.assertEqual(first.offset, 0)
                await self.publish_seen(srv, holder, "h/off", epoch, 1, 3)
                for since in (0, 2):
                    sub = await self.unrecovered(srv, "h/off", "%s:%d" % (epoch, since), epoch, 3)
                    await sub.close()
                sub = await v1_open(srv, "h/off", "since=%s:3" % epoch)
                await holder.send(b"live")
                expect_data(self, await recv_v1(sub), epoch, 4, b"live", False, "since == current")
                expect_data(self, await recv_v1(holder), epoch, 4, b"live", False, "holder")
                late, note = await fresh(self, srv, "h/off")
                self.assertEqual((note.epoch, note.offset), (epoch, 4))
                for ws in (sub, holder, late):
                    await ws.close()
                # No subscriber and no history left: the topic is forgotten,
                # and comes back as a new epoch from 0 (docs/protocol-v1.md §2).
                # Its reactors may take a moment to let go: wait for the effect.
                deadline = time.monotonic() + T
                while True:
                    again, note = await fresh(self, srv, "h/off")
                    await again.close()
                    if note.epoch != epoch or time.monotonic() > deadline:
                        break
                self.assertNotEqual(note.epoch, epoch, "a forgotten topic kept its epoch")
                self.assertEqual(note.offset, 0)
            asyncio.run(asyncio.wait_for(scenario(), 60))
            self.stop_ok(srv)

    def test_ttl_expiry(self):
        """--history-ttl 1: recoverable before, !unrecovered after ~2.5 quiet
        seconds; live traffic still flows. Topic a keeps a subscriber (its
        epoch stays); topic b has none (it may be forgotten: a new epoch at 0)."""
        with self.server("--history-ttl", 1) as srv:
            async def scenario():
                holder, first = await fresh(self, srv, "h/ttl-a")
                ea = first.epoch
                await self.publish_seen(srv, holder, "h/ttl-a", ea, 1, 3)
                lone, lfirst = await fresh(self, srv, "h/ttl-b")
                eb = lfirst.epoch
                self.assertEqual(http_publish_once(srv, "h/ttl-b", b"b1", True), (eb, 1))
                expect_data(self, await recv_v1(lone), eb, 1, b"b1", True, "lone")
                await lone.close()
                # Before the ttl: recoverable (so what follows is the ttl's doing).
                probe = await v1_open(srv, "h/ttl-a", "since=%s:1" % ea)
                for k in (2, 3):
                    expect_data(self, await recv_v1(probe), ea, k, b"m%d" % k, True, "probe")
                await probe.close()
                # The one sleep: the history must age; nothing else happens meanwhile.
                await asyncio.sleep(2.5)
                sub = await self.unrecovered(srv, "h/ttl-a", "%s:1" % ea, ea, 3)
                await holder.send("live-a")
                expect_data(self, await recv_v1(sub), ea, 4, b"live-a", True, "after ttl")
                expect_data(self, await recv_v1(holder), ea, 4, b"live-a", True, "holder")
                back = await v1_open(srv, "h/ttl-b", "since=%s:0" % eb)
                note = await recv_v1(back)
                self.assertEqual(note.kind, "unrecovered", "topic b after the ttl: %r" % note)
                expected = 1 if note.epoch == eb else 0
                self.assertEqual(note.offset, expected, "topic b's position: %r" % note)
                e, off = http_publish_once(srv, "h/ttl-b", b"b-live", False)
                self.assertEqual((e, off), (note.epoch, expected + 1))
                expect_data(self, await recv_v1(back), e, off, b"b-live", False, "topic b live")
                for ws in (sub, holder, back):
                    await ws.close()
            asyncio.run(asyncio.wait_for(scenario(), 60))
            self.stop_ok(srv)


# ---------------------------------------------------------------- soak

class Progress:
    """How many messages the WebSocket publisher has written, and a way to
    wait for it (or for subscribers getting ready) without polling."""

    def __init__(self):
        self.sent = 0       # by the WebSocket publisher
        self.answered = 0   # HTTP publishes answered (set from the HTTP thread)
        self.ready = 0
        self._changed = asyncio.Event()

    def bump(self):
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    async def until(self, pred):
        while not pred():
            await self._changed.wait()


class SoakBase:
    threads = 2
    total = SOAK_MESSAGES  # half over WebSocket, half over HTTP
    subscribers = 20
    early = 14          # subscribed before the first message; the rest join late
    seed = 12

    def test_soak_resubscribe(self):
        """10,000 numbered messages (half from a WebSocket client, half over
        one HTTP keep-alive connection) while 20 wsring.v1 subscribers drop
        (close or abort) and come back with since; six join mid-stream. Each
        subscriber's offsets run contiguously from its first position to
        10,000 without duplicates, and every offset carries the same message
        for everyone: each publisher's messages once, in order, opcodes kept."""
        rng = random.Random(self.seed)
        plans = []
        for i in range(self.subscribers):
            join = 0 if i < self.early else rng.randrange(1, self.total // 2)
            drops = sorted(rng.sample(range(1, self.total), rng.randrange(1, 8)))
            plans.append((join, drops, rng.random() < 0.5))
        with Server("--api-key", API_KEY, "--ping-interval", 0, "--idle-timeout", 0,
                    "--history-size", 20000, "--max-backpressure", "64M",
                    mode="pubsub", backend=self.backend, threads=self.threads) as srv:
            async def scenario():
                progress = Progress()
                subs = [asyncio.ensure_future(self.subscriber(srv, i, plans[i], progress, recs[i]))
                        for i in range(self.subscribers)]
                await progress.until(lambda: progress.ready >= self.early)
                ws_pub = asyncio.ensure_future(self.ws_publisher(srv, progress))
                answers = await asyncio.to_thread(self.http_publisher, srv, progress,
                                                  asyncio.get_running_loop())
                pub, reader = await ws_pub
                done = await asyncio.gather(*subs)
                pub.close()
                reader.cancel()
                return done, answers

            # Filled in as they go, so a timeout can say where each one stood.
            recs = [{"first": None, "epoch": None, "offsets": [], "messages": {}, "reconnects": 0}
                    for _ in range(self.subscribers)]
            t0 = time.monotonic()
            try:
                results, answers = asyncio.run(asyncio.wait_for(scenario(), 50))
            except asyncio.TimeoutError:
                raise AssertionError("the soak did not finish in 50 s (WSRING_SOAK_MESSAGES"
                                     " makes it shorter); last offsets: %r"
                                     % [r["offsets"][-1:] for r in recs]) from None
            print("\nsoak: %d messages, %d subscribers, %d reconnects in %.1f s"
                  % (self.total, self.subscribers, sum(r["reconnects"] for r in results),
                     time.monotonic() - t0))
            self.assertEqual(srv.stop(timeout=20), 0, srv.stderr_text())
        self.check_soak(results, answers)

    async def ws_publisher(self, srv, progress):
        """A raw (no subprotocol) publisher; it reads everything it is sent
        (its own messages and the HTTP ones), as a subscriber must."""
        pub = await RawPeer.open(srv, "soak")

        async def drain():  # the bytes only: this client checks nothing it is sent
            while await pub.reader.read(1 << 16):
                pass
        reader = asyncio.ensure_future(drain())
        for i in range(self.total // 2):
            # Keep pace with the HTTP publisher, so the two interleave throughout.
            await progress.until(lambda: progress.answered >= i - 50)
            text = i % 2 == 0
            pub.writer.write(build_frame(OP_TEXT if text else OP_BINARY, b"ws-%d" % i))
            if i % 25 == 24 or i == self.total // 2 - 1:
                await pub.writer.drain()
                progress.sent = i + 1
                progress.bump()
        return pub, reader

    def http_publisher(self, srv, progress, loop):
        """POSTs http-0, http-1, ... (half the total) on one keep-alive
        connection, in a thread."""
        conn = http_conn(srv, timeout=30)
        answers = []
        try:
            for i in range(self.total // 2):
                answers.append(http_publish(conn, "soak", b"http-%d" % i, i % 2 == 1))
                if i % 25 == 24:
                    progress.answered = i + 1
                    loop.call_soon_threadsafe(progress.bump)
                if i == 0:
                    sock = conn.sock
                elif conn.sock is not sock:
                    raise AssertionError("keep-alive: http.client reconnected at request %d" % i)
        finally:
            conn.close()
        return answers

    async def subscriber(self, srv, idx, plan, progress, rec):
        join, drops, abort = plan
        await progress.until(lambda: progress.sent >= join)
        ws = await v1_open(srv, "soak", max_queue=None)
        first = parse_v1(await asyncio.wait_for(ws.recv(), 30))
        if first.kind != "position":
            raise AssertionError("subscriber %d: a fresh subscription began %r" % (idx, first))
        rec["first"], rec["epoch"] = first.offset, first.epoch
        progress.ready += 1
        progress.bump()
        last = first.offset
        while last < self.total:
            try:
                m = parse_v1(await ws.recv())
            except websockets.exceptions.ConnectionClosed as e:
                raise AssertionError("subscriber %d: closed by the server after offset %d: %s"
                                     % (idx, last, e)) from e
            if m.kind != "data" or m.epoch != rec["epoch"]:
                raise AssertionError("subscriber %d: %r after %s:%d (%d reconnects)"
                                     % (idx, m, rec["epoch"], last, rec["reconnects"]))
            rec["offsets"].append(m.offset)
            rec["messages"][m.offset] = (m.payload, m.text)
            last = m.offset
            if drops and last >= drops[0]:
                while drops and last >= drops[0]:
                    drops.pop(0)
                if abort:
                    ws.transport.abort()
                    await asyncio.wait_for(ws.wait_closed(), 10)
                else:
                    await asyncio.wait_for(ws.close(), 10)
                rec["reconnects"] += 1
                ws = await v1_open(srv, "soak", "since=%s:%d" % (rec["epoch"], last),
                                   max_queue=None)
        await asyncio.wait_for(ws.close(), 10)
        return rec

    def check_soak(self, results, answers):
        epochs = {e for e, _ in answers}
        self.assertEqual(len(epochs), 1, "the HTTP answers name several epochs: %r" % epochs)
        offs = [o for _, o in answers]
        self.assertEqual(offs, sorted(set(offs)), "HTTP answer offsets increase")
        canon = {}  # offset → (payload, text), as the first subscriber to see it saw it
        for i, rec in enumerate(results):
            self.assertEqual(rec["epoch"], answers[0][0], "subscriber %d's epoch" % i)
            if i < self.early:
                self.assertEqual(rec["first"], 0, "subscriber %d started after a message" % i)
            got, expected = rec["offsets"], list(range(rec["first"] + 1, self.total + 1))
            if got != expected:
                bad = next((k for k, (a, b) in enumerate(zip(got, expected)) if a != b),
                           min(len(got), len(expected)))
                raise AssertionError(
                    "subscriber %d (first %d, %d reconnects): offsets differ at #%d: got %r,"
                    " expected %r" % (i, rec["first"], rec["reconnects"], bad,
                                      got[max(0, bad - 3):bad + 3], expected[max(0, bad - 3):bad + 3]))
            for off, msg in rec["messages"].items():
                if canon.setdefault(off, msg) != msg:
                    raise AssertionError("offset %d: subscriber %d got %r, another %r"
                                         % (off, i, msg, canon[off]))
        self.assertEqual(sorted(canon), list(range(1, self.total + 1)))
        seq = {"ws": [], "http": []}
        for off in range(1, self.total + 1):
            payload, text = canon[off]
            who, n = payload.decode().split("-")
            seq[who].append(int(n))
            want_text = int(n) % 2 == (0 if who == "ws" else 1)
            self.assertEqual(text, want_text, "offset %d (%r): opcode" % (off, payload))
        self.assertEqual(seq["ws"], list(range(self.total // 2)), "the WebSocket publisher's order")
        self.assertEqual(seq["http"], list(range(self.total // 2)), "the HTTP publisher's order")
        for k, (_, off) in enumerate(answers):
            self.assertEqual(canon[off][0], b"http-%d" % k, "HTTP answer %d's offset" % k)
        self.assertGreater(sum(r["reconnects"] for r in results), 20)


for _base in (PositionsBase, HistoryBase, SoakBase):
    per_backend(globals(), _base)
del _base

if __name__ == "__main__":
    unittest.main()
