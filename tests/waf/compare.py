#!/usr/bin/env python3
"""Detection and false-positive rates of WAF engines on the regression suite.

Every case of tests/waf/cases/*.tsv (see waf_cases.c for the format) becomes
a real HTTP request, sent to each engine's nginx; a 403 answer is a block.

  compare.py --engine mall=http://127.0.0.1:18600 \\
             --engine modsec=http://127.0.0.1:18601 [--json OUT] [-v] [TSV...]

tests/bench/run.sh [--with-modsecurity] waf_compare starts the two nginx
instances (mall WAF default rules; ModSecurity v3 + CRS PL1) and runs this.

WHERE -> request (the shopper's baseline around it, as waf_feed.c has it:
GET /api/v1/products, Host, a WeChat User-Agent, Accept):
  arg:NAME      ?NAME=<payload percent-encoded>   (the edge decodes it once)
  query         the payload as the query string (bytes not allowed in a
                request line percent-encoded)
  json          POST, the payload as an application/json body
  json:a.b      POST {"a":{"b":"<payload>"}} ("x[]" segments are arrays)
  form          POST, the payload as an x-www-form-urlencoded body
  form:NAME     POST NAME=<payload percent-encoded>
  cookie:NAME   Cookie: NAME=<payload>
  header:NAME   NAME: <payload>
  path          the payload as the request path (unsafe bytes encoded)
  body          POST, text/plain (application/xml when it looks like XML)
  file:NAME     POST multipart/form-data, a part NAME with filename=<payload>
  multipart:B   POST, the payload as a multipart body with boundary B
  flag:no_host  an HTTP/1.0 request without Host
  flag:cl_and_te  a POST with both Content-Length and Transfer-Encoding
  other flag:   skipped (an edge fact with no request form)
A case that cannot be sent (e.g. a header value with a line break, which no
client can send) is counted as "unsendable" and left out of the rates.
Python 3 standard library only.
"""

import argparse
import glob
import json
import os
import socket
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BASE_PATH = "/api/v1/products"
BASE_HEADERS = [
    ("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
     "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
     "MicroMessenger/8.0.40(0x18002831) NetType/WIFI Language/zh_CN"),
    ("Accept", "application/json, */*"),
]


def unescape(s):
    """\\t \\n \\r \\\\ \\xHH as waf_cases.c reads them; bytes out."""
    out = bytearray()
    b = s.encode("utf-8")
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            n = chr(b[i + 1])
            if n == "t":
                out.append(9)
                i += 2
            elif n == "n":
                out.append(10)
                i += 2
            elif n == "r":
                out.append(13)
                i += 2
            elif n == "x":
                h = b[i + 2:i + 4].decode("ascii", "replace")
                try:
                    out.append(int(h, 16))
                except ValueError:
                    out.append(0)
                i += 4
            else:
                out.append(b[i + 1])
                i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def read_cases(paths):
    cases = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                parts = line.split("\t", 3)
                if len(parts) < 3:
                    continue
                while len(parts) < 4:
                    parts.append("")
                expect, tag, where, payload = parts
                if expect not in ("block", "pass"):
                    continue
                cases.append({
                    "file": os.path.basename(path), "line": lineno,
                    "expect": expect, "tag": tag, "where": where,
                    "payload": unescape(payload),
                })
    return cases


# bytes a request target may carry as they are (RFC 3986 pchar + / ? and
# '%', so that an encoded payload stays encoded)
SAFE_TARGET = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               b"0123456789-._~!$&'()*+,;=:@/?%[]")


def encode_unsafe(b):
    return "".join(chr(c) if c in SAFE_TARGET else "%%%02X" % c for c in b)


def json_at(path, payload):
    """{"a":{"b":"<payload>"}} for a.b; "items[]" makes an array."""
    value = payload.decode("utf-8", "surrogateescape")
    for seg in reversed(path.split(".")):
        if seg.endswith("[]"):
            value = {seg[:-2]: [value]}
        else:
            value = {seg: value}
    text = json.dumps(value, ensure_ascii=False)
    return text.encode("utf-8", "surrogateescape")


def multipart_file(field, fname):
    return (b"--XyZ\r\nContent-Disposition: form-data; name=\"" +
            field.encode() + b"\"; filename=\"" + fname +
            b"\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0"
            b"\r\n--XyZ--\r\n")


class Unsendable(Exception):
    pass


class Skip(Exception):
    pass


def build(case):
    """-> (method, target, headers [(k, v bytes)], body bytes or None,
    raw request bytes or None)"""
    where, p = case["where"], case["payload"]
    kind, _, name = where.partition(":")
    method, target, body = "GET", BASE_PATH + "?page=1", None
    headers = [(k, v.encode()) for k, v in BASE_HEADERS]
    ctype = None

    if kind == "arg" and name:
        target = BASE_PATH + "?" + urllib.parse.quote(name, safe="") + "=" + \
            urllib.parse.quote_from_bytes(p, safe="")
    elif kind == "query":
        target = BASE_PATH + "?" + encode_unsafe(p)
    elif kind == "json":
        method = "POST"
        body = json_at(name, p) if name else p
        ctype = "application/json"
    elif kind == "form":
        method = "POST"
        body = (urllib.parse.quote(name, safe="").encode() + b"=" +
                urllib.parse.quote_from_bytes(p, safe="").encode()) \
            if name else p
        ctype = "application/x-www-form-urlencoded"
    elif kind == "cookie" and name:
        headers.append(("Cookie", name.encode() + b"=" + p))
    elif kind == "header" and name:
        headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
        headers.append((name, p))
    elif kind == "path":
        target = encode_unsafe(p)
        if not target.startswith("/"):
            target = "/" + target
    elif kind == "body":
        method = "POST"
        body = p
        ctype = "application/xml" if p.lstrip().startswith(b"<") \
            else "text/plain"
    elif kind == "file" and name:
        method = "POST"
        body = multipart_file(name, p)
        ctype = "multipart/form-data; boundary=XyZ"
    elif kind == "multipart" and name:
        method = "POST"
        body = p
        ctype = "multipart/form-data; boundary=" + name
    elif kind == "flag" and name == "no_host":
        raw = ("GET %s?page=1 HTTP/1.0\r\n" % BASE_PATH).encode()
        for k, v in headers:
            raw += k.encode() + b": " + v + b"\r\n"
        return None, None, None, None, raw + b"\r\n"
    elif kind == "flag" and name == "cl_and_te":
        raw = ("POST %s HTTP/1.1\r\nHost: mall.example.com\r\n" %
               BASE_PATH).encode()
        for k, v in headers:
            raw += k.encode() + b": " + v + b"\r\n"
        raw += (b"Content-Type: application/json\r\nContent-Length: 6\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                b"2\r\n{}\r\n0\r\n\r\n")
        return None, None, None, None, raw
    elif kind == "flag":
        raise Skip("an edge fact with no request form")
    else:
        raise Skip("unknown WHERE " + where)

    for k, v in headers:
        if b"\r" in v or b"\n" in v or b"\0" in v:
            raise Unsendable("line break or NUL in a header value")
    if ctype:
        headers.append(("Content-Type", ctype.encode()))
    return method, target, headers, body, None


def send(base, req, timeout):
    """-> HTTP status (int), or a string describing a failure"""
    method, target, headers, body, raw = req
    u = urllib.parse.urlsplit(base)
    host, port = u.hostname, u.port or 80
    if raw is None:
        out = ("%s %s HTTP/1.1\r\nHost: mall.example.com\r\n" %
               (method, target)).encode("latin-1")
        for k, v in headers:
            out += k.encode() + b": " + v + b"\r\n"
        if body is not None:
            out += b"Content-Length: %d\r\n" % len(body)
        out += b"Connection: close\r\n\r\n"
        if body is not None:
            out += body
    else:
        out = raw
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(out)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return "error: %s" % e
    line = data.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[1].isdigit():
        return int(line[1])
    return "error: no status line"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", action="append", required=True,
                    metavar="NAME=URL", help="an engine's base URL")
    ap.add_argument("--json", help="write the figures here as JSON")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="list every miss and false positive")
    ap.add_argument("tsv", nargs="*",
                    default=sorted(glob.glob(os.path.join(HERE, "cases",
                                                          "*.tsv"))))
    a = ap.parse_args()
    engines = []
    for e in a.engine:
        name, _, url = e.partition("=")
        engines.append((name, url))

    cases = read_cases(a.tsv)
    res = {n: {"attack": 0, "detected": 0, "benign": 0, "fp": 0,
               "attack_400": 0, "benign_400": 0,
               "errors": 0, "other_status": {}, "by_tag": {},
               "misses": [], "fps": []} for n, _ in engines}
    skipped, unsendable = [], []
    for c in cases:
        ident = "%s:%d %s %s" % (c["file"], c["line"], c["tag"], c["where"])
        try:
            req = build(c)
        except Skip as e:
            skipped.append((ident, str(e)))
            continue
        except Unsendable as e:
            unsendable.append((ident, str(e)))
            continue
        for name, url in engines:
            r = res[name]
            st = send(url, req, a.timeout)
            if isinstance(st, str):
                r["errors"] += 1
                if a.verbose:
                    print("  %s: %s: %s" % (name, ident, st))
                continue
            blocked = st == 403
            if st == 400:
                r["attack_400" if c["expect"] == "block"
                  else "benign_400"] += 1
            if not blocked and st not in (200, 400, 404):
                r["other_status"][str(st)] = \
                    r["other_status"].get(str(st), 0) + 1
            excerpt = c["payload"][:60].decode("utf-8", "replace")
            if c["expect"] == "block":
                t = r["by_tag"].setdefault(c["tag"], [0, 0])
                t[1] += 1
                r["attack"] += 1
                if blocked:
                    t[0] += 1
                    r["detected"] += 1
                else:
                    r["misses"].append("%s (%d) %s" % (ident, st, excerpt))
            else:
                r["benign"] += 1
                if blocked:
                    r["fp"] += 1
                    r["fps"].append("%s %s" % (ident, excerpt))

    def pct(x, n):
        return "%5.1f%%" % (100.0 * x / n) if n else "   - "

    print("WAF comparison on %d cases (%s)" %
          (len(cases), ", ".join(os.path.basename(p) for p in a.tsv)))
    if skipped:
        print("skipped %d (no request form): %s" %
              (len(skipped), ", ".join(s[0] for s in skipped)))
    if unsendable:
        print("unsendable %d: %s" %
              (len(unsendable), ", ".join(s[0] for s in unsendable)))
    print()
    print("%-8s %-22s %-22s %-28s %s" % (
        "engine", "detection (403)", "false positives (403)",
        "attacks 400 / benign 400", "errors"))
    for name, _ in engines:
        r = res[name]
        print("%-8s %-22s %-22s %-28s %d" % (
            name, "%s  %d/%d" % (pct(r["detected"], r["attack"]),
                                 r["detected"], r["attack"]),
            "%s  %d/%d" % (pct(r["fp"], r["benign"]), r["fp"], r["benign"]),
            "%d / %d" % (r["attack_400"], r["benign_400"]), r["errors"]))
    print("(a 403 is the WAF's block; a 400 is nginx refusing the request "
          "before any WAF runs,\n or ModSecurity's request-body parse "
          "rule 200002: counted as a miss / pass above)")
    tags = sorted({t for n, _ in engines for t in res[n]["by_tag"]})
    print()
    print("detection per tag:")
    print("  %-10s" % "tag" + "".join("%-16s" % n for n, _ in engines))
    for t in tags:
        row = "  %-10s" % t
        for n, _ in engines:
            d, tot = res[n]["by_tag"].get(t, [0, 0])
            row += "%-16s" % ("%d/%d %s" % (d, tot, pct(d, tot).strip()))
        print(row)
    for name, _ in engines:
        r = res[name]
        if r["other_status"]:
            print("%s: statuses other than 200/400/403/404 (counted as "
                  "pass): %s"
                  % (name, r["other_status"]))
        if a.verbose:
            for m in r["misses"]:
                print("  %s missed: %s" % (name, m))
            for m in r["fps"]:
                print("  %s false positive: %s" % (name, m))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cases": len(cases), "skipped": skipped,
                       "unsendable": unsendable, "engines": res}, f,
                      indent=1, ensure_ascii=False)
    return 1 if any(res[n]["errors"] for n, _ in engines) else 0


if __name__ == "__main__":
    sys.exit(main())
