# Many ws-server nodes, one set of topics (issue 13): nodes started with
# --redis share pub/sub topics through real redis-server processes, behind a
# real nginx (deploy/nginx.conf). Each test starts its own Redis, nodes and
# nginx on free loopback ports and stops them by PID (cluster_harness.py).
# Checked here: delivery across 2 and 3 nodes (every subscriber on every node
# gets offsets 1..N, the same message at each offset, each publisher's
# messages once and in order), failover through nginx (a node SIGKILLed, its
# subscribers back with ?since= and no gap), a Redis restart with and without
# persistence (503 / !error / 1011 while it is down; repaired, also when
# it is still loading its data as the nodes reconnect; or !unrecovered and
# 1012), sharding over three Redis servers, a 5,000-client reconnect storm,
# an unreachable Redis at start, SIGTERM, permessage-deflate receivers on
# another node than the publisher's (compressed once per node). Not here: the wire
# format itself (test_positions.py), one node's publish API (test_publish_api.py).
# WSRING_CLUSTER_MESSAGES scales the delivery tests (default 10,000).
# Read next: docs/cluster.md, cluster/redis_broker.hpp.
import asyncio
import collections
import http.client
import json
import os
import re
import resource
import signal
import subprocess
import time
import unittest
import zlib

import websockets  # Debian's python3-websockets (10.x)

from cluster_harness import (V1, Cluster, HttpPublisher, backoff_delays, down_re, free_port,
                             node_command, redis_command, up_re)
from wsring_v1 import parse_v1
from wsring_harness import (HOST, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT,
                            aio_open, aio_recv_frame, aio_upgrade, backends, build_frame, check_101,
                            skip_over_tls, upgrade_request, wait_until)

API_KEY = "cluster-key-42"
T = 15.0  # seconds any one expected message may take (a Redis reconnect included)
MESSAGES = int(os.environ.get("WSRING_CLUSTER_MESSAGES", "10000"))
BACKEND = backends()[0]  # one backend: the cluster's logic is above the reactor
NODE_ARGS = ("--api-key", API_KEY, "--ping-interval", 0, "--idle-timeout", 0,
             "--history-size", 20000, "--max-backpressure", "64M")


# ---------------------------------------------------------------- clients

async def v1_open(url, **kw):
    """A wsring.v1 connection (websockets); checks the agreed subprotocol."""
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", T)
    kw.setdefault("close_timeout", 2)
    kw.setdefault("max_queue", None)
    ws = await websockets.connect(url, subprotocols=[V1], **kw)
    if ws.subprotocol != V1:
        await ws.close()
        raise AssertionError("%s: server agreed on %r, not %s" % (url, ws.subprotocol, V1))
    return ws


async def recv_v1(ws, timeout=T):
    return parse_v1(await asyncio.wait_for(ws.recv(), timeout))


def node_url(srv, topic, query=""):
    return "ws://%s:%d/%s%s" % (HOST, srv.port, topic, ("?" + query) if query else "")


class Stream:
    """What one client received on one topic: its epoch, the offset it
    started from, then (offset, payload, text) per data message."""

    def __init__(self, name):
        self.name, self.epoch, self.first, self.msgs = name, None, None, []

    def add(self, test, m):
        test.assertEqual(m.kind, "data", "%s: after %s:%s got %r" % (self.name, self.epoch, self.last, m))
        test.assertEqual((m.epoch, m.offset), (self.epoch, self.last + 1),
                         "%s: not the next message: %r" % (self.name, m))
        self.msgs.append((m.offset, m.payload, m.text))

    @property
    def last(self):
        return self.msgs[-1][0] if self.msgs else self.first

    def payloads(self):
        return [(p, t) for _, p, t in self.msgs]


async def fresh_v1(test, url, name):
    """A fresh wsring.v1 subscriber: (ws, Stream) after its !position."""
    ws = await v1_open(url)
    first = await recv_v1(ws)
    test.assertEqual(first.kind, "position", "%s: a fresh subscription starts with !position: %r"
                     % (name, first))
    s = Stream(name)
    s.epoch, s.first = first.epoch, first.offset
    return ws, s


class RawSub:
    """A raw subscriber (no subprotocol, asyncio): bare payloads, and the
    close code if the node closes it."""

    @classmethod
    async def open(cls, srv, topic, name):
        self = cls()
        self.name, self.got, self.close_code = name, [], None
        self.reader, self.writer = await aio_open(srv.port, timeout=T, path="/" + topic)
        return self

    async def recv(self, timeout=T):
        """The next data message (payload, text), or None after a close frame."""
        while True:
            f = await aio_recv_frame(self.reader, timeout=timeout)
            if f.opcode in (OP_PING, OP_PONG):
                continue
            if f.opcode == OP_CLOSE:
                self.close_code = f.close_code
                return None
            if not f.fin:
                raise AssertionError("%s: a fragment %r" % (self.name, f))
            return f.payload, f.opcode == OP_TEXT

    async def collect_until(self, payload):
        while True:
            m = await self.recv()
            if m is None:
                raise AssertionError("%s: closed %s after %d messages"
                                     % (self.name, self.close_code, len(self.got)))
            self.got.append(m)
            if m[0] == payload:
                return

    def send(self, payload, text=True):
        self.writer.write(build_frame(OP_TEXT if text else OP_BINARY, payload))

    def close(self):
        self.writer.close()


async def http_ok(pub, topic, body, text=True):
    status, data = await pub.publish(topic, body, text)
    if status != 200:
        raise AssertionError("POST /publish/%s on :%d answered %d %r" % (topic, pub.port, status, data))
    doc = json.loads(data)
    return doc["epoch"], doc["offset"]


async def until(pred, timeout, what):
    """Poll a condition on the event loop (for what only a log can tell)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("%s did not happen within %.0f s" % (what, timeout))
        await asyncio.sleep(0.02)


def count_log(srv, pattern):
    return len(re.findall(pattern, srv.stderr_text()))


# ---------------------------------------------------------------- the base

@skip_over_tls("nginx and Redis sit in front on plain loopback; TLS is test_tls.py's")
class ClusterBase(unittest.TestCase):
    def setUp(self):
        self.c = Cluster()
        self.dead = set()  # nodes a test killed on purpose
        self.stage = "starting"  # where a scenario stands, for a timeout's message
        self.where = lambda: ""  # more of the same: clients' last offsets

    def tearDown(self):
        # Nodes still running stop the way an operator stops them (SIGTERM):
        # a clean exit 0, and under the sanitizers no report (LeakSanitizer
        # speaks only at a real exit, never after the SIGKILL of stop_all).
        problems = []
        for n in self.c.nodes:
            if n in self.dead or not n.alive():
                continue
            try:
                code = n.stop()
            except AssertionError as e:
                problems.append("node :%s: %s" % (n.port, e))
                continue
            text = n.stderr_text()
            if code != 0 or "Sanitizer" in text or "runtime error" in text:
                problems.append("node :%s exited %s:\n%s" % (n.port, code, text[-3000:]))
        self.c.stop_all()
        if problems:
            self.fail("\n".join(problems))

    def nodes(self, redises, n, *extra, threads=1):
        return [self.c.node(redises, *NODE_ARGS, *extra, backend=BACKEND, threads=threads)
                for _ in range(n)]

    def run_async(self, coro, timeout):
        """Run a scenario; a failure carries every node's stderr and the logs
        of Redis and nginx, and a node that died unasked fails the test."""
        try:
            asyncio.run(asyncio.wait_for(coro, timeout))
        except asyncio.TimeoutError:
            raise AssertionError("the scenario did not finish in %d s; stage: %s %s\n%s"
                                 % (timeout, self.stage, self.where(), self.c.logs())) from None
        except Exception as e:
            raise AssertionError("%s: %s (stage: %s %s)\n%s" % (
                type(e).__name__, e, self.stage, self.where(), self.c.logs())) from e
        for n in self.c.nodes:
            if n not in self.dead:
                self.assertTrue(n.alive(), "node :%s died\n%s" % (n.port, self.c.logs()))


# ---------------------------------------------------------------- 1, 4: delivery

class DeliveryTest(ClusterBase):
    """Subscribers (v1 and raw) on every node, WebSocket and HTTP publishers
    on every node: offsets 1..N everywhere, the same message at each."""

    def test_two_nodes_one_redis(self):
        redis = self.c.redis()
        self.deliver(self.nodes([redis], 2), topics=4, total=MESSAGES // 2)

    def test_three_nodes_one_redis(self):
        redis = self.c.redis()
        self.deliver(self.nodes([redis], 3), topics=4, total=MESSAGES)

    def test_three_redis_shards(self):
        """Topics spread over three Redis servers by consistent hash; two
        nodes list the servers in different orders and still agree."""
        rs = [self.c.redis() for _ in range(3)]
        a = self.c.node(rs, *NODE_ARGS, backend=BACKEND)
        b = self.c.node([rs[2], rs[0], rs[1]], *NODE_ARGS, backend=BACKEND)
        topics = 24
        self.deliver([a, b], topics=topics, total=max(MESSAGES // 4, topics * 20), ws_publishers=False,
                     prefix="shard")
        owner = collections.defaultdict(list)
        for r in rs:
            for k in r.keys():
                m = re.match(r"wsring:\{(.*)\}", k)
                self.assertTrue(m, "a key without the {topic} hash tag: %r" % k)
                if r.port not in owner[m.group(1)]:
                    owner[m.group(1)].append(r.port)
        want = {"shard/%d" % t for t in range(topics)}
        self.assertEqual(set(owner), want, "every topic has keys, and only ours")
        for t, ports in owner.items():
            self.assertEqual(len(ports), 1, "topic %s has keys on several servers: %r" % (t, ports))
        used = {ports[0] for ports in owner.values()}
        self.assertGreaterEqual(len(used), 2, "24 topics all on one shard: %r" % dict(owner))

    def deliver(self, nodes, topics, total, ws_publishers=True, prefix="room"):
        names = ["%s/%d" % (prefix, t) for t in range(topics)]
        n = len(nodes)
        # The plan: per node one v1 WebSocket publisher on topic i % topics,
        # and one HTTP publisher whose j-th message goes to topic (i + j) % topics.
        kinds = 2 if ws_publishers else 1
        per = total // (kinds * n)
        http_counts = [per] * n
        http_counts[-1] += total - kinds * n * per
        ws_counts = [per if ws_publishers else 0] * n
        expected = collections.Counter()
        for i in range(n):
            expected[names[i % topics]] += ws_counts[i]
            for j in range(http_counts[i]):
                expected[names[(i + j) % topics]] += 1
        # Topics nobody publishes to are still subscribed: they must stay empty.

        async def scenario():
            streams = collections.defaultdict(list)  # topic → [Stream]
            subs = []
            for i, srv in enumerate(nodes):
                for t in names:
                    ws, s = await fresh_v1(self, node_url(srv, t), "v1 sub of %s on node %d" % (t, i))
                    streams[t].append(s)
                    subs.append((ws, s, t))
            raws = [await RawSub.open(srv, names[0], "raw sub of %s on node %d" % (names[0], i))
                    for i, srv in enumerate(nodes)]
            # The WebSocket publishers subscribe here too, before anyone
            # publishes: opened inside their tasks, an HTTP publisher's
            # first message could beat one's subscription, and its stream
            # rightly began after that offset (seen once under ASan).
            pubs = []
            for i, srv in enumerate(nodes if ws_publishers else []):
                t = names[i % topics]
                ws, s = await fresh_v1(self, node_url(srv, t), "v1 publisher %d on %s" % (i, t))
                streams[t].append(s)
                pubs.append((ws, s))
            for t in names:
                epochs = {s.epoch for s in streams[t]}
                self.assertEqual(len(epochs), 1, "%s: nodes disagree on the epoch: %r" % (t, epochs))
                self.assertEqual([s.first for s in streams[t]], [0] * len(streams[t]),
                                 "%s: a fresh topic stands at 0 on every node" % t)

            async def collect(ws, s, t):
                while s.last < expected[t]:
                    s.add(self, await recv_v1(ws))

            answers = []  # (topic, payload, epoch, offset)

            async def http_pub(i, srv):
                pub = await HttpPublisher(srv.port, API_KEY).open()
                for j in range(http_counts[i]):
                    t, body = names[(i + j) % topics], b"h%d-%d" % (i, j)
                    e, off = await http_ok(pub, t, body, text=j % 2 == 1)
                    answers.append((t, body, e, off))
                pub.close()

            async def ws_pub(i):
                t = names[i % topics]
                ws, s = pubs[i]
                mine = [0]  # own messages seen back
                window = asyncio.Event()

                async def reader():
                    try:
                        while s.last < expected[t]:
                            m = await recv_v1(ws)
                            s.add(self, m)
                            if m.payload.startswith(b"w%d-" % i):
                                mine[0] += 1
                                window.set()
                    finally:
                        window.set()  # a reader that failed wakes the sender
                rd = asyncio.ensure_future(reader())
                for j in range(ws_counts[i]):
                    while j - mine[0] >= 100 and not rd.done():  # at most 100 in flight
                        window.clear()
                        await window.wait()
                    if rd.done():
                        break
                    payload = b"w%d-%d" % (i, j)
                    await ws.send(payload.decode() if j % 2 == 0 else payload)
                await rd
                await ws.close()

            last_raw = None
            tasks = [collect(ws, s, t) for ws, s, t in subs]
            tasks += [http_pub(i, srv) for i, srv in enumerate(nodes)]
            if ws_publishers:
                tasks += [ws_pub(i) for i in range(len(nodes))]
            await asyncio.gather(*tasks)
            # The raw subscribers: the same payloads as the v1 ones of topic 0.
            ref = streams[names[0]][0].payloads()
            if ref:
                last_raw = ref[-1][0]
                for r in raws:
                    await r.collect_until(last_raw)
                    self.assertEqual(r.got, ref, "%s: not the v1 stream's messages" % r.name)
            for ws, _, _ in subs:
                await ws.close()
            for r in raws:
                r.close()
            return streams, answers

        box = {}

        async def run():
            box["streams"], box["answers"] = await scenario()
        self.run_async(run(), 120)
        self.check_delivery(box["streams"], box["answers"], expected, names,
                            http_counts, ws_counts)

    def check_delivery(self, streams, answers, expected, names, http_counts, ws_counts):
        planned = collections.defaultdict(set)
        for i, c in enumerate(ws_counts):
            planned[names[i % len(names)]].update(b"w%d-%d" % (i, j) for j in range(c))
        for i, c in enumerate(http_counts):
            for j in range(c):
                planned[names[(i + j) % len(names)]].add(b"h%d-%d" % (i, j))
        for t in names:
            ss = streams[t]
            ref = ss[0]
            for s in ss:
                self.assertEqual(s.epoch, ref.epoch, "%s: %s's epoch" % (t, s.name))
                self.assertEqual([o for o, _, _ in s.msgs], list(range(1, expected[t] + 1)),
                                 "%s: offsets" % s.name)
                if s.msgs != ref.msgs:
                    k = next(k for k, (x, y) in enumerate(zip(s.msgs, ref.msgs)) if x != y)
                    raise AssertionError("%s: %s and %s differ at offset %d: %r vs %r"
                                         % (t, s.name, ref.name, k + 1, s.msgs[k], ref.msgs[k]))
            got = [p for _, p, _ in ref.msgs]
            self.assertEqual(len(got), len(set(got)), "%s: a message delivered twice" % t)
            self.assertEqual(set(got), planned[t], "%s: lost or foreign messages" % t)
            # Each publisher's messages in the order it sent them, opcodes kept.
            seqs = collections.defaultdict(list)
            for _, p, text in ref.msgs:
                who, j = p.decode().split("-")
                seqs[who].append(int(j))
                want_text = int(j) % 2 == (0 if who[0] == "w" else 1)
                self.assertEqual(text, want_text, "%s: %r's opcode" % (t, p))
            for who, js in seqs.items():
                self.assertEqual(js, sorted(js), "%s: publisher %s's order" % (t, who))
        by_offset = {t: {o: p for o, p, _ in streams[t][0].msgs} for t in names}
        for t, body, e, off in answers:
            self.assertEqual(e, streams[t][0].epoch, "the answer to %r names another epoch" % body)
            self.assertEqual(by_offset[t].get(off), body, "the answer to %r: offset %d" % (body, off))


# ---------------------------------------------------------------- 2: failover

class FailoverTest(ClusterBase):
    def test_node_killed_behind_nginx(self):
        """Twelve v1 subscribers through nginx (least_conn: four per node);
        a steady HTTP publisher on node 0; node 1 SIGKILLed a third of the
        way: its subscribers reconnect through nginx with backoff, full
        jitter and ?since=, and everyone ends with offsets 1..N, no gap and
        no duplicate."""
        redis = self.c.redis()
        nodes = self.nodes([redis], 3)
        proxy = self.c.nginx(nodes)
        topic, total, kill_at = "fail/room", 1500, 500
        url = proxy.url("/" + topic)

        async def follower(k, rec, ready):
            position = None
            delays = backoff_delays()
            while True:
                target = url if position is None else "%s?since=%s:%d" % (url, *position)
                try:
                    ws = await v1_open(target)
                except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                    rec["failed_connects"] += 1
                    await asyncio.sleep(next(delays))
                    continue
                delays = backoff_delays()
                try:
                    while True:
                        m = await recv_v1(ws, timeout=30)
                        if m.kind == "position":
                            self.assertIsNone(position, "sub %d: !position on a resume: %r" % (k, m))
                            self.assertEqual(m.offset, 0, "sub %d: %r" % (k, m))
                            position = (m.epoch, 0)
                            ready.release()
                            continue
                        self.assertEqual(m.kind, "data", "sub %d after %r: %r" % (k, position, m))
                        self.assertEqual((m.epoch, m.offset), (position[0], position[1] + 1),
                                         "sub %d: after %r (%d reconnects)"
                                         % (k, position, rec["reconnects"]))
                        rec["payloads"].append(m.payload)
                        position = (m.epoch, m.offset)
                        if m.offset == total:
                            await ws.close()
                            return
                except websockets.exceptions.ConnectionClosed:
                    rec["reconnects"] += 1
                    await asyncio.sleep(next(delays))

        async def scenario():
            recs = [{"payloads": [], "reconnects": 0, "failed_connects": 0} for _ in range(12)]
            ready = asyncio.Semaphore(0)
            tasks = []
            for k in range(12):  # one at a time, so least_conn deals them out evenly
                tasks.append(asyncio.ensure_future(follower(k, recs[k], ready)))
                await asyncio.wait_for(ready.acquire(), T)
            conns = [len(os.listdir("/proc/%d/fd" % n.pid)) for n in nodes]
            pub = await HttpPublisher(nodes[0].port, API_KEY).open()
            for j in range(total):
                if j == kill_at:
                    self.dead.add(nodes[1])
                    nodes[1].kill()  # SIGKILL
                await http_ok(pub, topic, b"m-%d" % j)
            pub.close()
            await asyncio.gather(*tasks)
            return recs, conns

        box = {}

        async def run():
            box["recs"], box["conns"] = await scenario()
        self.run_async(run(), 90)
        want = [b"m-%d" % j for j in range(total)]
        for k, rec in enumerate(box["recs"]):
            self.assertEqual(rec["payloads"], want, "subscriber %d (%d reconnects)" % (k, rec["reconnects"]))
        moved = sum(1 for rec in box["recs"] if rec["reconnects"])
        print("\nfailover: %d of 12 subscribers moved, %d reconnects, %d refused connects"
              % (moved, sum(r["reconnects"] for r in box["recs"]),
                 sum(r["failed_connects"] for r in box["recs"])))
        self.assertGreater(moved, 0, "nobody was on the killed node (descriptors per node: %r)"
                           % box["conns"])


# ---------------------------------------------------------------- 3: Redis restarts

class RedisRestartTest(ClusterBase):
    def test_restart_with_persistence_repairs(self):
        """appendonly + fsync always; kill -9 mid-stream: while Redis is
        down HTTP gets 503, a v1 publisher `!error` (and stays), a raw
        publisher close 1011; Redis back on the same port: the nodes come
        back, subscribers go on in the same epoch with contiguous offsets,
        and every publish Redis answered is delivered at its offset."""
        self.restart_persisted(slow_load=False)

    def test_restart_while_loading(self):
        """The same with a Redis that, like one with real data, takes a
        while to load at restart and answers -LOADING meanwhile: 8,000 keys
        in the RDB base of its append-only file, loaded 0.5 ms each
        (key-load-delay), keep it loading for about 4 s, longer than the
        nodes' reconnect backoff waits here, so they reconnect while it
        loads and must retry what Redis refused (script loads, syncs)."""
        self.restart_persisted(slow_load=True)

    def restart_persisted(self, slow_load):
        redis = self.c.redis(persist=True)
        if slow_load:
            fill = redis_command(redis.port, "EVAL", "for i = 1, tonumber(ARGV[1]) do"
                                 " redis.call('SET', 'fill:' .. i, 'x') end return 1", 0, 8000)
            self.assertEqual(fill, 1, "filling Redis: %r" % fill)
            self.assertEqual(redis_command(redis.port, "BGREWRITEAOF").__class__, bytes)
            wait_until(lambda: redis.info("persistence").get("aof_rewrite_in_progress") == "0"
                       and redis.info("persistence").get("aof_rewrite_scheduled") == "0", 30,
                       "the AOF rewrite")
        a, b = self.nodes([redis], 2)
        topic = "persist/room"

        async def scenario():
            streams, subs = [], []
            for i, srv in enumerate((a, b, a, b)):
                ws, s = await fresh_v1(self, node_url(srv, topic), "v1 sub %d" % i)
                streams.append(s)
                subs.append(ws)
            v1_pub = subs[0]  # also a subscriber: it must keep receiving after !error
            raw_sub = await RawSub.open(b, topic, "raw sub on b")
            raw_pub = await RawSub.open(b, topic, "raw publisher on b")
            errors = []  # !error notices the v1 publisher got
            answered, attempts = [], set()  # (offset, body) answered 200; every body tried
            state = {"paused": False}
            resume, killed_mid = asyncio.Event(), asyncio.Event()

            async def publisher():
                pub = HttpPublisher(a.port, API_KEY)
                j = 0
                while True:
                    if state["paused"]:
                        await resume.wait()
                    body = b"p-%d" % j
                    j += 1
                    attempts.add(body)
                    try:
                        status, data = await pub.publish(topic, body)
                    except (OSError, asyncio.IncompleteReadError) as e:
                        status, data = None, repr(e)
                    if status == 200:
                        answered.append((json.loads(data)["offset"], body))
                        if len(answered) == 150:
                            killed_mid.set()
                        if state.get("stop_at") and len(answered) >= state["stop_at"]:
                            pub.close()
                            return
                    else:
                        self.assertTrue(state.get("killed"), "refused before the kill: %s %r"
                                        % (status, data))
                        self.assertIn(status, (503, None), "a refusal other than 503: %r" % data)
                        state["paused"] = True
                        state["refusals"] = state.get("refusals", 0) + 1
                        state["last_refusal"] = (status, data)
                        await asyncio.sleep(0.05)  # a retrying publisher backs off

            async def follow(ws, s):
                while True:
                    m = await recv_v1(ws, timeout=30)
                    if m.kind == "error":
                        errors.append((s.name, m.payload))
                        continue
                    s.add(self, m)
                    if m.payload == b"end":
                        return

            followers = [asyncio.ensure_future(follow(ws, s)) for ws, s in zip(subs, streams)]
            pub_task = asyncio.ensure_future(publisher())
            self.where = lambda: ("(answered %d, refused %d, the last refusal %r, subscribers at %r)"
                                  % (len(answered), state.get("refusals", 0),
                                     state.get("last_refusal"), [s.last for s in streams]))
            self.stage = "publishing before the kill"
            await asyncio.wait_for(killed_mid.wait(), 60)
            downs = (count_log(a, down_re(redis)), count_log(b, down_re(redis)))
            ups = (count_log(a, up_re(redis)), count_log(b, up_re(redis)))
            state["killed"] = True
            self.stage = "Redis killed"
            redis.kill()  # SIGKILL while the publisher is mid-stream
            await until(lambda: count_log(a, down_re(redis)) > downs[0]
                        and count_log(b, down_re(redis)) > downs[1], T, "both nodes logging redis down")
            await until(lambda: state["paused"], T, "the publisher meeting the outage")
            # What a publisher sees while the topic's Redis is down.
            probe = HttpPublisher(b.port, API_KEY)
            status, data = await probe.publish(topic, b"refused-http")
            self.assertEqual(status, 503, "HTTP publish during the outage: %r" % data)
            probe.close()
            await v1_pub.send("refused-v1")
            await until(lambda: errors, T, "!error for the v1 publisher")
            self.assertEqual(errors[0][0], streams[0].name, "only the publisher is told: %r" % errors)
            self.assertTrue(errors[0][1], "!error carries a reason")
            raw_pub.send(b"refused-raw")
            while (await raw_pub.recv()) is not None:
                pass
            self.assertEqual(raw_pub.close_code, 1011, "a raw publisher during the outage")
            raw_pub.close()
            # Back on the same port, with its append-only file.
            self.stage = "Redis restarting"
            self.c.redis(persist=True, port=redis.port,
                         extra=("--key-load-delay", 500) if slow_load else ())
            await until(lambda: count_log(a, up_re(redis)) > ups[0]
                        and count_log(b, up_re(redis)) > ups[1], 30, "both nodes logging redis up")
            self.stage = "publishing after the restart"
            state["stop_at"] = len(answered) + 150
            state["paused"] = False
            resume.set()
            await pub_task
            pub = HttpPublisher(b.port, API_KEY)
            _, end_offset = await http_ok(pub, topic, b"end")
            pub.close()
            self.stage = "waiting for offset %d (end) everywhere" % end_offset
            await asyncio.gather(*followers)
            await raw_sub.collect_until(b"end")
            for ws in subs:
                await ws.close()
            raw_sub.close()
            return streams, answered, attempts, end_offset, raw_sub.got, errors

        box = {}

        async def run():
            box["r"] = await scenario()
        self.run_async(run(), 60)
        streams, answered, attempts, end_offset, raw_got, errors = box["r"]
        self.assertEqual(len(errors), 1, "one !error, to the one publisher: %r" % errors)
        ref = streams[0]
        for s in streams:
            self.assertEqual(s.epoch, ref.epoch, "persisted: the epoch survives the restart")
            self.assertEqual([o for o, _, _ in s.msgs], list(range(1, end_offset + 1)), s.name)
            self.assertEqual(s.msgs, ref.msgs, "%s and %s differ" % (s.name, ref.name))
        by_offset = {o: p for o, p, _ in ref.msgs}
        for off, body in answered:
            self.assertEqual(by_offset.get(off), body, "answered 200 at offset %d, then lost" % off)
        bodies = [p for _, p, _ in ref.msgs]
        self.assertEqual(len(bodies), len(set(bodies)), "a message delivered twice")
        refused = {b"refused-http", b"refused-v1", b"refused-raw"}
        self.assertFalse(refused & set(bodies), "a publish refused during the outage was delivered")
        self.assertLessEqual(set(bodies) - {b"end"}, attempts, "a message nobody published")
        self.assertEqual(raw_got, ref.payloads(), "the raw subscriber's messages")
        answered_bodies = {body for _, body in answered}
        print("\nredis restart: %d publishes answered, %d tried, %d delivered without an answer"
              " (run by Redis as it died)" % (len(answered), len(attempts),
                                               len(set(bodies) - answered_bodies - {b"end"})))

    def test_restart_without_persistence_unrecovered(self):
        """No persistence: Redis comes back empty, so the topic's history
        is gone: v1 subscribers get `!unrecovered <new epoch>:<offset>`
        mid-stream and go on in the new epoch; raw subscribers are closed
        with 1012; a fresh subscriber starts in the new epoch."""
        redis = self.c.redis()
        a, b = self.nodes([redis], 2)
        topic = "volatile/room"

        async def scenario():
            subs = []
            for i, srv in enumerate((a, b)):
                subs.append(await fresh_v1(self, node_url(srv, topic), "v1 sub on %s" % "ab"[i]))
            raws = [await RawSub.open(srv, topic, "raw sub on %s" % "ab"[i]) for i, srv in enumerate((a, b))]
            pub = HttpPublisher(a.port, API_KEY)
            for j in range(50):
                await http_ok(pub, topic, b"before-%d" % j)
            pub.close()
            for ws, s in subs:
                while s.last < 50:
                    s.add(self, await recv_v1(ws))
            for r in raws:
                await r.collect_until(b"before-49")
            old = subs[0][1].epoch
            downs = (count_log(a, down_re(redis)), count_log(b, down_re(redis)))
            redis.kill()
            await until(lambda: count_log(a, down_re(redis)) > downs[0]
                        and count_log(b, down_re(redis)) > downs[1], T, "both nodes logging redis down")
            self.c.redis(port=redis.port)  # empty
            for ws, s in subs:
                m = await recv_v1(ws, timeout=30)
                self.assertEqual(m.kind, "unrecovered", "%s: after the restart: %r" % (s.name, m))
                self.assertNotEqual(m.epoch, old, "%s: Redis forgot the topic: a new epoch" % s.name)
                s.epoch, s.first, s.msgs = m.epoch, m.offset, []
            self.assertEqual(subs[0][1].epoch, subs[1][1].epoch, "both nodes name the same new epoch")
            for r in raws:
                m = await r.recv(timeout=30)
                self.assertIsNone(m, "%s: a message instead of close 1012: %r" % (r.name, m))
                self.assertEqual(r.close_code, 1012, "%s: the close code" % r.name)
                r.close()
            new, base = subs[0][1].epoch, subs[0][1].first
            pub = HttpPublisher(b.port, API_KEY)
            for j in range(20):
                e, off = await http_ok(pub, topic, b"after-%d" % j)
                self.assertEqual((e, off), (new, base + 1 + j), "publish %d after the restart" % j)
            pub.close()
            for ws, s in subs:
                while s.last < base + 20:
                    s.add(self, await recv_v1(ws))
                self.assertEqual([p for p, _ in s.payloads()], [b"after-%d" % j for j in range(20)],
                                 s.name)
                await ws.close()
            late, s = await fresh_v1(self, node_url(a, topic), "late subscriber")
            self.assertEqual((s.epoch, s.first), (new, base + 20), "a fresh subscriber's !position")
            await late.close()
        self.run_async(scenario(), 90)


# ---------------------------------------------------------------- 5: reconnect storm

class StormTest(ClusterBase):
    CLIENTS, TOPICS = 5000, 100

    def test_reconnect_storm(self):
        """5,000 v1 clients on 100 topics hit one node at once, half fresh
        (!position) and half resuming with ?since= (the missed message
        first); the node stays under 400 MB resident, serves a new client and
        delivers a publish to all of a topic's clients; after they all leave
        it still answers /healthz and holds no leftover descriptor."""
        # The clients' descriptors here, and the node's (it inherits the limit).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.assertGreaterEqual(resource.getrlimit(resource.RLIMIT_NOFILE)[0], self.CLIENTS + 1000,
                                "ulimit -n is too low for %d clients" % self.CLIENTS)
        redis = self.c.redis()
        (srv,) = self.nodes([redis], 1, threads=2)
        topics = ["storm/%d" % t for t in range(self.TOPICS)]

        async def client(i, epochs):
            t = topics[i % self.TOPICS]
            since = "" if i % 2 == 0 else "?since=%s:1" % epochs[t]
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, srv.port), 60)
            req, key = upgrade_request("/" + t + since, headers={"Sec-WebSocket-Protocol": V1})
            writer.write(req)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            lines = head.decode("latin-1").split("\r\n")
            self.assertIn(" 101 ", lines[0] + " ", "client %d: %r" % (i, lines[0]))
            hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
            check_101(hdrs, key)
            self.assertEqual(hdrs.get("sec-websocket-protocol"), V1)
            f = await aio_recv_frame(reader, timeout=60)
            m = parse_v1(f.payload.decode() if f.opcode == OP_TEXT else f.payload)
            if since:
                self.assertEqual((m.kind, m.epoch, m.offset, m.payload), ("data", epochs[t], 2,
                                 b"pre-%s-1" % t.encode()), "client %d resuming" % i)
                f = await aio_recv_frame(reader, timeout=60)
                m = parse_v1(f.payload.decode())
                self.assertEqual((m.kind, m.offset), ("data", 3), "client %d resuming" % i)
            else:
                self.assertEqual((m.kind, m.epoch, m.offset), ("position", epochs[t], 3),
                                 "client %d" % i)
            return reader, writer

        async def scenario():
            pub = HttpPublisher(srv.port, API_KEY)
            epochs = {}
            for t in topics:
                for j in range(3):
                    epochs[t], _ = await http_ok(pub, t, b"pre-%s-%d" % (t.encode(), j))
            base_fds = srv.open_fds()
            clients = await asyncio.gather(*[client(i, epochs) for i in range(self.CLIENTS)])
            rss = srv.rss_bytes()
            self.assertLess(rss, 400 << 20, "RSS with %d clients: %d MB" % (self.CLIENTS, rss >> 20))
            late = await v1_open(node_url(srv, "storm/late"))
            m = await recv_v1(late, timeout=T)
            self.assertEqual((m.kind, m.offset), ("position", 0), "a client after the storm")
            await late.close()
            pub.close()  # idle through the storm: the node may have closed it
            pub = HttpPublisher(srv.port, API_KEY)
            _, off = await http_ok(pub, topics[0], b"after-storm")
            self.assertEqual(off, 4)
            for i in range(0, self.CLIENTS, self.TOPICS):  # every client of topics[0]
                f = await aio_recv_frame(clients[i][0], timeout=T)
                m = parse_v1(f.payload.decode())
                self.assertEqual((m.offset, m.payload), (4, b"after-storm"), "client %d" % i)
            pub.close()
            for _, w in clients:
                w.transport.abort()
            await until(lambda: srv.open_fds() <= base_fds + 5, 30,
                        "the node closing all %d connections (fds %d, before %d)"
                        % (self.CLIENTS, srv.open_fds(), base_fds))
            conn = http.client.HTTPConnection(HOST, srv.port, timeout=T)
            conn.request("GET", "/healthz")
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
        self.run_async(scenario(), 120)


# ---------------------------------------------------------------- start and stop

class LifecycleTest(ClusterBase):
    def test_unreachable_redis_exits_1(self):
        """No Redis at the address (alone, or beside one that answers):
        exit 1 with `cannot reach Redis at HOST:PORT: <why>`."""
        live = self.c.redis()
        for redises in (["redis://%s:%d" % (HOST, free_port())],
                        [live.url, "redis://%s:%d" % (HOST, free_port())]):
            with self.subTest(redises=redises):
                dead = redises[-1][len("redis://"):]
                p = subprocess.run(node_command(redises, *NODE_ARGS), stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=20)
                err = p.stderr.decode(errors="replace")
                self.assertEqual(p.returncode, 1, "exit status; stderr: %r" % err)
                self.assertRegex(err, r"ws-server: cannot reach Redis at %s: \S" % re.escape(dead))

    def test_sigterm_closes_1001(self):
        redis = self.c.redis()
        (srv,) = self.nodes([redis], 1)

        async def scenario():
            ws, _ = await fresh_v1(self, node_url(srv, "bye"), "v1 sub")
            raw = await RawSub.open(srv, "bye", "raw sub")
            self.dead.add(srv)
            srv.send_signal(signal.SIGTERM)
            with self.assertRaises(websockets.exceptions.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), T)
            self.assertEqual(ws.close_code, 1001)
            self.assertIsNone(await raw.recv())
            self.assertEqual(raw.close_code, 1001)
            raw.close()
        self.run_async(scenario(), 30)
        self.assertEqual(srv.wait(T), 0, "exit status after SIGTERM\n" + srv.stderr_text())



# ---------------------------------------------------------------- permessage-deflate

def inflate_raw(payload):
    """A compressed message's payload (RFC 7692 §7.2.2: the sync flush's
    4-byte tail was removed) → its bytes."""
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


class DeflateAcrossNodesTest(ClusterBase):
    def test_deflate_receivers_on_another_node_get_compressed_frames(self):
        """--deflate with --redis: what node A's publisher sends reaches node
        B's permessage-deflate receivers compressed (RSV1, RFC 7692 §6), bare
        and wsring.v1, each form compressed once on node B for all who share
        it; a plain receiver and a message under the threshold get plain frames."""
        redis = self.c.redis()
        a, b = self.nodes([redis], 2, "--deflate")
        big = ("".join('{"user":"ada","room":"news","n":%d,"text":"hello there, everyone"},' % i
                       for i in range(40))).encode()
        small = b"hi"
        offer = {"Sec-WebSocket-Extensions": "permessage-deflate"}

        async def raw(headers, name):
            reader, writer, hdrs = await aio_upgrade(b.port, T, "/news", headers)
            self.assertEqual(hdrs.get("sec-websocket-extensions", "").split(";")[0],
                             "permessage-deflate" if "Sec-WebSocket-Extensions" in headers else "",
                             "%s: the 101's extensions" % name)
            return reader, writer

        async def frames(reader, n, name):
            got = []
            while len(got) < n:
                f = await aio_recv_frame(reader, T)
                if f.opcode in (OP_PING, OP_PONG):
                    continue
                self.assertTrue(f.fin and f.opcode == OP_TEXT, "%s: %r" % (name, f))
                got.append(f)
            return got

        async def scenario():
            self.stage = "subscribing on node B"
            z = await raw(offer, "deflate")
            z2 = await raw(offer, "deflate 2")
            p = await raw({}, "plain")
            v1z = await raw(dict(offer, **{"Sec-WebSocket-Protocol": V1}), "v1 deflate")
            (notice,) = await frames(v1z[0], 1, "v1 deflate")
            self.assertEqual(parse_v1(notice.payload.decode()).kind, "position")
            ws, s = await fresh_v1(self, node_url(b, "news"), "v1 websockets")  # synced after this
            self.assertEqual([e.name for e in ws.extensions], ["permessage-deflate"])
            self.stage = "publishing on node A"
            pub = await HttpPublisher(a.port, API_KEY).open()
            await http_ok(pub, "news", big)
            await http_ok(pub, "news", small)
            self.stage = "receiving on node B"
            for (reader, _), name in ((z, "deflate"), (z2, "deflate 2")):
                f_big, f_small = await frames(reader, 2, name)
                self.assertEqual(f_big.rsv, 4, "%s: not compressed: %r" % (name, f_big))
                self.assertLess(len(f_big.payload), len(big) // 2)
                self.assertEqual(inflate_raw(f_big.payload), big, name)
                self.assertEqual((f_small.rsv, f_small.payload), (0, small), name)
            f_big, f_small = await frames(p[0], 2, "plain")
            self.assertEqual((f_big.rsv, f_big.payload, f_small.rsv, f_small.payload),
                             (0, big, 0, small))
            f_big, f_small = await frames(v1z[0], 2, "v1 deflate")
            self.assertEqual(f_big.rsv, 4, "v1 deflate: not compressed: %r" % f_big)
            m_big = parse_v1(inflate_raw(f_big.payload).decode())
            m_small = parse_v1(bytes(f_small.payload if not f_small.rsv else inflate_raw(f_small.payload)).decode())
            self.assertEqual((m_big.offset, m_big.payload, m_small.offset, m_small.payload),
                             (s.first + 1, big, s.first + 2, small))
            for want in (big, small):  # websockets inflates: it gets the same messages
                m = await recv_v1(ws)
                self.assertEqual(m.payload, want)
            self.small_v1_compressed = bool(f_small.rsv)
            await ws.close()
            pub.close()
            for _, writer in (z, z2, p, v1z):
                writer.close()
        self.run_async(scenario(), 60)
        self.dead.add(b)
        self.assertEqual(b.stop(), 0, b.stderr_text())
        # One compression per message and form on node B, whoever shares it:
        # the large message bare and in v1 (the small one in v1 too when its
        # position prefix brings it to the threshold).
        self.assertRegex(b.stdout_text() + b.stderr_text(), r"compressed once %d," % (2 + self.small_v1_compressed))

if __name__ == "__main__":
    unittest.main()
