# The HTTP publish API of ws-server --mode pubsub --api-key KEY (issue 12):
# POST /publish/<topic> with "Authorization: apikey KEY" publishes the body
# to the topic's subscribers, text for text/* and application/json (valid
# UTF-8 only), binary otherwise, and answers 200 {"epoch":…,"offset":N}.
# 401 without the key, 413 past --max-message, 404 for other methods and
# paths, 501 for Transfer-Encoding, 405 without --api-key; refusals made
# before the body is read close the connection; keep-alive (HTTP/1.1, or 1.0
# asking for it), Expect: 100-continue, and pipelined requests answered in
# order; garbage gets 400 and a close; a slow request is closed by
# --handshake-timeout and stalls nobody (docs/protocol-v1.md §10).
# Driven by http.client and raw sockets (stdlib); what a raw WebSocket
# subscriber receives (opcode and bytes) is the check that a publish happened.
# Read next: modes/publish_api.hpp, proto/http_body.hpp.
import http.client
import json
import re
import unittest

from wsring_harness import (HOST, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawClient,
                            Server, ServerTestMixin, per_backend)

KEY = "k3y-For_tests.0"
MAX_MESSAGE = 1024
EPOCH_RE = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")
T = 10.0


def post(path, body=b"", headers=None, key=KEY, ctype="text/plain", extra=""):
    """The bytes of one request (Content-Length set; None values dropped)."""
    fields = {"Host": HOST, "Content-Type": ctype, "Content-Length": str(len(body))}
    if key is not None:
        fields["Authorization"] = "apikey " + key
    fields.update(headers or {})
    lines = ["POST %s HTTP/1.1" % path] + ["%s: %s" % kv for kv in fields.items() if kv[1] is not None]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode() + body


class Subscriber:
    """A raw WebSocket subscriber (no subprotocol): the bare published bytes."""

    def __init__(self, srv, topic, protocol=None):
        self.c = RawClient(srv.port, timeout=T)
        self.hdrs = self.c.handshake("/" + topic, headers={"Sec-WebSocket-Protocol": protocol}
                                     if protocol else None)

    def recv(self):
        """The next data message → (opcode, payload)."""
        while True:
            f = self.c.recv_frame(timeout=T)
            if f.opcode in (OP_PING, OP_PONG):
                continue
            if f.opcode == OP_CLOSE or not f.fin:
                raise AssertionError("subscriber: unexpected %r" % f)
            return f.opcode, f.payload

    def close(self):
        self.c.close()


class PublishApiBase(ServerTestMixin):
    threads = 2
    server_args = ("--api-key", KEY, "--max-message", MAX_MESSAGE, "--ping-interval", 0,
                   "--idle-timeout", 0)

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*cls.server_args, mode="pubsub", backend=cls.backend,
                            threads=cls.threads, tls=cls.tls)
        cls.server.start()

    def conn(self):
        srv = self.server
        if srv.tls:
            return http.client.HTTPSConnection(HOST, srv.port, timeout=T, context=srv.ssl())
        return http.client.HTTPConnection(HOST, srv.port, timeout=T)

    def publish(self, conn, topic, body, ctype="text/plain", key=KEY):
        """POST on an http.client connection → (status, headers, body bytes)."""
        headers = {"Authorization": "apikey " + key} if key is not None else {}
        if ctype is not None:
            headers["Content-Type"] = ctype
        conn.request("POST", "/publish/" + topic, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()

    def publish_ok(self, topic, body, ctype="text/plain", conn=None):
        """One successful publish → (epoch, offset), checking the answer's form."""
        c = conn or self.conn()
        try:
            status, hdrs, data = self.publish(c, topic, body, ctype)
        finally:
            if conn is None:
                c.close()
        return self.check_ok(status, hdrs, data)

    def check_ok(self, status, hdrs, data):
        self.assertEqual(status, 200, data)
        self.assertEqual(hdrs.get("content-type", "").split(";")[0].strip(), "application/json")
        doc = json.loads(data)
        self.assertEqual(sorted(doc), ["epoch", "offset"], doc)
        self.assertIsInstance(doc["epoch"], str)
        self.assertRegex(doc["epoch"], EPOCH_RE)
        self.assertIsInstance(doc["offset"], int)
        return doc["epoch"], doc["offset"]

    def raw(self, data, responses=1, client=None):
        """Send raw bytes on a new connection (or `client`); read `responses` answers."""
        c = client or RawClient(self.server.port, timeout=T)
        c.send(data)
        out = [c.read_response() for _ in range(responses)]
        return c, out

    def assert_nothing_published(self, sub, topic):
        """The subscriber's next message is a marker published now: whatever
        was tried before reached nobody."""
        self.publish_ok(topic, b"marker")
        self.assertEqual(sub.recv(), (OP_TEXT, b"marker"))

    def test_401_without_the_key(self):
        topic = "api/auth"
        sub = Subscriber(self.server, topic)
        try:
            for auth in (None, "Bearer " + KEY, "apikey wrong", "apikey " + KEY + "x",
                         "apikey " + KEY[:-1], "apikey", "apikey  " + KEY + " extra", KEY):
                with self.subTest(auth=auth):
                    c, [(status, hdrs, _)] = self.raw(post("/publish/" + topic, b"secret",
                                                           key=None, headers={"Authorization": auth}))
                    try:
                        self.assertEqual(status, 401)
                        self.assertEqual(hdrs.get("www-authenticate", "").split()[:1], ["apikey"])
                        c.expect_eof(timeout=T)  # refused before the body: closed
                    finally:
                        c.close()
            self.assert_nothing_published(sub, topic)
        finally:
            sub.close()

    def test_200_json_offsets_increase(self):
        topic = "api/offsets"
        sub = Subscriber(self.server, topic, protocol="wsring.v1")
        try:
            op, notice = sub.recv()
            self.assertEqual(op, OP_TEXT)
            m = re.fullmatch(rb"!position ([A-Za-z0-9_-]{1,32}):0", notice)
            self.assertIsNotNone(m, notice)
            epoch = m.group(1).decode()
            for k in range(1, 4):
                self.assertEqual(self.publish_ok(topic, b"n%d" % k), (epoch, k))
                # The v1 subscriber sees the same position the answer names.
                self.assertEqual(sub.recv(), (OP_TEXT, b"%s:%d\nn%d" % (epoch.encode(), k, k)))
        finally:
            sub.close()
        # A topic with no subscriber at all still counts (its history keeps it).
        e, first = self.publish_ok("api/nobody", b"x")
        self.assertEqual(first, 1)
        self.assertEqual(self.publish_ok("api/nobody", b"y"), (e, 2))

    def test_text_or_binary_by_content_type(self):
        topic = "api/types"
        sub = Subscriber(self.server, topic)
        cases = [("text/plain", b"plain", OP_TEXT),
                 ("text/plain; charset=utf-8", "caf\u00e9 \u20ac \U0001f600".encode(), OP_TEXT),
                 ("text/html", b"<p>hi</p>", OP_TEXT),
                 ("application/json", b'{"a":[1,2]}', OP_TEXT),
                 ("application/json; charset=utf-8", b'"\xc3\xa9"', OP_TEXT),
                 ("application/octet-stream", b"\x00\xff\xfe bin", OP_BINARY),
                 ("image/png", b"\x89PNG\r\n\x1a\n", OP_BINARY),
                 ("application/xml", b"<a/>", OP_BINARY),
                 (None, b"no type", OP_BINARY),
                 ("text/plain", b"", OP_TEXT),
                 ("application/octet-stream", b"", OP_BINARY)]
        try:
            conn = self.conn()
            for ctype, body, op in cases:
                status, hdrs, data = self.publish(conn, topic, body, ctype)
                self.check_ok(status, hdrs, data)
                self.assertEqual(sub.recv(), (op, body), "Content-Type %r" % ctype)
            conn.close()
        finally:
            sub.close()

    def test_invalid_utf8_text_400(self):
        topic = "api/utf8"
        sub = Subscriber(self.server, topic)
        try:
            for ctype, body in (("text/plain", b"bad \xff"), ("text/plain", b"\xc3"),
                                ("application/json", b'"\xed\xa0\x80"'),  # a surrogate
                                ("text/csv", b"\xc0\xaf")):               # overlong '/'
                with self.subTest(ctype=ctype, body=body):
                    conn = self.conn()
                    status, _, _ = self.publish(conn, topic, body, ctype)
                    conn.close()
                    self.assertEqual(status, 400)
            self.assert_nothing_published(sub, topic)
            # That 400 is decided after the body: the connection goes on.
            conn = self.conn()
            status, _, _ = self.publish(conn, topic, b"bad \xff", "text/plain")
            self.assertEqual(status, 400)
            sock = conn.sock
            self.check_ok(*self.publish(conn, topic, b"next", "text/plain"))
            self.assertIs(conn.sock, sock, "closed after the UTF-8 400")
            conn.close()
            self.assertEqual(sub.recv(), (OP_TEXT, b"next"))
            # The same bytes as binary are fine.
            self.publish_ok(topic, b"bad \xff", ctype="application/octet-stream")
            self.assertEqual(sub.recv(), (OP_BINARY, b"bad \xff"))
        finally:
            sub.close()

    def test_413_past_max_message(self):
        topic = "api/big"
        sub = Subscriber(self.server, topic)
        try:
            conn = self.conn()
            status, _, _ = self.publish(conn, topic, b"x" * (MAX_MESSAGE + 1), "text/plain")
            conn.close()
            self.assertEqual(status, 413)
            # Declared far too long: answered from the header, the body never sent.
            c, [(status, _, _)] = self.raw(post("/publish/" + topic, b"",
                                                headers={"Content-Length": str(1 << 40)}))
            try:
                self.assertEqual(status, 413)
                c.expect_eof(timeout=T)
            finally:
                c.close()
            self.assert_nothing_published(sub, topic)
            self.publish_ok(topic, b"y" * MAX_MESSAGE, ctype="application/octet-stream")
            self.assertEqual(sub.recv(), (OP_BINARY, b"y" * MAX_MESSAGE))
        finally:
            sub.close()

    def test_404_other_methods_and_paths(self):
        topic = "api/404"
        sub = Subscriber(self.server, topic)
        try:
            auth = "Authorization: apikey %s\r\n" % KEY
            for method, path in (("GET", "/publish/" + topic), ("PUT", "/publish/" + topic),
                                 ("DELETE", "/publish/" + topic), ("POST", "/other"),
                                 ("POST", "/publishx/" + topic), ("POST", "/" + topic)):
                with self.subTest(method=method, path=path):
                    req = ("%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: text/plain\r\n"
                           "Content-Length: 4\r\n\r\nbody" % (method, path, HOST, auth)).encode()
                    c, [(status, _, _)] = self.raw(req)
                    try:
                        self.assertEqual(status, 404)
                        c.expect_eof(timeout=T)
                    finally:
                        c.close()
            self.assert_nothing_published(sub, topic)
        finally:
            sub.close()

    def test_keep_alive_five_requests(self):
        topic = "api/keepalive"
        sub = Subscriber(self.server, topic)
        conn = self.conn()
        try:
            sock, offsets = None, []
            for k in range(5):
                status, hdrs, data = self.publish(conn, topic, b"ka-%d" % k, "text/plain")
                offsets.append(self.check_ok(status, hdrs, data))
                self.assertNotEqual(hdrs.get("connection", "").lower(), "close")
                # http.client reopens a closed connection silently: same socket or fail.
                if k == 0:
                    sock = conn.sock
                self.assertIsNotNone(conn.sock, "closed after request %d" % k)
                self.assertIs(conn.sock, sock, "a new connection for request %d" % k)
            e, first = offsets[0]
            self.assertEqual(offsets, [(e, first + k) for k in range(5)])
            for k in range(5):
                self.assertEqual(sub.recv(), (OP_TEXT, b"ka-%d" % k))
        finally:
            conn.close()
            sub.close()

    def test_pipelined_answers_in_order(self):
        topic = "api/pipeline"
        sub = Subscriber(self.server, topic)
        try:
            reqs = [post("/publish/" + topic, b"p-%d" % k) for k in range(3)]
            c, answers = self.raw(b"".join(reqs), responses=3)
            got = [self.check_ok(*a) for a in answers]
            e, first = got[0]
            self.assertEqual(got, [(e, first), (e, first + 1), (e, first + 2)])
            for k in range(3):
                self.assertEqual(sub.recv(), (OP_TEXT, b"p-%d" % k))
            # The same connection goes on; "Connection: close" ends it after its answer.
            c, [a, b] = self.raw(post("/publish/" + topic, b"p-3")
                                 + post("/publish/" + topic, b"p-4",
                                        headers={"Connection": "close"}), responses=2, client=c)
            self.assertEqual([self.check_ok(*a), self.check_ok(*b)], [(e, first + 3), (e, first + 4)])
            self.assertEqual(b[1].get("connection", "").lower(), "close")
            c.expect_eof(timeout=T)
            c.close()
            for k in (3, 4):
                self.assertEqual(sub.recv(), (OP_TEXT, b"p-%d" % k))
        finally:
            sub.close()

    def test_garbage_400_and_close(self):
        topic = "api/garbage"
        sub = Subscriber(self.server, topic)
        try:
            for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"POST /publish/x\r\n\r\n",
                         b"POST /publish/x HTTP/1.1\r\nno colon here\r\n\r\n"):
                with self.subTest(junk=junk), RawClient(self.server.port, timeout=T) as c:
                    _, [(status, _, _)] = self.raw(junk, client=c)
                    self.assertEqual(status, 400)
                    c.expect_eof(timeout=T)
            # After a good request on the same connection, too.
            c, [ok] = self.raw(post("/publish/" + topic, b"good"))
            self.check_ok(*ok)
            self.assertEqual(sub.recv(), (OP_TEXT, b"good"))
            c, [(status, _, _)] = self.raw(b"\xff\xfe not http\r\n\r\n", client=c)
            self.assertEqual(status, 400)
            c.expect_eof(timeout=T)
            c.close()
            # A Content-Length that is not a number.
            c, [(status, _, _)] = self.raw(post("/publish/" + topic, b"abc",
                                                headers={"Content-Length": "3x"}))
            self.assertEqual(status, 400)
            c.expect_eof(timeout=T)
            c.close()
            self.assert_nothing_published(sub, topic)
        finally:
            sub.close()

    def test_501_transfer_encoding(self):
        topic = "api/chunked"
        sub = Subscriber(self.server, topic)
        try:
            for te in ("chunked", "gzip, chunked"):
                with self.subTest(te=te):
                    req = ("POST /publish/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: apikey %s\r\n"
                           "Content-Type: text/plain\r\nTransfer-Encoding: %s\r\n\r\n"
                           "5\r\nhello\r\n0\r\n\r\n" % (topic, HOST, KEY, te)).encode()
                    c, [(status, _, _)] = self.raw(req)
                    self.assertEqual(status, 501)
                    # The body's end is unknown: the connection cannot go on.
                    c.expect_eof(timeout=T)
                    c.close()
            self.assert_nothing_published(sub, topic)
        finally:
            sub.close()

    def test_expect_100_continue(self):
        topic = "api/expect"
        sub = Subscriber(self.server, topic)
        try:
            with RawClient(self.server.port, timeout=T) as c:
                req = post("/publish/" + topic, b"after 100", headers={"Expect": "100-continue"})
                head, body = req.split(b"\r\n\r\n", 1)
                c.send(head + b"\r\n\r\n")
                status, _, _ = c.read_response(body=False)
                self.assertEqual(status, 100)
                c.send(body)
                self.check_ok(*c.read_response())
            self.assertEqual(sub.recv(), (OP_TEXT, b"after 100"))
        finally:
            sub.close()

    def test_http10_closes_unless_keep_alive(self):
        topic = "api/http10"
        sub = Subscriber(self.server, topic)
        try:
            req = post("/publish/" + topic, b"one").replace(b"HTTP/1.1", b"HTTP/1.0", 1)
            c, [a] = self.raw(req)
            with c:
                self.check_ok(*a)
                self.assertEqual(a[1].get("connection", "").lower(), "close")
                c.expect_eof(timeout=T)
            req = post("/publish/" + topic, b"two", headers={"Connection": "keep-alive"})
            c, [a] = self.raw(req.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
            with c:
                self.check_ok(*a)
                self.assertEqual(a[1].get("connection", "").lower(), "keep-alive")
                _, [b] = self.raw(post("/publish/" + topic, b"three"), client=c)
                self.check_ok(*b)
            for m in (b"one", b"two", b"three"):
                self.assertEqual(sub.recv(), (OP_TEXT, m))
        finally:
            sub.close()

    def test_websocket_upgrade_still_served(self):
        """Publishing traffic and WebSocket upgrades share the port: an
        upgrade on /publish/x is a subscription to topic publish/x."""
        sub = Subscriber(self.server, "publish/x")
        try:
            self.publish_ok("publish/x", b"nested")
            self.assertEqual(sub.recv(), (OP_TEXT, b"nested"))
        finally:
            sub.close()


class SlowRequestBase:
    threads = 2

    def test_slow_request_closed_others_fine(self):
        """Half a header block, then nothing: closed by --handshake-timeout,
        while another client publishes and a subscriber receives meanwhile.
        The same for a body that stops short of its Content-Length."""
        with Server("--api-key", KEY, "--handshake-timeout", 1, "--ping-interval", 0,
                    "--idle-timeout", 0, mode="pubsub", backend=self.backend,
                    threads=self.threads) as srv:
            sub = Subscriber(srv, "slow")
            slow_head = RawClient(srv.port, timeout=T)
            slow_body = RawClient(srv.port, timeout=T)
            try:
                slow_head.send(b"POST /publish/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthoriz")
                slow_body.send(post("/publish/slow", b"0123456789")[:-5])
                conn = (http.client.HTTPSConnection(HOST, srv.port, timeout=T, context=srv.ssl())
                        if srv.tls else http.client.HTTPConnection(HOST, srv.port, timeout=T))
                for k in range(3):
                    conn.request("POST", "/publish/slow", body=b"fast-%d" % k,
                                 headers={"Authorization": "apikey " + KEY,
                                          "Content-Type": "text/plain"})
                    resp = conn.getresponse()
                    self.assertEqual(resp.status, 200, resp.read())
                    resp.read()
                    self.assertEqual(sub.recv(), (OP_TEXT, b"fast-%d" % k))
                conn.close()
                slow_head.expect_eof(timeout=T)
                slow_body.expect_eof(timeout=T)
                # Neither slow request published anything.
                c = RawClient(srv.port, timeout=T)
                c.send(post("/publish/slow", b"after"))
                status, _, _ = c.read_response()
                c.close()
                self.assertEqual(status, 200)
                self.assertEqual(sub.recv(), (OP_TEXT, b"after"))
            finally:
                for c in (sub, slow_head, slow_body):
                    c.close()
            self.assertEqual(srv.stop(timeout=20), 0, srv.stderr_text())


class InterleavedBase:
    threads = 1  # one reactor: every request below is on it

    def test_interleaved_bodies_keep_their_topics(self):
        """Several requests whose bodies are still coming on one reactor: each
        body is published to its own request's topic, as its own type."""
        with Server("--api-key", KEY, "--ping-interval", 0, mode="pubsub",
                    backend=self.backend, threads=self.threads) as srv:
            topics = ["mix/a", "mix/b", "mix/c"]
            subs = [Subscriber(srv, t) for t in topics]
            clients = [RawClient(srv.port, timeout=T) for _ in topics]
            try:
                reqs = [post("/publish/" + t, b"body for " + t.encode(),
                             ctype="text/plain" if i != 1 else "application/octet-stream")
                        for i, t in enumerate(topics)]
                heads = [r.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" for r in reqs]
                bodies = [r.split(b"\r\n\r\n", 1)[1] for r in reqs]
                for c, h, b in zip(clients, heads, bodies):
                    c.send(h + b[:3])
                # The bodies finish in the reverse order of the heads.
                for c, b in reversed(list(zip(clients, bodies))):
                    c.send(b[3:])
                    status, hdrs, data = c.read_response()
                    self.assertEqual(status, 200, data)
                for i, (sub, t) in enumerate(zip(subs, topics)):
                    self.assertEqual(sub.recv(), (OP_TEXT if i != 1 else OP_BINARY,
                                                  b"body for " + t.encode()), t)
            finally:
                for c in subs + clients:
                    c.close()
            self.assertEqual(srv.stop(timeout=20), 0, srv.stderr_text())


class NoApiKeyBase(ServerTestMixin):
    threads = 1
    server_args = ("--ping-interval", 0)

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*cls.server_args, mode="pubsub", backend=cls.backend,
                            threads=cls.threads, tls=cls.tls)
        cls.server.start()

    def test_post_405_without_api_key(self):
        sub = Subscriber(self.server, "nokey")
        try:
            for path in ("/publish/nokey", "/other"):
                with self.subTest(path=path):
                    c = RawClient(self.server.port, timeout=T)
                    c.send(post(path, b"hello"))
                    status, _, _ = c.read_response()
                    c.close()
                    self.assertEqual(status, 405)
            # Nothing was published: the next message is the subscriber's own.
            other = RawClient(self.server.port, timeout=T)
            other.handshake("/nokey")
            other.send_text(b"ws")
            self.assertEqual(sub.recv(), (OP_TEXT, b"ws"))
            other.close()
        finally:
            sub.close()


for _base in (PublishApiBase, SlowRequestBase, InterleavedBase, NoApiKeyBase):
    per_backend(globals(), _base)
del _base

if __name__ == "__main__":
    unittest.main()
