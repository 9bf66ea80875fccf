# The HTTP side of the port: GET /healthz, and the precise 4xx answers to
# requests that are not a valid opening handshake (RFC 6455 §4.2.1, §4.2.2,
# §4.4): 404/426 for a plain GET, 405 for other methods, 400 for a bad upgrade,
# 426 + Sec-WebSocket-Version: 13 for a wrong version, 431 for a header block
# over 8 KiB. The server keeps serving WebSocket clients throughout.
import base64
import os
import unittest

from wsring_harness import (HOST, OP_TEXT, RawClient, ServerTestMixin, check_101,
                            http_request, per_backend, skip_unless_unfiltered,
                            upgrade_request)


def plain_get(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, HOST, extra)).encode()


class HttpBase(ServerTestMixin):

    def request(self, raw):
        return http_request(self.server.port, raw, timeout=5)

    def upgrade(self, **kw):
        raw, _ = upgrade_request("/", **kw)
        return self.request(raw)

    def assert_still_serving(self):
        with RawClient(self.server.port) as c:
            c.handshake()
            c.echo(OP_TEXT, b"still serving")

    def test_healthz(self):
        status, hdrs, body = self.request(plain_get("/healthz"))
        self.assertEqual(status, 200)
        self.assertEqual(body, b"ok\n")
        self.assertEqual(hdrs.get("content-length"), "3")

    def test_healthz_keep_alive_twice(self):
        # HTTP/1.1 keep-alive is optional; when the connection stays open a
        # second request must get a second answer, else the server closes it.
        with RawClient(self.server.port) as c:
            c.send(plain_get("/healthz"))
            status, hdrs, body = c.read_response()
            self.assertEqual((status, body), (200, b"ok\n"))
            if hdrs.get("connection", "").lower() == "close":
                c.expect_eof(timeout=3)
                return
            try:
                c.send(plain_get("/healthz"))
                status2, _, body2 = c.read_response()
            except Exception:  # noqa: BLE001 — closed without saying so is acceptable
                return
            self.assertEqual((status2, body2), (200, b"ok\n"))

    def test_plain_get_elsewhere(self):
        for path in ("/", "/nope", "/healthz/x"):
            with self.subTest(path=path):
                status, hdrs, _ = self.request(plain_get(path))
                self.assertIn(status, (404, 426))
                if status == 426:
                    self.assert_426_names_websocket(hdrs)

    def test_non_get_405(self):
        for method in ("POST", "PUT", "DELETE", "HEAD"):
            with self.subTest(method=method):
                raw, _ = upgrade_request("/", method=method,
                                         headers={"Content-Length": "0"})
                status, _, _ = self.request(raw) if method != "HEAD" else self._head(raw)
                self.assertEqual(status, 405)

    def _head(self, raw):
        with RawClient(self.server.port) as c:
            c.send(raw)
            return c.read_response(body=False)

    def test_bad_upgrades_400(self):
        cases = {
            "no key": dict(omit=("Sec-WebSocket-Key",)),
            "key not base64": dict(key="not base64 at all!!"),
            "key of 15 bytes": dict(key=base64.b64encode(os.urandom(15)).decode()),
            "key of 17 bytes": dict(key=base64.b64encode(os.urandom(17)).decode()),
            "no Connection": dict(omit=("Connection",)),
            "Connection: keep-alive": dict(headers={"Connection": "keep-alive"}),
            "no Host": dict(omit=("Host",)),
        }
        for name, kw in cases.items():
            with self.subTest(case=name):
                status, _, _ = self.upgrade(**kw)
                self.assertEqual(status, 400)
        self.assert_still_serving()

    def test_no_websocket_upgrade_is_a_plain_request(self):
        # Without "Upgrade: websocket" the request is no WebSocket handshake: a
        # server may ignore other Upgrade values (RFC 9110 §7.8) and answer it
        # as a plain GET (404/426), or reject it with 400 (RFC 6455 §4.2.1).
        for name, kw in (("no Upgrade", dict(omit=("Upgrade",))),
                         ("Upgrade: h2c", dict(headers={"Upgrade": "h2c"}))):
            with self.subTest(case=name):
                status, hdrs, _ = self.upgrade(**kw)
                self.assertIn(status, (400, 404, 426))
                if status == 426:
                    self.assert_426_names_websocket(hdrs)

    def assert_426_names_websocket(self, hdrs):
        # RFC 9110 §15.5.22: a 426 MUST send Upgrade with the protocol to use.
        self.assertIn("websocket", hdrs.get("upgrade", "").lower())

    def test_wrong_version_426(self):
        # RFC 6455 §4.2.2 / §4.4: answer with the versions we speak.
        for version in ("8", "12", "14"):
            with self.subTest(version=version):
                status, hdrs, _ = self.upgrade(headers={"Sec-WebSocket-Version": version})
                self.assertEqual(status, 426)
                self.assertEqual(hdrs.get("sec-websocket-version"), "13")
        status, _, _ = self.upgrade(omit=("Sec-WebSocket-Version",))
        self.assertIn(status, (400, 426))

    def test_header_tokens_are_case_insensitive_lists(self):
        # RFC 6455 §4.2.1: Connection is a token list; token values ignore case.
        for headers in ({"Connection": "keep-alive, Upgrade"},
                        {"Connection": "upgrade", "Upgrade": "WebSocket"},
                        {"Connection": "Keep-Alive,upgrade"}):
            with self.subTest(headers=headers):
                raw, key = upgrade_request("/", headers=headers)
                with RawClient(self.server.port) as c:
                    c.send(raw)
                    status, hdrs, _ = c.read_response(body=False)
                    self.assertEqual(status, 101)
                    check_101(hdrs, key)
                    c.echo(OP_TEXT, b"ok")

    def test_big_header_431(self):
        raw, _ = upgrade_request("/", headers={"X-Filler": "f" * 9000})
        status, _, _ = self.request(raw)
        self.assertEqual(status, 431)
        many = {"X-H%03d" % i: "v" * 60 for i in range(150)}  # ~10 KiB in small lines
        raw, _ = upgrade_request("/", headers=many)
        status, _, _ = self.request(raw)
        self.assertEqual(status, 431)
        self.assert_still_serving()

    def test_header_under_limit_accepted(self):
        raw, key = upgrade_request("/", headers={"X-Filler": "f" * 6000})
        with RawClient(self.server.port) as c:
            c.send(raw)
            status, hdrs, _ = c.read_response(body=False)
            self.assertEqual(status, 101)
            check_101(hdrs, key)
            c.echo(OP_TEXT, b"big but fine")


@skip_unless_unfiltered
class HttpTest(HttpBase):
    pass


per_backend(globals(), HttpTest)
del HttpTest

if __name__ == "__main__":
    unittest.main()
