# deploy/: the systemd unit passes `systemd-analyze verify` (with ExecStart
# pointed at the binary under test, since /usr/local/bin may hold none here),
# and its ExecStart line is a command ws-server accepts.
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from wsring_harness import server_command

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
UNIT = os.path.join(REPO, "deploy", "wsring.service")


class SystemdUnit(unittest.TestCase):

    def exec_start(self):
        with open(UNIT) as f:
            m = re.search(r"^ExecStart=(\S+)(.*)$", f.read(), re.M)
        self.assertIsNotNone(m)
        return m.group(1), m.group(2).split()

    @unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze on this machine")
    def test_verify(self):
        binary, _ = self.exec_start()
        with tempfile.TemporaryDirectory() as d:
            unit = os.path.join(d, "wsring.service")
            with open(UNIT) as f:
                text = f.read().replace(binary, os.path.abspath(server_command()[-1]))
            with open(unit, "w") as f:
                f.write(text)
            r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_exec_start_arguments_are_options_of_ws_server(self):
        _, args = self.exec_start()
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "wsring.conf")
            with open(conf, "w") as f:
                f.write("port = 0\nhost = 127.0.0.1\n")
            args = [conf if a.startswith("/etc/wsring/") else a for a in args]
            r = subprocess.run(server_command() + args + ["--help"], capture_output=True, text=True,
                               timeout=20)
            self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
