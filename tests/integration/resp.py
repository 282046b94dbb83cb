"""A minimal RESP2 client for tests: many commands written in one pipeline
and their replies read back raw (bytes, not redis-cli's escaped text), so a
test can look at every key in the database without a process per key."""

import socket


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.f = sock.makefile("rb")

    def reply(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("Redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RuntimeError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("not RESP: %r" % line)


def pipeline(port, commands, timeout=30):
    """Sends every command at once; returns their replies in order."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(_encode(c) for c in commands))
        r = _Reader(s)
        return [r.reply() for _ in commands]


def scan_keys(port):
    keys, cursor = [], b"0"
    while True:
        cursor, batch = pipeline(port, [["SCAN", cursor, "COUNT", 1000]])[0]
        keys += batch
        if cursor == b"0":
            return keys


# the command that reads a key's whole value, by TYPE
READ_ALL = {
    b"string": lambda k: ["GET", k],
    b"hash": lambda k: ["HGETALL", k],
    b"list": lambda k: ["LRANGE", k, 0, -1],
    b"set": lambda k: ["SMEMBERS", k],
    b"zset": lambda k: ["ZRANGE", k, 0, -1],
    b"stream": lambda k: ["XRANGE", k, "-", "+"],
}


def flatten(reply):
    if isinstance(reply, list):
        return b"\n".join(flatten(x) for x in reply)
    if isinstance(reply, bytes):
        return reply
    return str(reply).encode()


def dump_values(port):
    """{key: every byte of its value} for every key in the database."""
    keys = scan_keys(port)
    types = pipeline(port, [["TYPE", k] for k in keys])
    cmds = [READ_ALL[t](k) for k, t in zip(keys, types) if t in READ_ALL]
    read = [k for k, t in zip(keys, types) if t in READ_ALL]
    return {k: flatten(v) for k, v in zip(read, pipeline(port, cmds))}
