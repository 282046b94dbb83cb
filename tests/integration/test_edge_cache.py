"""The catalog cache of ngx_http_mall_module, module only: a private nginx
(2 workers sharing the cache zone) and Redis on free loopback ports
(edge_harness.py), in front of a small Python backend run by this test
process. The backend counts the requests it gets and answers as each test
tells it (Cache-Control, Surrogate-Key, delay, status, size, Set-Cookie),
so every test can see exactly how many requests reached the "workers".
"""

import concurrent.futures
import gzip
import http.server
import json
import socketserver
import threading
import time
import uuid

import pytest
import requests

from edge_harness import error_of, running_edge
from mall_client import edge_headers, read_secret

CONF = """
%(main)s
events { worker_connections 1024; }
http {
    access_log off;
%(temp_paths)s

    mall_redis 127.0.0.1:%(redis)d interval=100ms;
    mall_auth_zone t_auth:2m;
    mall_auth_key k1 ES256 %(dir)s/jwt-k1.pub.pem;
    mall_auth_issuer mall-edge;
    mall_auth_audience mall-mini;
    mall_edge_key e1 %(dir)s/edge-e1.key;

    mall_cache_zone name=cat:8m max_entry=64k;
    mall_cache_zone name=tiny:256k max_entry=32k;
    mall_cache_ignore_args utm_* spm;
    mall_cache_default_args page=1 size=20 sort=sales;

    proxy_connect_timeout 1s;
    proxy_read_timeout 2s;

    server {
        listen 127.0.0.1:%(edge)d;
        error_page 502 @e502;
        error_page 504 @e504;
        location / { mall_json_error 404 NOT_FOUND "no such resource"; }
        location ~ ^/api/v1/(categories|products|search)(/|$) {
            mall_auth optional;
            mall_cache zone=cat;
            mall_cache_valid 30s;
            mall_cache_stale_while_revalidate 30s;
            mall_cache_stale_if_error 300s;
            mall_cache_lock_timeout 3s;
%(forward)s
            proxy_pass http://127.0.0.1:%(backend)d;
        }
        location /tiny/ {
            mall_cache zone=tiny;
            mall_cache_valid 60s;
            proxy_pass http://127.0.0.1:%(backend)d;
        }
        location @e502 { mall_json_error 502 UPSTREAM_UNAVAILABLE "down"; }
        location @e504 { mall_json_error 504 UPSTREAM_TIMEOUT "slow"; }
    }

    server {
        listen 127.0.0.1:%(admin)d;
        location / { mall_json_error 404 NOT_FOUND "no such resource"; }
        location = /cache/purge {
            mall_auth required;
            mall_auth_audience mall-admin;
            mall_auth_role admin;
            mall_cache_purge zone=cat;
        }
        location = /cache/status { mall_cache_status; }
    }
}
"""


# ------------------------------------------------------------------ backend

class Backend:
    """Answers GET <path>: a JSON body naming the path and a version.
    rules[path] overrides: cc, tags, delay, status, size, cookie, headers
    (extra response headers), echo (a request header copied to the body)."""

    def __init__(self, port):
        self.port = port
        self.rules = {}
        self.version = 1
        self.counts = {}
        self.seen = {}
        self.lock = threading.Lock()
        self.server = None

    def count(self, path):
        with self.lock:
            return self.counts.get(path, 0)

    def start(self):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with backend.lock:
                    backend.counts[self.path] = (
                        backend.counts.get(self.path, 0) + 1)
                    backend.counts[path] = backend.counts.get(path, 0) + (
                        1 if path != self.path else 0)
                    backend.seen[path] = dict(self.headers)
                    rule = dict(backend.rules.get(path, {}))
                    version = backend.version
                if rule.get("delay"):
                    time.sleep(rule["delay"])
                body = json.dumps({"path": self.path, "v": version,
                                   "echo": self.headers.get(
                                       rule.get("echo", "X-None"), ""),
                                   "pad": "x" * rule.get("size", 600)})
                body = body.encode()
                self.send_response(rule.get("status", 200))
                self.send_header("Content-Type",
                                 "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control",
                                 rule.get("cc", "public, s-maxage=60"))
                self.send_header("Surrogate-Key", rule.get(
                    "tags", "product:%s list" % path.rsplit("/", 1)[-1]))
                self.send_header("X-Backend", "yes")
                if rule.get("cookie"):
                    self.send_header("Set-Cookie", "sid=1")
                for k, v in rule.get("headers", ()):
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass                # the edge gave up (timeout test)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture(scope="module")
def env():
    with running_edge(CONF, prefix="mall-cache-",
                      extra_ports=("backend", "admin")) as e:
        b = Backend(e.ports["backend"])
        b.start()
        e.backend = b
        e.admin = "http://127.0.0.1:%d" % e.ports["admin"]
        try:
            yield e
        finally:
            b.stop()


def uniq(prefix="/api/v1/products/"):
    return prefix + uuid.uuid4().hex[:12]


def get(env, path, **kw):
    h = kw.pop("headers", {})
    h.setdefault("Accept-Encoding", "identity")
    return requests.get(env.url + path, headers=h, timeout=10, **kw)


def state(r):
    return r.headers.get("X-Mall-Cache")


def status_metrics(env):
    text = requests.get(env.admin + "/cache/status", timeout=5).text
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = int(value)
    return out


def admin_token(env):
    return env.token(aud="mall-admin", role="admin", sub="admin")[0]


# ------------------------------------------------------------------ tests

def test_hit_after_miss_and_gzip_copy(env):
    p = uniq()
    r1 = get(env, p)
    assert r1.status_code == 200 and state(r1) == "MISS"
    r2 = get(env, p)
    assert r2.status_code == 200 and state(r2) == "HIT", r2.headers
    assert r2.content == r1.content
    assert r2.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r2.headers["X-Backend"] == "yes"          # stored headers
    assert "Surrogate-Key" not in r1.headers          # tags stay at the edge
    assert "Surrogate-Key" not in r2.headers
    assert r2.headers["X-Request-Id"] != r1.headers["X-Request-Id"]
    assert env.backend.count(p) == 1

    # a client accepting gzip gets the copy compressed at store time
    r3 = requests.get(env.url + p, headers={"Accept-Encoding": "gzip"},
                      timeout=5, stream=True)
    raw = r3.raw.read()
    assert state(r3) == "HIT"
    assert r3.headers["Content-Encoding"] == "gzip"
    assert r3.headers["Vary"] == "Accept-Encoding"
    assert int(r3.headers["Content-Length"]) == len(raw) < len(r1.content)
    assert gzip.decompress(raw) == r1.content
    r4 = get(env, p, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in r4.headers and r4.content == r1.content

    # HEAD shares the entry and gets no body
    r5 = requests.head(env.url + p, timeout=5)
    assert r5.status_code == 200 and state(r5) == "HIT" and not r5.content
    assert env.backend.count(p) == 1


def test_key_normalisation(env):
    base = uniq("/api/v1/search/")
    env.backend.rules[base] = {"tags": "list"}
    r = get(env, base + "?b=2&a=1&utm_source=wx&spm=1.2&page=1&size=20")
    assert state(r) == "MISS"
    for q in ("?a=1&b=2", "?b=2&a=1", "?a=1&utm_campaign=x&b=2&sort=sales",
              "?size=20&b=2&a=1&&utm_medium=y"):
        r = get(env, base + q)
        assert state(r) == "HIT", q
    assert env.backend.count(base) == 1
    assert state(get(env, base + "?a=1&b=3")) == "MISS"
    assert state(get(env, base + "?a=1&b=2&page=2")) == "MISS"


def test_private_responses_not_cached_and_auth_shares(env):
    p = uniq()
    env.backend.rules[p] = {"cc": "private, max-age=60"}
    assert state(get(env, p)) == "BYPASS"
    assert state(get(env, p)) == "BYPASS"
    assert env.backend.count(p) == 2

    c = uniq()
    env.backend.rules[c] = {"cookie": True}
    assert state(get(env, c)) == "BYPASS"
    assert state(get(env, c)) == "BYPASS"
    assert env.backend.count(c) == 2

    n = uniq()
    env.backend.rules[n] = {"cc": "no-store"}
    get(env, n)
    assert state(get(env, n)) == "BYPASS"

    # catalog is not personalised: a logged-in user hits the shared entry
    s = uniq()
    assert state(get(env, s)) == "MISS"
    tok, _ = env.token()
    r = get(env, s, headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200 and state(r) == "HIT"
    assert env.backend.count(s) == 1
    # a bad token is still refused before the cache answers
    error_of(get(env, s, headers={"Authorization": "Bearer x.y.z"}), 401,
             "UNAUTHORIZED")


def test_ttl_expiry(env):
    p = uniq()
    env.backend.rules[p] = {"cc": "public, s-maxage=1, "
                                  "stale-while-revalidate=0, stale-if-error=0"}
    assert state(get(env, p)) == "MISS"
    assert state(get(env, p)) == "HIT"
    time.sleep(1.2)
    assert state(get(env, p)) == "MISS"
    assert env.backend.count(p) == 2

    # no s-maxage/max-age: the location's mall_cache_valid applies
    d = uniq()
    env.backend.rules[d] = {"cc": "public"}
    get(env, d)
    assert state(get(env, d)) == "HIT"

    # max-age=0 and nothing else: not stored
    z = uniq()
    env.backend.rules[z] = {"cc": "public, max-age=0"}
    get(env, z)
    assert state(get(env, z)) == "BYPASS"


def test_stale_while_revalidate_one_background_request(env):
    p = uniq()
    # s-maxage=2: the refresh's 0.6 s at the origin counts in its age
    # (RFC 9111 §4.2.3), so it stays fresh for 1.4 s once stored
    env.backend.rules[p] = {"cc": "public, s-maxage=2, "
                                  "stale-while-revalidate=30"}
    first = get(env, p).json()
    time.sleep(2.2)
    env.backend.version += 1
    env.backend.rules[p]["delay"] = 0.6

    def one(_):
        t = time.time()
        r = get(env, p)
        return state(r), r.json()["v"], time.time() - t

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        res = list(ex.map(one, range(20)))
    states = [s for s, _, _ in res]
    assert states.count("STALE") == 1, states
    assert states.count("UPDATING") == 19, states
    assert all(v == first["v"] for _, v, _ in res)
    assert max(t for _, _, t in res) < 0.5     # nobody waited for the refresh
    time.sleep(1.0)
    assert env.backend.count(p) == 2           # exactly one refresh
    r = get(env, p)
    assert state(r) == "HIT" and r.json()["v"] == env.backend.version

    # the refresh was signed by the edge, as the workers require
    h = env.backend.seen[p]
    want = edge_headers(read_secret(env.key("edge-e1.key")), "GET", p,
                        request_id=h["X-Request-Id"], ts=h["X-Mall-Edge-Ts"])
    assert h["X-Mall-Edge-Signature"] == want["X-Mall-Edge-Signature"]


def test_coalescing_one_upstream_request_for_50_misses(env):
    p = uniq()
    env.backend.rules[p] = {"delay": 0.5}

    def one(_):
        r = get(env, p)
        return r.status_code, state(r), r.content

    with concurrent.futures.ThreadPoolExecutor(50) as ex:
        res = list(ex.map(one, range(50)))
    assert all(code == 200 for code, _, _ in res)
    assert len({body for _, _, body in res}) == 1
    states = [s for _, s, _ in res]
    assert states.count("MISS") == 1 and states.count("HIT") == 49, states
    assert env.backend.count(p) == 1


def test_stale_if_error_with_workers_stopped(env):
    p = uniq()
    env.backend.rules[p] = {"cc": "public, s-maxage=1, "
                                  "stale-while-revalidate=0"}
    body = get(env, p).content
    never = uniq()
    time.sleep(1.2)
    env.backend.stop()
    try:
        r = get(env, p)
        assert r.status_code == 200 and state(r) == "STALE", r.text
        assert r.content == body
        r = requests.get(env.url + p, headers={"Accept-Encoding": "gzip"},
                         timeout=5)
        assert r.status_code == 200 and r.content == body
        error_of(get(env, never), 502, "UPSTREAM_UNAVAILABLE")
    finally:
        env.backend.start()

    # slow workers (past proxy_read_timeout) are an error too
    env.backend.rules[p]["delay"] = 3
    r = get(env, p)
    assert r.status_code == 200 and state(r) == "STALE"
    env.backend.rules[p]["delay"] = 0
    assert state(get(env, p)) == "MISS"        # recovered, stored again
    assert state(get(env, p)) == "HIT"


def wait_state(env, path, want, within):
    deadline = time.time() + within
    while True:
        s = state(get(env, path))
        if s == want or time.time() > deadline:
            return s
        time.sleep(0.05)


def test_purge_by_tag_via_redis_event(env):
    a, b = uniq(), uniq()
    for p in (a, b):
        get(env, p)
        assert state(get(env, p)) == "HIT"
    ta = "product:" + a.rsplit("/", 1)[-1]
    env.backend.version += 1
    t = time.time()
    env.redis("XADD", "mall:purge", "*", "tags", ta + " unrelated:1")
    # applied within a second on every worker; never stale afterwards
    assert wait_state(env, a, "MISS", 1.0) == "MISS"
    assert time.time() - t < 1.0
    r = get(env, a)
    assert state(r) == "HIT" and r.json()["v"] == env.backend.version
    assert state(get(env, b)) == "HIT"

    # by key, and a tag shared by several entries
    env.redis("XADD", "mall:purge", "*", "keys", b + "?utm_source=x")
    assert wait_state(env, b, "MISS", 1.0) == "MISS"
    get(env, a)
    env.redis("XADD", "mall:purge", "*", "tags", "list")
    assert wait_state(env, a, "MISS", 1.0) == "MISS"
    assert state(get(env, b)) == "MISS"


def test_variants_client_304_and_purge_of_every_variant(env):
    p = uniq()
    env.backend.rules[p] = {"headers": [("Vary", "Accept-Language"),
                                        ("ETag", '"e1"')],
                            "echo": "Accept-Language"}
    for lang in ("en", "fr"):
        r = get(env, p, headers={"Accept-Language": lang})
        assert state(r) == "MISS" and r.json()["echo"] == lang
    for lang in ("en", "fr"):
        r = get(env, p, headers={"Accept-Language": lang})
        assert state(r) == "HIT" and r.json()["echo"] == lang
        assert "Accept-Language" in r.headers["Vary"] and "Age" in r.headers
    assert env.backend.count(p) == 2

    # the mini-program holding the ETag: 304, no body, validators kept
    r = get(env, p, headers={"Accept-Language": "fr", "If-None-Match": '"e1"'})
    assert r.status_code == 304 and not r.content and state(r) == "HIT"
    assert r.headers["ETag"] == '"e1"' and "Age" in r.headers
    assert "Cache-Control" in r.headers and "Content-Type" not in r.headers
    assert env.backend.count(p) == 2

    # a tag purge reaches every variant (each is indexed under its tags)
    env.redis("XADD", "mall:purge", "*", "tags",
              "product:" + p.rsplit("/", 1)[-1])
    deadline = time.time() + 1.0
    while time.time() < deadline:
        if state(get(env, p, headers={"Accept-Language": "en"})) == "MISS":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the en variant was not purged")
    assert state(get(env, p, headers={"Accept-Language": "fr"})) == "MISS"


def test_catalog_if_modified_since_its_date_is_304(env):
    # catalog answers have no validator: the entry's Date is compared
    p = uniq()
    r1 = get(env, p)
    assert state(r1) == "MISS" and "Date" in r1.headers
    r2 = get(env, p, headers={"If-Modified-Since": r1.headers["Date"]})
    assert r2.status_code == 304 and state(r2) == "HIT" and not r2.content
    assert r2.headers["Date"] == r1.headers["Date"]        # never rewritten
    r3 = get(env, p, headers={"If-Modified-Since":
                              "Thu, 01 Jan 1970 00:00:01 GMT"})
    assert r3.status_code == 200 and r3.content == r1.content
    assert env.backend.count(p) == 1


def test_purge_during_fill_is_not_stored(env):
    # an answer computed before a price change must not outlive the purge
    p = uniq()
    env.backend.rules[p] = {"delay": 0.8}
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        f = ex.submit(get, env, p)
        time.sleep(0.2)
        env.redis("XADD", "mall:purge", "*", "tags",
                  "product:" + p.rsplit("/", 1)[-1])
        time.sleep(0.4)                              # purge applied
        assert state(f.result()) == "MISS"
    env.backend.rules[p]["delay"] = 0
    assert state(get(env, p)) == "MISS"


def test_purge_via_admin_endpoint(env):
    a, b, c = uniq(), uniq(), uniq()
    env.backend.rules[a] = {"tags": "category:c9 product:a"}
    env.backend.rules[b] = {"tags": "category:c9 product:b"}
    for p in (a, b, c):
        get(env, p)
        assert state(get(env, p)) == "HIT"
    url = env.admin + "/cache/purge"
    error_of(requests.post(url, json={"tags": ["category:c9"]}, timeout=5),
             401, "UNAUTHORIZED")
    shopper, _ = env.token()
    error_of(requests.post(url, json={"tags": ["category:c9"]}, timeout=5,
                           headers={"Authorization": "Bearer " + shopper}),
             401, "UNAUTHORIZED")
    # issue 20, finding 6: an operator's admin token may not purge
    op = env.token(aud="mall-admin", role="operator", sub="admin:op")[0]
    error_of(requests.post(url, json={"tags": ["category:c9"]}, timeout=5,
                           headers={"Authorization": "Bearer " + op}),
             403, "FORBIDDEN")
    assert state(get(env, a)) == "HIT"
    h = {"Authorization": "Bearer " + admin_token(env)}
    r = requests.post(url, json={"tags": ["category:c9"]}, headers=h,
                      timeout=5)
    assert r.status_code == 200 and r.json() == {"purged": 2}, r.text
    assert state(get(env, a)) == "MISS" and state(get(env, b)) == "MISS"
    assert state(get(env, c)) == "HIT"
    r = requests.post(url, json={"keys": [c]}, headers=h, timeout=5)
    assert r.json() == {"purged": 1}
    assert state(get(env, c)) == "MISS"
    r = requests.post(url + "?tag=product:a", headers=h, timeout=5)
    assert r.json() == {"purged": 1}
    error_of(requests.post(url, data=b"{}", headers=h, timeout=5), 400,
             "VALIDATION_FAILED")
    error_of(requests.post(url, data=b"nope", headers=h, timeout=5), 400,
             "VALIDATION_FAILED")


def test_too_big_is_bypassed(env):
    p = uniq()
    env.backend.rules[p] = {"size": 100 * 1024}
    r = get(env, p)
    assert r.status_code == 200 and state(r) == "BYPASS"
    assert len(r.content) > 100 * 1024
    assert state(get(env, p)) == "BYPASS"
    assert env.backend.count(p) == 2


def test_eviction_when_zone_is_full(env):
    before = status_metrics(env)
    paths = ["/tiny/" + uuid.uuid4().hex[:8] for _ in range(40)]
    for p in paths:
        env.backend.rules[p] = {"size": 20 * 1024}
        assert get(env, p).status_code == 200
    after = status_metrics(env)
    ev = 'mall_cache_evictions_total{zone="tiny"}'
    assert after[ev] > before.get(ev, 0)
    assert state(get(env, paths[-1])) == "HIT"       # recent ones stay
    assert state(get(env, paths[0])) == "MISS"       # oldest went
    assert after['mall_cache_bytes_used{zone="tiny"}'] <= 256 * 1024


def test_metrics_count(env):
    m0 = status_metrics(env)
    p = uniq()
    get(env, p)
    get(env, p)
    m1 = status_metrics(env)
    z = '{zone="cat"}'
    assert m1["mall_cache_hits_total" + z] >= m0["mall_cache_hits_total" + z] + 1
    assert m1["mall_cache_misses_total" + z] >= \
        m0["mall_cache_misses_total" + z] + 1
    assert m1["mall_cache_stores_total" + z] >= \
        m0["mall_cache_stores_total" + z] + 1


def test_reload_keeps_cache(env):
    p = uniq()
    get(env, p)
    assert state(get(env, p)) == "HIT"
    env.reload()
    for _ in range(4):                               # both new workers
        assert state(get(env, p)) == "HIT"
    assert env.backend.count(p) == 1
    # the purge follower resumed after the reload
    env.redis("XADD", "mall:purge", "*", "tags",
              "product:" + p.rsplit("/", 1)[-1])
    assert wait_state(env, p, "MISS", 1.5) == "MISS"
