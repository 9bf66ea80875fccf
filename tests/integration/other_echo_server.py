# "Somebody else's server" for the benchmark scripts' tests (test_bench_harness,
# test_ab_script): a tiny echo server on Debian's python3-websockets that
# echoes every message, text as text, binary as binary. Before serving it
# appends "PID CPUS AB_MARK" to the note file, so a test can see which
# process ran, on which CPUs, with which environment, and that it is gone.
# Usage: /usr/bin/python3 other_echo_server.py PORT NOTE_FILE
import asyncio
import os
import sys

import websockets

with open(sys.argv[2], "a") as f:
    f.write("%d %s %s\n" % (os.getpid(), ",".join(map(str, sorted(os.sched_getaffinity(0)))),
                            os.environ.get("AB_MARK", "-")))


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=None, compression=None):
        await asyncio.Future()


asyncio.run(main())
