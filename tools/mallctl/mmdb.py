"""The metadata of a MaxMind DB file (database type, build date): the map
after the last "\\xab\\xcd\\xefMaxMind.com" marker (MaxMind DB format 2)."""

import struct

MARKER = b"\xab\xcd\xefMaxMind.com"


def _decode(buf, pos):
    ctrl = buf[pos]
    pos += 1
    kind = ctrl >> 5
    if kind == 0:                                    # extended type
        kind = 7 + buf[pos]
        pos += 1
    size = ctrl & 0x1F
    if kind == 1:
        raise ValueError("pointer in metadata")
    if size >= 29:
        n = size - 28
        size = [29, 285, 65821][n - 1] + int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if kind == 2:
        return buf[pos:pos + size].decode("utf-8"), pos + size
    if kind in (5, 6, 9, 10):
        return int.from_bytes(buf[pos:pos + size], "big"), pos + size
    if kind == 8:
        return int.from_bytes(buf[pos:pos + size], "big", signed=True), pos + size
    if kind == 3:
        return struct.unpack(">d", buf[pos:pos + 8])[0], pos + 8
    if kind == 15:
        return struct.unpack(">f", buf[pos:pos + 4])[0], pos + 4
    if kind == 4:
        return bytes(buf[pos:pos + size]), pos + size
    if kind == 14:
        return bool(size), pos
    if kind == 7:
        out = {}
        for _ in range(size):
            k, pos = _decode(buf, pos)
            out[k], pos = _decode(buf, pos)
        return out, pos
    if kind == 11:
        out = []
        for _ in range(size):
            v, pos = _decode(buf, pos)
            out.append(v)
        return out, pos
    raise ValueError("type %d in metadata" % kind)


def metadata(path):
    """The metadata map of the file (raises OSError / ValueError)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 128 * 1024))          # metadata is at the end
        tail = f.read()
    at = tail.rfind(MARKER)
    if at < 0:
        raise ValueError("not a MaxMind DB file")
    meta, _ = _decode(tail, at + len(MARKER))
    return meta
