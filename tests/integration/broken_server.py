#!/usr/bin/env python3
# A deliberately broken WebSocket echo server, for test_ws_bench.py: it
# upgrades (RFC 6455 §4.2.2) and echoes like a real one for --after N
# messages per connection, then breaks in the chosen way:
#   corrupt      flips the last byte of the payload it echoes (length intact)
#   close-early  drops the TCP connection without a close frame (§7.1.5: 1006)
#   masked       sends its echo masked, which §5.1 forbids a server to do
#   short        echoes one byte less than it received
#   reject       answers the upgrade with 403 instead of 101
#   none         no fault: a correct server, the control case
#   silent       reads every message and answers none (the connection stays up)
# and three that break no rule but test the client's answers, printing what
# came back ("broken-server: ..."):
#   ping         sends a ping before every later echo: "pong ok" and/or "pong wrong"
#   close        closes with 1001 "bye" (§5.5.1): "close answered CODE|empty"
#   close-empty  closes with an empty close frame: the same line
# With --broadcast it sends every message to every connection instead, and
# breaks the --after'th message of the run:
#   drop         nobody receives it (loss)
#   reorder      everyone receives it after the next one (reordering)
# Prints "broken-server: listening on 127.0.0.1:PORT" when ready. Test-only:
# small, blocking-free asyncio, no fragmentation support (ws-bench never fragments).
import argparse
import asyncio
import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


def frame(opcode, payload, mask=None):
    head = bytes([0x80 | opcode])
    mbit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    key = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


async def handshake(reader, writer, fault):
    head = await reader.readuntil(b"\r\n\r\n")
    key = b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    if fault == "reject":
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        return False
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: %s\r\n\r\n" % accept_key(key)).encode())
    return True


def broken_echo(fault, opcode, payload):
    """The bytes to send for the first message after --after, or None to hang up."""
    if fault == "corrupt":
        return frame(opcode, payload[:-1] + bytes([payload[-1] ^ 0x01]) if payload else b"x")
    if fault == "masked":
        return frame(opcode, payload, mask=os.urandom(4))
    if fault == "short":
        return frame(opcode, payload[:-1])
    return None  # close-early


class Broadcaster:
    """Every message to every open connection; one message of the run broken."""

    def __init__(self, fault, after):
        self.fault, self.after = fault, after
        self.clients = set()
        self.count = 0
        self.held = None

    def publish(self, opcode, payload):
        index = self.count
        self.count += 1
        if index == self.after and self.fault == "drop":
            return
        if index == self.after and self.fault == "reorder":
            self.held = frame(opcode, payload)
            return
        self.send_all(frame(opcode, payload))
        if self.held is not None:
            self.send_all(self.held)
            self.held = None

    def send_all(self, data):
        for w in list(self.clients):
            if not w.is_closing():
                w.write(data)


async def serve_broadcast(reader, writer, hub):
    try:
        if not await handshake(reader, writer, "none"):
            return
        hub.clients.add(writer)
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == 0x8:
                hub.clients.discard(writer)
                writer.write(frame(0x8, payload[:2]))
                await writer.drain()
                return
            if opcode == 0x9:
                writer.write(frame(0xA, payload))
                continue
            hub.publish(opcode, payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        hub.clients.discard(writer)
        writer.close()


def close_body(payload):
    return str(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else "empty"


async def serve(reader, writer, fault, after):
    try:
        if not await handshake(reader, writer, fault):
            return
        echoed = 0
        pinged = None  # the payload of our last ping (--fault ping)
        closing = False  # our close went out (--fault close, close-empty)
        said = set()  # the pong verdicts printed
        while True:
            opcode, payload = await read_frame(reader)
            if opcode == 0x8 and closing:  # the answer to ours
                print("broken-server: close answered %s" % close_body(payload), flush=True)
                return
            if opcode == 0x8:  # close: answer and hang up (§5.5.1)
                writer.write(frame(0x8, payload[:2]))
                await writer.drain()
                return
            if opcode == 0x9:
                writer.write(frame(0xA, payload))
                continue
            if opcode == 0xA:  # one line per connection and verdict: nobody reads the pipe mid-run
                verdict = "ok" if payload == pinged else "wrong"
                if verdict not in said:
                    said.add(verdict)
                    print("broken-server: pong %s" % verdict, flush=True)
                continue
            if closing:
                continue  # §7.1.2: data may arrive before the client's close
            if echoed >= after and fault == "ping":
                pinged = b"ping %d" % echoed
                writer.write(frame(0x9, pinged))
            if echoed >= after and fault in ("close", "close-empty"):
                writer.write(frame(0x8, struct.pack("!H", 1001) + b"bye" if fault == "close" else b""))
                await writer.drain()
                closing = True
                continue
            if fault == "silent" and echoed >= after:
                continue
            if echoed >= after and fault not in ("none", "ping"):
                out = broken_echo(fault, opcode, payload)
                if out is None:
                    return
                writer.write(out)
                await writer.drain()
                continue
            writer.write(frame(opcode, payload))
            echoed += 1
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fault", required=True,
                    choices=["corrupt", "close-early", "masked", "short", "reject", "none", "drop", "reorder",
                             "ping", "close", "close-empty", "silent"])
    ap.add_argument("--after", type=int, default=5, help="messages handled correctly first")
    ap.add_argument("--broadcast", action="store_true", help="broadcast instead of echo")
    args = ap.parse_args()
    if args.broadcast:
        hub = Broadcaster(args.fault, args.after)
        handler = lambda r, w: serve_broadcast(r, w, hub)
    else:
        handler = lambda r, w: serve(r, w, args.fault, args.after)
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print("broken-server: listening on 127.0.0.1:%d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
