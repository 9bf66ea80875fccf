"""wsring.v1 messages as the integration tests read them (docs/protocol-v1.md):
a data message "<epoch>:<offset>\\n<payload>", or a notice ("!position",
"!unrecovered", "!error"). Shared by test_positions.py and the cluster
suite (cluster_harness.py)."""

import re

EPOCH_RE = r"[A-Za-z0-9_-]{1,32}"
NOTICE_RE = re.compile(r"!(position|unrecovered) (%s):(\d+)\Z" % EPOCH_RE)
PREFIX_RE = re.compile(r"(%s):(\d+)\Z" % EPOCH_RE)


class Msg:
    """kind 'data' (epoch, offset, payload, text), 'position' or
    'unrecovered' (epoch, offset), or 'error' (payload: the reason)."""

    def __init__(self, kind, epoch=None, offset=None, payload=None, text=None):
        self.kind, self.epoch, self.offset, self.payload, self.text = kind, epoch, offset, payload, text

    def __repr__(self):
        if self.kind == "error":
            return "!error %r" % self.payload
        if self.kind != "data":
            return "!%s %s:%d" % (self.kind, self.epoch, self.offset)
        return "%s:%d %r" % (self.epoch, self.offset, self.payload[:40])


def parse_v1(message):
    if isinstance(message, str):
        m = NOTICE_RE.match(message)
        if m:
            return Msg(m.group(1), m.group(2), int(m.group(3)))
        if message.startswith("!error"):
            return Msg("error", payload=message[len("!error"):].strip())
        if message.startswith("!"):
            raise AssertionError("unknown notice %r" % message)
        data, text = message.encode(), True
    else:
        data, text = message, False
    head, nl, payload = data.partition(b"\n")
    m = PREFIX_RE.match(head.decode("latin-1"))
    if not nl or not m:
        raise AssertionError("not a wsring.v1 message: %r" % message[:80])
    return Msg("data", m.group(1), int(m.group(2)), payload, text)
