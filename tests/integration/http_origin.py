"""A scripted HTTP/1.1 origin and a raw HTTP client for cache tests.

Origin: a threaded loopback server speaking HTTP/1.1 over plain sockets,
so a test controls every byte of a response (1xx interim responses, 304,
duplicate header lines, malformed values, delays). Each path gets a script:
a list of responses used in turn, the last one repeated; an entry may be a
callable(request) -> response, for answers that depend on the request
(Range, Accept-Encoding, If-None-Match). Every request is recorded (method,
target, header lines, body) so a test can assert what the cache sent, or
that it did not reach the origin at all. One request per connection: the
origin answers and closes, as nginx's proxy expects with its default
`Connection: close`.

A response is a dict:
  status   int (200)             reason   str (a standard phrase)
  headers  [(name, value)...]    values may hold templates (see expand())
  body     str | bytes ("")      delay    seconds to wait before answering
  interim  [(status, [(name, value)...])...]  1xx responses sent first
  raw      bytes: sent as the whole response instead of all of the above
Date is added (now) unless the headers carry one or no_date is true,
Content-Length unless present (never on 1xx/204/304 or HEAD-less 304),
Connection: close unless a Connection field is scripted.

Client: request(port, method, target, headers) sends exactly the given
header lines (plus Host and Connection: close unless given), so no library
adds Accept-Encoding behind the test's back, and returns a Response with
the status, the header lines in order, the raw body (de-chunked, never
decoded), the statuses of any 1xx responses before it and any bytes
sent after the message (a body after a 304, a wrong Content-Length).

Templates in header values (expand()): {date:+N} / {date:-N} an
IMF-fixdate N seconds from now, {rfc850:+N} and {asctime:+N} the two
obsolete formats, and any key of the vars dict given, e.g. {base} (the
case's path prefix) and {edge} (the edge's host:port).
"""

import email.utils
import re
import socket
import socketserver
import threading
import time

REASONS = {100: "Continue", 103: "Early Hints", 200: "OK",
           201: "Created", 203: "Non-Authoritative Information",
           204: "No Content", 206: "Partial Content",
           301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           307: "Temporary Redirect", 308: "Permanent Redirect",
           400: "Bad Request", 404: "Not Found", 410: "Gone",
           416: "Range Not Satisfiable", 500: "Internal Server Error",
           503: "Service Unavailable"}

_WDAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
         "Saturday", "Sunday")


def http_date(t, fmt="date"):
    """t (epoch seconds) in one of the three HTTP date formats of RFC 9110
    §5.6.7: IMF-fixdate, RFC 850, asctime."""
    g = time.gmtime(t)
    if fmt == "date":
        return email.utils.formatdate(t, usegmt=True)
    if fmt == "rfc850":
        return "%s, %s GMT" % (_WDAY[g.tm_wday],
                               time.strftime("%d-%b-%y %H:%M:%S", g))
    if fmt == "asctime":
        return time.strftime("%a %b ", g) + "%2d" % g.tm_mday + \
            time.strftime(" %H:%M:%S %Y", g)
    raise ValueError(fmt)


_TEMPLATE = re.compile(r"\{(date|rfc850|asctime):([+-]\d+)\}|\{(\w+)\}")


def expand(value, vars=None, now=None):
    """Replaces the templates of a header value (see the module doc)."""
    if isinstance(value, bytes):
        return value
    now = time.time() if now is None else now
    vars = vars or {}

    def sub(m):
        if m.group(1):
            return http_date(now + int(m.group(2)), m.group(1))
        return str(vars.get(m.group(3), m.group(0)))
    return _TEMPLATE.sub(sub, str(value))


class Request:
    """One request as the origin got it."""

    def __init__(self, method, target, version, headers, body):
        self.method, self.target, self.version = method, target, version
        self.headers = headers            # [(name, value)] in order
        self.body = body
        self.path = target.split("?", 1)[0]
        self.time = time.time()

    def get(self, name):
        """All field lines of name combined with ", " (RFC 9110 §5.3),
        None when absent."""
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(vals) if vals else None

    def __repr__(self):
        return "<%s %s %r>" % (self.method, self.target, self.headers)


def _read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))


def _read_chunked(f):
    out = b""
    while True:
        size = int(f.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            return out
        out += f.read(size)
        f.readline()


class Origin:
    """The scripted origin on 127.0.0.1:port (see the module doc)."""

    def __init__(self, port):
        self.port = port
        self.scripts = {}                 # path -> [response...]
        self.served = {}                  # path -> responses used so far
        self.requests = []
        self.sent = {}                    # path -> last header lines sent
        self.lock = threading.Lock()
        self.vars = {}
        self.server = None

    def script(self, path, responses):
        with self.lock:
            self.scripts[path] = list(responses)
            self.served[path] = 0

    def requests_to(self, base):
        """The requests for base and the paths below it (base + "/...")."""
        with self.lock:
            return [r for r in self.requests
                    if r.path == base or r.path.startswith(base + "/")]

    def last_response(self, path):
        """The header lines (templates expanded) last sent for path."""
        with self.lock:
            return self.sent.get(path)

    def _next(self, req):
        with self.lock:
            self.requests.append(req)
            script = self.scripts.get(req.path)
            if not script:
                return {"status": 404, "body": "no script for " + req.path,
                        "headers": [("Cache-Control", "no-store")]}
            n = self.served[req.path]
            self.served[req.path] = n + 1
            resp = script[min(n, len(script) - 1)]
        return resp(req) if callable(resp) else resp

    def _encode(self, resp, req):
        if resp.get("raw") is not None:
            return expand(resp["raw"], self.vars).encode("latin-1") \
                if isinstance(resp["raw"], str) else resp["raw"]
        now = time.time()
        out = b""
        for status, headers in resp.get("interim", ()):
            out += ("HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "X"))
                    ).encode()
            for k, v in headers:
                out += self._line(k, v, now)
            out += b"\r\n"
        status = resp.get("status", 200)
        body = resp.get("body", "")
        body = body.encode() if isinstance(body, str) else body
        headers = list(resp.get("headers", ()))
        names = {k.lower() for k, _ in headers}
        if "date" not in names and not resp.get("no_date"):
            headers.insert(0, ("Date", "{date:+0}"))
        bodyless = status < 200 or status in (204, 304)
        if "content-length" not in names and \
                "transfer-encoding" not in names and not bodyless:
            headers.append(("Content-Length", str(len(body))))
        if "connection" not in names:
            headers.append(("Connection", "close"))
        out += ("HTTP/1.1 %d %s\r\n" % (
            status, resp.get("reason", REASONS.get(status, "Status")))
        ).encode()
        record = []
        for k, v in headers:
            out += self._line(k, v, now, record)
        with self.lock:
            self.sent[req.path] = record
        out += b"\r\n"
        if not bodyless and req.method != "HEAD":
            out += body
        return out

    def _line(self, name, value, now, record=None):
        v = expand(value, self.vars, now)
        if record is not None:
            record.append((name, v if isinstance(v, str)
                           else v.decode("latin-1")))
        v = v if isinstance(v, bytes) else v.encode("latin-1")
        return name.encode("latin-1") + b": " + v + b"\r\n"

    def _handle(self, conn):
        f = conn.makefile("rb")
        head = _read_head(f)
        if not head:
            return
        method, target, version = (head[0].split(" ", 2) + ["", ""])[:3]
        headers = []
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        req = Request(method, target, version, headers, b"")
        te = (req.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            req.body = _read_chunked(f)
        elif req.get("Content-Length"):
            req.body = f.read(int(req.get("Content-Length")))
        resp = self._next(req)
        if resp.get("delay"):
            time.sleep(resp["delay"])
        try:
            conn.sendall(self._encode(resp, req))
        except OSError:
            pass                        # the cache gave up waiting

    def start(self):
        origin = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                origin._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.interim = []                 # statuses of 1xx responses before
        self.extra = b""                  # bytes sent after the message

    def get(self, name):
        """All field lines of name combined with ", ", None when absent."""
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(vals) if vals else None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<%s%d %r %r>" % (
            "".join("%d+" % i for i in self.interim), self.status,
            self.headers, self.body[:80])


def request(port, method, target, headers=(), body=None, timeout=10):
    """One request over its own connection; see the module doc."""
    names = {k.lower() for k, _ in headers}
    lines = ["%s %s HTTP/1.1" % (method, target)]
    if "host" not in names:
        lines.append("Host: 127.0.0.1:%d" % port)
    if "connection" not in names:
        lines.append("Connection: close")
    lines += ["%s: %s" % (k, v) for k, v in headers]
    if body is not None and "content-length" not in names:
        lines.append("Content-Length: %d" % len(body))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is not None:
        data += body.encode() if isinstance(body, str) else body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        f = s.makefile("rb")
        interim = []
        while True:
            head = _read_head(f)
            if head is None:
                raise ConnectionError("connection closed before a response")
            status = int(head[0].split(" ", 2)[1])
            if status >= 200 or status == 101:
                break
            interim.append(status)        # 1xx interim: read the next one
        hdrs = []
        for line in head[1:]:
            k, _, v = line.partition(":")
            hdrs.append((k.strip(), v.strip()))
        resp = Response(status, hdrs, b"")
        resp.interim = interim
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in (resp.get("Transfer-Encoding") or "").lower():
            resp.body = _read_chunked(f)
        elif resp.get("Content-Length") is not None:
            resp.body = f.read(int(resp.all("Content-Length")[0]))
        else:
            resp.body = f.read()
        if "close" in (resp.get("Connection") or "").lower():
            resp.extra = f.read()     # bytes after the framed message
        return resp
