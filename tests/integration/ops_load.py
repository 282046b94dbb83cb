"""Bounded load on loopback for the operations tests: a few client
threads (the machine has 2 cores) sending catalog reads, WAF-blocked
requests and signed cart writes through the edge while the stack is
reloaded or its logs rotated. Every answer is checked against what that
request must get; anything else, and every connection error, is kept.

Reads share keep-alive sessions with one retry, as HTTP clients do for an
idempotent request on a connection the server closed at the same instant
(an old nginx worker closing its idle connections). Writes are never
retried: each goes on a fresh connection, so a failed one is a failure.
"""

import json
import random
import threading
import time

import requests
import urllib3

from conftest import client_ip
from mall_client import sign_headers
from sf_helpers import Shopper

SQLI = "1' or '1'='1' --"


class Load:
    def __init__(self, stack, readers=3, writers=1, pause=0.01):
        self.stack = stack
        self.readers, self.writers, self.pause = readers, writers, pause
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.unexpected = []       # (what, status, body)
        self.errors = []           # (what, exception)
        self.request_ids = []      # X-Request-Id of every answer, in order
        self.by_kind = {}          # what -> answers as expected
        self.threads = []

    def record(self, what, resp, expected):
        with self.lock:
            rid = resp.headers.get("X-Request-Id")
            if rid:
                self.request_ids.append(rid)
            if resp.status_code in expected:
                self.ok += 1
                self.by_kind[what] = self.by_kind.get(what, 0) + 1
            else:
                self.unexpected.append((what, resp.status_code, resp.text[:200]))

    def error(self, what, e):
        with self.lock:
            self.errors.append((what, repr(e)))

    def reader(self):
        s = requests.Session()
        s.mount("http://", requests.adapters.HTTPAdapter(
            max_retries=urllib3.util.retry.Retry(
                total=1, connect=0, read=1, status=0, backoff_factor=0,
                allowed_methods=frozenset(["GET"]))))
        edge = self.stack.edge
        while not self.stop_event.is_set():
            n = random.randint(1, 40)
            what, url, expected = random.choice([
                ("healthz", "/healthz", (200,)),
                ("list", "/api/v1/products?size=%d" % n, (200,)),
                ("search", "/api/v1/search?q=phone&size=%d" % n, (200,)),
                ("waf", "/api/v1/products?q=" + requests.utils.quote(SQLI), (403,)),
                ("missing", "/no/such/thing", (404,)),
            ])
            try:
                r = s.get(edge + url, timeout=15, headers={"X-Forwarded-For": client_ip()})
                self.record(what, r, expected)
            except requests.RequestException as e:
                self.error(what, e)
            time.sleep(self.pause)

    def writer(self):
        stack = self.stack
        while not self.stop_event.is_set():
            u = Shopper(stack)
            for _ in range(10):             # under the per-user write limit
                if self.stop_event.is_set():
                    return
                body = json.dumps({"sku_id": 100102, "quantity": 1}).encode()
                h = {"Authorization": "Bearer " + u.token, "Connection": "close",
                     "Content-Type": "application/json", "X-Forwarded-For": client_ip()}
                h.update(sign_headers(u.sign_key, "POST", "/api/v1/cart/items", body))
                try:
                    r = requests.post(stack.edge + "/api/v1/cart/items", data=body,
                                      headers=h, timeout=15)
                    self.record("cart", r, (200, 201))
                except requests.RequestException as e:
                    self.error("cart", e)
                time.sleep(0.12)

    def __enter__(self):
        for _ in range(self.readers):
            self.threads.append(threading.Thread(target=self.reader))
        for _ in range(self.writers):
            self.threads.append(threading.Thread(target=self.writer))
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(30)
        return False

    def wait_for(self, count, seconds=30):
        """Until `count` more answers have come (the load is moving)."""
        with self.lock:
            goal = self.ok + len(self.unexpected) + count
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if self.ok + len(self.unexpected) >= goal:
                    return True
            time.sleep(0.05)
        return False

    def summary(self):
        return "%d ok %s, %d unexpected %s, %d errors %s" % (
            self.ok, self.by_kind, len(self.unexpected), self.unexpected[:5],
            len(self.errors), self.errors[:5])
