"""The test harness itself: what the other modules rely on to read a
running child's output (wsring_harness.child_output_file)."""
import subprocess
import sys
import time
import unittest

from wsring_harness import child_output_file

LINES = 20000


class ChildOutputFileTest(unittest.TestCase):
    def test_reading_while_the_child_writes_loses_no_line(self):
        """A child logs line after line while we read the file from the start,
        as a test polling a server's stderr does. Without O_APPEND the child's
        writes follow our seek(0) and land over earlier lines (a run lost
        3,150 of 20,000)."""
        out = child_output_file()
        child = subprocess.Popen(
            [sys.executable, "-c",
             "import os\nfor i in range(%d): os.write(2, b'line-%%d\\n' %% i)" % LINES],
            stdin=subprocess.DEVNULL, stderr=out)
        self.addCleanup(out.close)
        reads, deadline = 0, time.monotonic() + 30
        while child.poll() is None and time.monotonic() < deadline:
            out.seek(0)
            out.read()
            reads += 1
        self.assertEqual(child.wait(timeout=5), 0)
        out.seek(0)
        got = out.read().decode().splitlines()
        self.assertEqual(len(got), LINES, "after %d reads mid-run" % reads)
        self.assertEqual(got, ["line-%d" % i for i in range(LINES)])


if __name__ == "__main__":
    unittest.main()
