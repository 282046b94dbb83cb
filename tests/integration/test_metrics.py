"""mall_metrics of ngx_http_mall_module, module only: a private nginx with
2 workers (every counter is in shared memory, so any worker's scrape sees
every worker's traffic) and a Redis on free loopback ports
(edge_harness.py). The exposition is parsed with a small strict parser of
the Prometheus text format, then known traffic must move known counters.
"""

import re
import time

import pytest
import requests

from edge_harness import error_of, running_edge
from mall_client import derive_sign_key, read_secret, sign_headers

CONF = """
load_module %(module)s;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
worker_processes 2;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;

    mall_redis 127.0.0.1:%(redis)d interval=100ms;
    mall_auth_zone t_auth:1m;
    mall_auth_key k1 ES256 %(dir)s/jwt-k1.pub.pem;
    mall_auth_issuer mall-edge;
    mall_auth_audience mall-mini;
    mall_sign_secret s1 %(dir)s/sign-s1.key;
    mall_sign_zone t_nonce:1m;
    mall_edge_key e1 %(dir)s/edge-e1.key;
    mall_limit_zone name=rl:1m;
    mall_cache_zone name=cat:1m max_entry=16k;

    server {
        listen 127.0.0.1:%(edge)d;
        location / { mall_json_error 404 NOT_FOUND "no such resource"; }
        location /api/ {
            mall_auth required;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /signed/ {
            mall_auth required;
            mall_sign required;
            mall_sign_methods GET POST;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /lim/ {
            mall_limit zone=rl key=$http_x_key rate=1r/m name=lim;
            proxy_pass http://127.0.0.1:%(echo)d;
        }
        location /cat/ {
            mall_cache zone=cat;
            mall_cache_valid 60s;
            proxy_pass http://127.0.0.1:%(echo)d;
        }
    }

    server {
        listen 127.0.0.1:%(admin)d;
        location = /metrics { mall_metrics; }
        location = /cache/status { mall_cache_status; }
    }

    server {
        listen 127.0.0.1:%(echo)d;
        mall_request_id off;
        access_log off;
        location / {
            add_header Cache-Control "public, s-maxage=60";
            return 200 '{"ok":true}';
        }
    }
}
"""

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (-?[0-9.eE+-]+|NaN)$"
                    % (NAME, LABEL, LABEL))
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse(text):
    """Prometheus text exposition -> {series: value}. Asserts that every
    line is a HELP, a TYPE or a sample; that each family has one HELP and
    one TYPE before its samples; that counters end in _total; that no
    series repeats."""
    helps, types, samples = {}, {}, {}
    assert text.endswith("\n")
    for line in text.splitlines():
        assert line, "empty line"
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and doc, line
            assert name not in helps, "second HELP: " + line
            helps[name] = doc
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in TYPES, line
            assert name in helps and name not in types, line
            types[name] = typ
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a sample: %r" % line
        name = m.group(1)
        assert name in types, "sample before its TYPE: " + line
        series = name + (m.group(2) or "")
        assert series not in samples, "repeated series: " + line
        samples[series] = float(m.group(3))
    assert set(helps) == set(types)
    for name, typ in types.items():
        assert (typ == "counter") == name.endswith("_total"), name
    return samples, types


@pytest.fixture(scope="module")
def edge():
    with running_edge(CONF, prefix="mall-metrics-",
                      extra_ports=("admin",)) as e:
        e.admin = "http://127.0.0.1:%d" % e.ports["admin"]
        yield e


def scrape(edge, path="/metrics"):
    r = requests.get(edge.admin + path, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)[0]


def moved(before, after, series):
    return after.get(series, 0) - before.get(series, 0)


def test_exposition_parses_and_has_every_family(edge):
    samples, types = parse(requests.get(edge.admin + "/metrics",
                                        timeout=5).text)
    for name in ("mall_requests_total", "mall_auth_verified_total",
                 "mall_auth_rejected_total",
                 "mall_auth_revocations_applied_total",
                 "mall_sign_accepted_total", "mall_sign_rejected_total",
                 "mall_limit_requests_total", "mall_cc_bans_total",
                 "mall_cc_active_bans", "mall_cc_banned_requests_total",
                 "mall_limit_sync_dropped_total", "mall_cache_hits_total",
                 "mall_cache_misses_total", "mall_cache_evictions_total",
                 "mall_cache_entries", "mall_cache_bytes_used",
                 "mall_shm_size_bytes", "mall_shm_used_bytes",
                 "mall_shm_entries", "mall_shm_evictions_total",
                 "mall_nonce_inserts_total", "mall_nonce_replays_total",
                 "mall_nonce_full_total", "mall_nonce_user_limited_total",
                 "mall_redis_connected",
                 "mall_redis_errors_total",
                 "mall_redis_last_error_timestamp_seconds",
                 "mall_redis_stream_entries_total"):
        assert name in types, name
    assert types["mall_cc_active_bans"] == "gauge"
    assert samples['mall_shm_size_bytes{zone="t_auth"}'] == 1024 * 1024
    assert samples['mall_shm_size_bytes{zone="t_nonce"}'] == 1024 * 1024
    assert 0 < samples['mall_shm_used_bytes{zone="rl"}'] <= 1024 * 1024
    assert samples['mall_limit_requests_total{zone="rl",result="passed"}'] >= 0
    assert samples["mall_redis_connected"] == 1


def test_cache_status_is_the_same_writer(edge):
    a = scrape(edge, "/cache/status")
    assert 'mall_cache_hits_total{zone="cat"}' in a
    assert "mall_requests_total{decision=\"passed\"}" in a


def test_counters_move_with_traffic_across_workers(edge):
    before = scrape(edge)

    # auth: one rejection (expired), then a full verify and cache hits;
    # fresh connections spread the requests over both workers
    expired, _ = edge.token(exp=int(time.time()) - 60)
    error_of(edge.get("/api/x", expired), 401, "UNAUTHORIZED")
    error_of(edge.get("/api/x"), 401, "UNAUTHORIZED")
    tok, c = edge.token()
    for _ in range(4):
        assert edge.get("/api/x", tok).status_code == 200

    # signature: accepted, then the same nonce again
    key = derive_sign_key(read_secret(edge.key("sign-s1.key")), c["jti"])
    h = sign_headers(key, "GET", "/signed/a")
    assert edge.get("/signed/a", tok, headers=dict(h)).status_code == 200
    error_of(edge.get("/signed/a", tok, headers=dict(h)), 401, "REPLAYED")

    # limit: 1r/m without burst: the second request of a key is a 429
    assert edge.get("/lim/a", headers={"X-Key": "m1"}).status_code == 200
    error_of(edge.get("/lim/a", headers={"X-Key": "m1"}), 429,
             "RATE_LIMITED")

    # cache: a miss then hits
    path = "/cat/%d" % time.time_ns()
    assert edge.get(path).headers.get("X-Mall-Cache") == "MISS"
    for _ in range(3):
        assert edge.get(path).headers.get("X-Mall-Cache") == "HIT"

    time.sleep(0.2)          # log-phase counters run after the response
    after = scrape(edge)

    def d(series):
        return moved(before, after, series)

    assert d('mall_auth_rejected_total{reason="expired"}') == 1
    assert d('mall_auth_rejected_total{reason="missing"}') == 1
    assert d('mall_auth_verified_total{source="full"}') == 1
    assert d('mall_auth_verified_total{source="cache"}') == 5
    assert d("mall_sign_accepted_total") == 1
    assert d('mall_sign_rejected_total{reason="replay"}') == 1
    assert d('mall_nonce_inserts_total{zone="t_nonce"}') == 1
    assert d('mall_nonce_replays_total{zone="t_nonce"}') == 1
    assert d('mall_limit_requests_total{zone="rl",result="passed"}') == 1
    assert d('mall_limit_requests_total{zone="rl",result="rejected"}') == 1
    assert d('mall_cache_misses_total{zone="cat"}') == 1
    assert d('mall_cache_hits_total{zone="cat"}') == 3
    assert d('mall_cache_stores_total{zone="cat"}') == 1
    assert d('mall_requests_total{decision="rejected",code="401"}') == 3
    assert d('mall_requests_total{decision="rejected",code="429"}') == 1
    # 4 /api, 1 signed, 1 limited: the module checked and passed them
    assert d('mall_requests_total{decision="passed"}') >= 6
    assert after['mall_cache_entries{zone="cat"}'] >= 1


def test_revocations_and_stream_entries(edge):
    before = scrape(edge)
    tok, c = edge.token()
    edge.redis("XADD", "mall:revoked", "*", "type", "jti", "jti", c["jti"],
               "exp", str(c["exp"]))
    deadline = time.time() + 5
    while time.time() < deadline:
        after = scrape(edge)
        if moved(before, after, "mall_auth_revocations_applied_total"):
            break
        time.sleep(0.1)
    assert moved(before, after, "mall_auth_revocations_applied_total") == 1
    assert moved(before, after,
                 'mall_redis_stream_entries_total{stream="mall:revoked"}') == 1
    error_of(edge.get("/api/x", tok), 401, "UNAUTHORIZED")
    assert moved(before, scrape(edge),
                 'mall_auth_rejected_total{reason="revoked"}') == 1


def test_counters_survive_reload(edge):
    before = scrape(edge)
    assert before['mall_auth_verified_total{source="full"}'] >= 1
    edge.reload()
    after = scrape(edge)
    for series in ('mall_auth_verified_total{source="full"}',
                   'mall_cache_hits_total{zone="cat"}',
                   'mall_requests_total{decision="passed"}',
                   'mall_limit_requests_total{zone="rl",result="rejected"}'):
        assert after[series] >= before[series], series


def test_metrics_is_get_only(edge):
    r = requests.post(edge.admin + "/metrics", timeout=5)
    assert r.status_code == 405
