#!/usr/bin/python3
"""Rate-limit accuracy: offers 2x a mall_limit's rate for D seconds from one
client and checks that the admitted count is the configured rate within 2%.

Starts its own nginx (the built module, one worker, free loopback port,
temp dir), paces keep-alive GETs on a schedule of 2 * RATE per second
(catching up when late), counts 200 and 429, stops nginx by pid. Prints one
JSON line; exits 1 when the error exceeds the tolerance.

    tests/bench/limit_accuracy.py [--rate 500] [--burst 50] [--duration 10]

expected = rate * duration + burst + 1 (a full bucket at the start);
error = (admitted - expected) / (rate * duration).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from edge_harness import MODULE, TEMP_PATHS, free_port  # noqa: E402

CONF = """load_module %(module)s;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
%(temp_paths)s
    keepalive_requests 1000000;
    mall_limit_zone name=acc:1m;
    server {
        listen 127.0.0.1:%(port)d;
        root %(dir)s;
        location / {
            mall_limit zone=acc key=$binary_remote_addr rate=%(rate)dr/s
                       burst=%(burst)d name=acc;
            mall_limit_log_level info;
            try_files /.none @ok;
        }
        location @ok { return 200 'ok'; }
    }
}
"""


def read_response(sock, buf):
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("closed")
        rest += d
    return status, rest[length:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--tolerance", type=float, default=0.02)
    a = ap.parse_args()

    d = tempfile.mkdtemp(prefix="mall-acc-")
    port = free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(CONF % {"module": MODULE, "dir": d, "port": port,
                        "temp_paths": TEMP_PATHS % {"dir": d},
                        "rate": a.rate, "burst": a.burst})
    nginx = ["/usr/sbin/nginx", "-p", d, "-c", os.path.join(d, "nginx.conf")]
    subprocess.run(nginx, check=True)
    try:
        deadline = time.time() + 5
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.02)
        req = b"GET / HTTP/1.1\r\nHost: acc\r\n\r\n"
        offered = 2 * a.rate
        counts, buf = {}, b""
        start = time.monotonic()
        i = 0
        while True:
            due = start + i / offered
            now = time.monotonic()
            if due - start >= a.duration:
                break
            if due > now:
                time.sleep(due - now)
            sock.sendall(req)
            status, buf = read_response(sock, buf)
            counts[status] = counts.get(status, 0) + 1
            i += 1
        elapsed = time.monotonic() - start
        sock.close()
    finally:
        try:
            with open(os.path.join(d, "nginx.pid")) as f:
                os.kill(int(f.read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        shutil.rmtree(d, ignore_errors=True)

    admitted = counts.get(200, 0)
    expected = a.rate * a.duration + a.burst + 1
    error = (admitted - expected) / (a.rate * a.duration)
    ok = abs(error) <= a.tolerance and set(counts) <= {200, 429}
    print(json.dumps({"case": "mall_limit_accuracy", "rate": a.rate,
                      "burst": a.burst, "duration_s": a.duration,
                      "offered": i, "offered_rps": round(i / elapsed, 1),
                      "status": counts, "admitted": admitted,
                      "expected": expected, "error": round(error, 5),
                      "tolerance": a.tolerance, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
