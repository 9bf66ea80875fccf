# ws-server --web DIR: the chat demo's files on the WebSocket port
# (net/static_site.cpp). Plain GET/HEAD get the file with its content type;
# "/" and "/chat/<room>" get index.html; anything not loaded is 404, traversal
# attempts included (raw, percent-encoded, backslashed); other methods 405;
# no folder is listed. WebSocket upgrades on the same paths still work, and a
# folder the server cannot serve stops it at startup with a message.
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from wsring_harness import (HOST, Closed, RawClient, ServerTestMixin, http_request,
                            per_backend, server_command)

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
WEB = os.path.join(REPO, "web")


def request(method, path):
    return ("%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, path, HOST)).encode()


def read_file(name):
    with open(os.path.join(WEB, name), "rb") as f:
        return f.read()


class WebBase(ServerTestMixin):

    @classmethod
    def setUpClass(cls):
        # Through a copy with a sub-folder, a hidden file and a link out of it,
        # so what must not be served is really there to be refused.
        cls.dir = tempfile.mkdtemp(prefix="wsring-web-")
        for name in os.listdir(WEB):
            shutil.copy(os.path.join(WEB, name), cls.dir)
        os.mkdir(os.path.join(cls.dir, "img"))
        with open(os.path.join(cls.dir, "img", "logo.svg"), "w") as f:
            f.write("<svg xmlns='http://www.w3.org/2000/svg'/>")
        with open(os.path.join(cls.dir, ".env"), "w") as f:
            f.write("SECRET=1\n")
        os.symlink("/etc/passwd", os.path.join(cls.dir, "passwd"))
        cls.server_args = ("--mode", "pubsub", "--web", cls.dir)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def get(self, path, method="GET"):
        return http_request(self.server.port, request(method, path), timeout=5)

    def test_index_for_root_and_rooms(self):
        for path in ("/", "/index.html", "/chat/lobby", "/chat/room-42?x=1"):
            with self.subTest(path=path):
                status, hdrs, body = self.get(path)
                self.assertEqual(status, 200)
                self.assertEqual(hdrs["content-type"], "text/html; charset=utf-8")
                self.assertEqual(hdrs["cache-control"], "no-cache")
                self.assertEqual(body, read_file("index.html"))

    def test_content_types(self):
        for path, ctype in (("/chat.js", "text/javascript; charset=utf-8"),
                            ("/chat.css", "text/css; charset=utf-8"),
                            ("/img/logo.svg", "image/svg+xml")):
            with self.subTest(path=path):
                status, hdrs, body = self.get(path)
                self.assertEqual(status, 200)
                self.assertEqual(hdrs["content-type"], ctype)
                self.assertEqual(int(hdrs["content-length"]), len(body))
        self.assertEqual(self.get("/chat.js")[2], read_file("chat.js"))

    def test_head_is_get_without_the_body(self):
        with RawClient(self.server.port) as c:
            c.send(request("HEAD", "/chat.js"))
            status, hdrs, body = c.read_response(body=False)
            self.assertEqual(status, 200)
            self.assertEqual(int(hdrs["content-length"]), len(read_file("chat.js")))
            deadline = time.monotonic() + 3
            try:  # the answer ends with the head: not one byte of body before the close
                while True:
                    c._fill(deadline)
            except Closed:
                pass
            self.assertEqual(c.buf, b"")

    def test_unknown_and_traversal_are_404(self):
        for path in ("/nope.html", "/../etc/passwd", "/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd",
                     "/img/../index.html", "/.env", "/passwd", "/img\\logo.svg", "/%2e%2e%5cindex.html"):
            with self.subTest(path=path):
                status, _, body = self.get(path)
                self.assertEqual(status, 404)
                self.assertNotIn(b"root:", body)
                self.assertNotIn(b"SECRET", body)

    def test_no_directory_listing(self):
        for path in ("/img", "/img/", "//"):
            with self.subTest(path=path):
                status, _, body = self.get(path)
                self.assertEqual(status, 404)
                self.assertNotIn(b"logo.svg", body)

    def test_other_methods_are_405(self):
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            with self.subTest(method=method):
                status, hdrs, _ = self.get("/", method)
                self.assertEqual(status, 405)
                self.assertEqual(hdrs["allow"], "GET, HEAD")

    def test_healthz_and_upgrades_still_work(self):
        status, _, body = self.get("/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        with RawClient(self.server.port) as c:
            c.handshake("/chat/lobby", headers={"Sec-WebSocket-Protocol": "wsring.v1"})
            self.assertTrue(c.recv_message(timeout=5)[1].startswith(b"!position "))


per_backend(globals(), WebBase)


class WebStartupTest(unittest.TestCase):
    """A folder that cannot be served stops the server before it listens."""

    def refused(self, folder):
        p = subprocess.run(server_command() + ["--host", HOST, "--port", "0", "--web", folder],
                           capture_output=True, timeout=15)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertNotIn(b"listening", p.stdout)
        return p.stderr.decode(errors="replace")

    def test_missing_folder(self):
        self.assertIn("not a folder", self.refused("/nonexistent/wsring-web"))

    def test_folder_without_index(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "chat.js"), "w") as f:
                f.write("x")
            self.assertIn("no index.html", self.refused(d))
