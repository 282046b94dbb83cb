"""WAF at the edge, through the real stack (mallctl start): the default
rules block attacks with or without a token, benign shopper text passes,
detect mode, exclusions, bodies over the limit, the audit line, rule
checking, live reload under load, and the CSRF guard of admin pages."""

import json
import os
import random
import secrets
import socket
import threading
import time

import pytest
import requests

from conftest import _PORT_OFFSET, assert_json_error

# A server of its own (conf.d, http level) for per-location policies.
WAF_PORT = 18090 + _PORT_OFFSET
SYSLOG_PORT = 18091 + _PORT_OFFSET

# Custom rules the tests add, in the rule language of conf/waf/README.md
# (one rule a line: ID key=value... @op argument): a phrase in any query
# arg value or JSON value; and a rule whose regex does not compile.
def custom_rule(rule_id, phrase, score=5):
    return ('%d msg="test rule %d" targets=args,json t=none score=%d '
            'tags=test pl=1 @contains %s\n' % (rule_id, rule_id, score, phrase))


def broken_rule():
    return '990099 msg="broken" targets=args score=5 pl=1 @rx (unclosed\n'


def login(stack):
    r = stack.request("POST", "/api/v1/auth/wx-login",
                      json={"code": "waf-%s" % secrets.token_hex(4)})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def audit_lines(stack):
    path = os.path.join(stack.run_dir, "logs", "waf-audit.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def audit_of(stack, request_id, wait=2.0):
    deadline = time.time() + wait
    while time.time() < deadline:
        for line in audit_lines(stack):
            if line["request_id"] == request_id:
                return line
        time.sleep(0.05)
    return None


def assert_blocked(r):
    assert_json_error(r, 403, "WAF_BLOCKED")
    err = r.json()["error"]
    assert set(err) == {"code", "message", "request_id"}
    assert err["request_id"] == r.headers["X-Request-Id"]


def rules_dir(stack):
    return stack.env["MALL_WAF_RULES_DIR"]


@pytest.fixture(scope="module")
def waf_server(stack):
    """Per-location policies on WAF_PORT: detect, exclusions, body limits."""
    stack.add_conf("waf-test.conf", """
server {
    listen 127.0.0.1:%d;
    include mall-errors.conf;
    mall_waf on;
    location @ok { return 200 '{"ok":true}'; }
    location /detect/ { mall_waf detect; try_files /.none @ok; }
    location /on/ { try_files /.none @ok; }
    location /excluded/ {
        mall_waf_policy exclude=990001;
        try_files /.none @ok;
    }
    location /review/ {
        mall_waf_policy exclude=990001@json:review.content;
        try_files /.none @ok;
    }
    location /small-reject/ {
        mall_waf_body_limit 1k;
        mall_waf_body_over reject;
        try_files /.none @ok;
    }
    location /csrf/ {
        mall_csrf on;
        mall_csrf_origins https://shop.example https://m.shop.example:8443;
        try_files /.none @ok;
    }
    location /syslog/ {
        mall_waf_audit_log syslog:server=127.0.0.1:%d,tag=mall_waf;
        try_files /.none @ok;
    }
    location /small-pass/ {
        mall_waf_body_limit 1k;
        mall_waf_body_over pass;
        try_files /.none @ok;
    }
}
""" % (WAF_PORT, SYSLOG_PORT))
    with open(os.path.join(rules_dir(stack), "zz-test.rules"), "w") as f:
        f.write(custom_rule(990001, "wafexclusionprobe"))
    r = stack.reload()
    assert r.returncode == 0, r.stderr
    yield "http://127.0.0.1:%d" % WAF_PORT


# --- blocking, with and without a token --------------------------------------

ATTACKS_GET = [
    "/api/v1/search?q=1%27%20or%20%271%27%3D%271",
    "/api/v1/search?q=%3Csvg%20onload%3Dalert(1)%3E",
    "/api/v1/products?category=..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/v1/search?q=1%20union%20select%20password%20from%20users--",
]


@pytest.mark.parametrize("path", ATTACKS_GET)
def test_attack_blocked_without_token(stack, path):
    assert_blocked(stack.get(path))


def test_attack_blocked_with_a_valid_token_and_before_auth(stack):
    auth = login(stack)
    assert stack.get("/api/v1/users/me", headers=auth).status_code == 200
    path = "/api/v1/users/me?next=%3Cscript%3Ealert(1)%3C/script%3E"
    assert_blocked(stack.get(path, headers=auth))
    # without the token it is still WAF_BLOCKED, not UNAUTHORIZED
    assert_blocked(stack.get(path))


def test_json_body_attack_at_depth_is_blocked(stack):
    body = {"items": [{"sku_id": 1, "quantity": 1,
                       "meta": {"deep": [
                           {"note": "<script>alert(1)</script>"}]}}]}
    r = stack.request("POST", "/api/v1/cart/items", json=body)
    assert_blocked(r)
    nosql = {"a": {"b": {"c": {"d": {"$where": "sleep(5000)"}}}}}
    assert_blocked(stack.request("POST", "/api/v1/orders", json=nosql))


def test_block_answer_echoes_nothing(stack):
    payload = "1' or '1'='1' -- waf-echo-probe"
    r = stack.get("/api/v1/search", params={"q": payload})
    assert_blocked(r)
    assert "waf-echo-probe" not in r.text and "'1'" not in r.text


BENIGN = [
    "O'Neill hoodie",
    "select size M",
    "drop shoulder tee",
    "1/2 price",
    'the "best" jacket 😍🔥',
    "连衣裙 夏季 新款",
    "Room #12-3, 88 Jianguo Rd",
    "rock & roll t-shirt",
]


@pytest.mark.parametrize("q", BENIGN)
def test_benign_shopper_text_passes(stack, q):
    r = stack.get("/api/v1/search", params={"q": q})
    assert r.status_code == 200, (q, r.text)


def test_benign_review_body_passes_to_auth(stack):
    review = {"rating": 5, "content": "Love it!! Fits \"true to size\", "
              "my mom's favourite 😊 质量很好 — would buy again; 10/10"}
    r = stack.request("POST", "/api/v1/orders/1/review", json=review)
    # past the WAF: the token check answers
    assert_json_error(r, 401, "UNAUTHORIZED")


# --- per-location policies ---------------------------------------------------

def test_detect_mode_logs_but_passes(stack, waf_server):
    r = requests.get(waf_server + "/detect/x",
                     params={"q": "1' or '1'='1"}, timeout=5)
    assert r.status_code == 200
    line = audit_of(stack, r.headers["X-Request-Id"])
    assert line and line["action"] == "detect", line
    r = requests.get(waf_server + "/on/x", params={"q": "1' or '1'='1"},
                     timeout=5)
    assert_blocked(r)
    assert audit_of(stack, r.headers["X-Request-Id"])["action"] == "block"


def test_exclusion_by_rule_id_per_location(stack, waf_server):
    q = {"q": "wafexclusionprobe"}
    assert_blocked(requests.get(waf_server + "/on/x", params=q, timeout=5))
    r = requests.get(waf_server + "/excluded/x", params=q, timeout=5)
    assert r.status_code == 200


def test_exclusion_per_target(stack, waf_server):
    ok = {"review": {"content": "wafexclusionprobe"}}
    r = requests.post(waf_server + "/review/x", json=ok, timeout=5)
    assert r.status_code == 200, r.text
    # the same rule still runs on every other target of that location
    bad = {"review": {"title": "wafexclusionprobe"}}
    assert_blocked(requests.post(waf_server + "/review/x", json=bad,
                                 timeout=5))


def test_body_over_the_limit_reject(stack, waf_server):
    body = json.dumps({"note": "x" * 2000})
    r = requests.post(waf_server + "/small-reject/x", data=body,
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert_json_error(r, 413, "PAYLOAD_TOO_LARGE")
    small = json.dumps({"note": "x" * 200})
    r = requests.post(waf_server + "/small-reject/x", data=small,
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 200


def test_body_over_the_limit_pass_is_flagged_not_inspected(stack, waf_server):
    body = json.dumps({"note": "x" * 2000, "q": "wafexclusionprobe"})
    r = requests.post(waf_server + "/small-pass/x", data=body,
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 200, r.text
    # under the limit the same body is inspected, and blocked
    body = json.dumps({"q": "wafexclusionprobe"})
    assert_blocked(requests.post(waf_server + "/small-pass/x", data=body,
                                 headers={"Content-Type": "application/json"},
                                 timeout=5))


# --- audit log ---------------------------------------------------------------

def test_audit_line_content_has_no_token_or_body(stack):
    auth = login(stack)
    token = auth["Authorization"].split()[1]
    secret_text = "body-secret-%s" % secrets.token_hex(6)
    body = {"remark": secret_text, "x": {"y": "1' union select 1,2,3--"}}
    r = stack.request("POST", "/api/v1/orders", json=body,
                      headers=dict(auth, **{"X-Forwarded-For": "1.0.1.1"}))
    assert_blocked(r)
    line = audit_of(stack, r.headers["X-Request-Id"])
    assert line, audit_lines(stack)[-3:]
    assert line["action"] == "block"
    assert line["client_ip"] == "1.0.1.1"
    assert "country" in line and line["method"] == "POST"
    assert line["path"] == "/api/v1/orders"
    assert line["score"] >= 5 and line["rules"]
    for hit in line["rules"]:
        assert isinstance(hit["id"], int) and hit["score"] > 0
        assert hit["target"] and "excerpt" in hit
        assert len(hit["excerpt"]) <= 64
    raw = json.dumps(line)
    assert token not in raw and token[:20] not in raw
    assert secret_text not in raw


def test_audit_to_syslog(stack, waf_server):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", SYSLOG_PORT))
    sock.settimeout(3)
    try:
        r = requests.get(waf_server + "/syslog/x",
                         params={"q": "1' or '1'='1"}, timeout=5)
        assert_blocked(r)
        msg = sock.recv(65536).decode()
    finally:
        sock.close()
    assert msg.startswith("<") and "mall_waf: " in msg
    line = json.loads(msg.split("mall_waf: ", 1)[1])
    assert line["request_id"] == r.headers["X-Request-Id"]
    assert line["action"] == "block"


# --- rule checking and live reload -------------------------------------------

def test_check_rules_reports_file_and_line(stack, tmp_path):
    bad = tmp_path / "broken.rules"
    bad.write_text("# a comment\n" + broken_rule())
    r = stack.mallctl("check-rules", str(bad), check=False)
    assert r.returncode != 0
    assert "broken.rules:2" in r.stderr + r.stdout, r.stderr
    r = stack.mallctl("check-rules", check=False)
    assert r.returncode == 0, r.stderr


def test_reload_refuses_broken_rules_and_old_ones_keep_serving(stack):
    path = os.path.join(rules_dir(stack), "zz-broken.rules")
    with open(path, "w") as f:
        f.write(broken_rule())
    try:
        workers = stack.nginx_workers()
        r = stack.reload()
        assert r.returncode != 0
        assert "refused" in r.stderr
        assert stack.nginx_workers() == workers
        assert_blocked(stack.get(ATTACKS_GET[0]))
        assert stack.get("/api/v1/search?q=hoodie").status_code == 200
    finally:
        os.unlink(path)


def _load(stack, stop, seen, errors):
    # A connection per request: an idle keep-alive connection that an old
    # worker closes as it exits can race a request sent on it, which any
    # client retries (nothing reached nginx); this counts real failures.
    while not stop.is_set():
        ip = "198.18.%d.%d" % (random.randrange(256), random.randrange(1, 255))
        try:
            r = requests.get(stack.edge + "/api/v1/search?q=summer%20dress",
                             headers={"X-Forwarded-For": ip,
                                      "Connection": "close"}, timeout=10)
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
        except requests.RequestException as e:
            errors.append(repr(e))


def test_new_rule_effective_after_reload_under_load(stack):
    canary = "wafcanary%s" % secrets.token_hex(3)
    assert stack.get("/api/v1/search?q=" + canary).status_code == 200
    stop, seen, errors = threading.Event(), {}, []
    threads = [threading.Thread(target=_load, args=(stack, stop, seen, errors))
               for _ in range(4)]
    for t in threads:
        t.start()
    path = os.path.join(rules_dir(stack), "zz-canary.rules")
    try:
        time.sleep(1)
        with open(path, "w") as f:
            f.write(custom_rule(990002, canary))
        r = stack.reload()
        assert r.returncode == 0, r.stderr
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert set(seen) == {200}, seen
    assert sum(seen.values()) > 50
    r = stack.get("/api/v1/search?q=" + canary)
    assert_blocked(r)
    line = audit_of(stack, r.headers["X-Request-Id"])
    assert 990002 in [h["id"] for h in line["rules"]]
    os.unlink(path)
    assert stack.reload().returncode == 0


# --- CSRF on cookie-authenticated admin pages --------------------------------

ADMIN = "/admin/api/v1/skus/1"


def test_csrf_cross_site_cookie_write_refused(stack):
    r = stack.request("PATCH", ADMIN, json={"stock": 1},
                      headers={"Cookie": "mall_session=abc",
                               "Origin": "https://evil.example"})
    assert_json_error(r, 403, "FORBIDDEN")
    # no Origin, a foreign Referer: refused too; and neither at all
    r = stack.request("PATCH", ADMIN, json={"stock": 1},
                      headers={"Cookie": "mall_session=abc",
                               "Referer": "https://evil.example/a"})
    assert_json_error(r, 403, "FORBIDDEN")
    r = stack.request("PATCH", ADMIN, json={"stock": 1},
                      headers={"Cookie": "mall_session=abc"})
    assert_json_error(r, 403, "FORBIDDEN")


def test_csrf_same_origin_token_and_bearer_pass(stack):
    cases = [
        {"Cookie": "mall_session=abc", "Origin": stack.edge},
        {"Cookie": "mall_session=abc", "Referer": stack.edge + "/admin/x"},
        {"Cookie": "mall_session=abc; mall_csrf=t0k3n",
         "X-CSRF-Token": "t0k3n", "Origin": "https://evil.example"},
        {"Cookie": "mall_session=abc", "Origin": "https://evil.example",
         "Authorization": "Bearer not-a-valid-token"},
    ]
    for h in cases:
        r = stack.request("PATCH", ADMIN, json={"stock": 1}, headers=h)
        # past the CSRF guard: the token check answers
        assert_json_error(r, 401, "UNAUTHORIZED")
    # a wrong CSRF token is refused; reads are never affected
    r = stack.request("PATCH", ADMIN, json={"stock": 1},
                      headers={"Cookie": "mall_csrf=t0k3n",
                               "X-CSRF-Token": "other",
                               "Origin": "https://evil.example"})
    assert_json_error(r, 403, "FORBIDDEN")
    r = stack.get(ADMIN, headers={"Cookie": "mall_session=abc",
                                  "Origin": "https://evil.example"})
    assert_json_error(r, 401, "UNAUTHORIZED")


def test_csrf_allowed_origins_list(stack, waf_server):
    for origin, status in (("https://shop.example", 200),
                           ("https://m.shop.example:8443", 200),
                           ("https://shop.example.evil", 403),
                           ("http://shop.example", 403)):
        r = requests.post(waf_server + "/csrf/x", json={"a": 1}, timeout=5,
                          headers={"Cookie": "s=1", "Origin": origin})
        assert r.status_code == status, (origin, r.text)
