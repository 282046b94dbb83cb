"""Anti-fraud at the edge (issue 24, edge half) through the real stack.

GeoIP with the real database the build fetches (1.0.1.1 CN, 8.8.8.8 US,
175.45.176.1 KP, 240e::1 CN over IPv6) as X-Forwarded-For from the trusted
loopback; the shipped country deny list (KP); CIDR blocks from a list file
and pushed through Redis with `mallctl block` (IPv4 and IPv6, with a TTL,
kept across a reload, and effective on a second edge node sharing the
Redis); device and user block lists; X-Mall-Device
required on writes when configured; device velocity that tags and then
challenges; the risk tag in the edge signature, seen by the worker and
refused when forged; every non-allow decision in the JSON audit log.
"""

import json
import os
import re
import secrets
import time

import requests

from conftest import assert_json_error
from mall_client import edge_headers, read_secret
from sf_helpers import Shopper

CATALOG = "/api/v1/products"


def fraud_file(stack, name):
    return os.path.join(stack.env["MALL_FRAUD_DIR"], name)


def get(stack, path, ip, **headers):
    return stack.get(path, headers={"X-Forwarded-For": ip, **headers})


def audit_lines(stack):
    path = os.path.join(stack.run_dir, "logs", "waf-audit.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def audit_of(stack, request_id, wait=2.0):
    deadline = time.time() + wait
    while True:
        found = [e for e in audit_lines(stack)
                 if e.get("request_id") == request_id]
        if found or time.time() > deadline:
            return found
        time.sleep(0.05)


def until(fn, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        r = fn()
        if r or time.time() > deadline:
            return r
        time.sleep(0.1)


def rewrite_risk(stack, old, new):
    path = fraud_file(stack, "risk.conf")
    with open(path) as f:
        text = f.read()
    assert old in text, old
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    r = stack.reload()
    assert r.returncode == 0, r.stderr


def test_country_deny_with_the_real_database(stack):
    # KP: the shipped countries.deny
    r = get(stack, CATALOG, "175.45.176.1")
    err = assert_json_error(r, 403, "RISK_BLOCKED")
    assert "country" in err["message"]
    line = audit_of(stack, r.headers["X-Request-Id"])
    assert line and line[0]["source"] == "fraud"
    assert line[0]["action"] == "block" and line[0]["reasons"] == "country"
    assert line[0]["country"] == "KP"
    assert line[0]["asn"] == "131279"   # Star JV, from the ASN database
    assert line[0]["client_ip"] == "175.45.176.1"     # after real_ip
    # writes too: the guard runs before the token check
    r = stack.request("POST", "/api/v1/cart/items", json={},
                      headers={"X-Forwarded-For": "175.45.176.1"})
    assert_json_error(r, 403, "RISK_BLOCKED")
    # CN, US and IPv6 CN pass
    for ip in ("1.0.1.1", "8.8.8.8", "240e::1"):
        assert get(stack, CATALOG, ip).status_code == 200, ip


def test_cidr_block_from_file_and_reload(stack):
    path = fraud_file(stack, "ip-block.list")
    with open(path) as f:
        shipped = f.read()
    with open(path, "a") as f:
        f.write("\n100.64.200.0/25\n2001:db8:dead::/48\n")
    assert stack.reload().returncode == 0
    try:
        assert_json_error(get(stack, CATALOG, "100.64.200.7"), 403,
                          "RISK_BLOCKED")
        assert_json_error(get(stack, CATALOG, "2001:db8:dead:1::9"), 403,
                          "RISK_BLOCKED")
        assert get(stack, CATALOG, "100.64.200.200").status_code == 200
        assert get(stack, CATALOG, "2001:db8:beef::9").status_code == 200
        # the shipped example block (TEST-NET-1)
        assert_json_error(get(stack, CATALOG, "192.0.2.1"), 403,
                          "RISK_BLOCKED")
    finally:
        with open(path, "w") as f:
            f.write(shipped)
        assert stack.reload().returncode == 0
    # a reload replaces the file entries
    assert get(stack, CATALOG, "100.64.200.7").status_code == 200


def test_cidr_pushed_through_redis_survives_reload_and_expires(stack):
    ip = "198.51.100.%d" % (secrets.randbelow(200) + 20)
    assert get(stack, CATALOG, ip).status_code == 200
    r = stack.mallctl("block", "cidr", "198.51.100.0/24")
    assert r.returncode == 0, r.stderr
    assert until(lambda: get(stack, CATALOG, ip).status_code == 403)
    assert_json_error(get(stack, CATALOG, ip), 403, "RISK_BLOCKED")
    # pushed entries live in shm: a reload keeps them
    assert stack.reload().returncode == 0
    assert_json_error(get(stack, CATALOG, ip), 403, "RISK_BLOCKED")
    # an allow-listed address inside it passes
    r = stack.mallctl("block", "allow", ip)
    assert until(lambda: get(stack, CATALOG, ip).status_code == 200)
    stack.mallctl("unblock", "allow", ip)
    assert until(lambda: get(stack, CATALOG, ip).status_code == 403)
    # unblock lifts it
    r = stack.mallctl("unblock", "cidr", "198.51.100.0/24")
    assert r.returncode == 0, r.stderr
    assert until(lambda: get(stack, CATALOG, ip).status_code == 200)
    # IPv6 with a TTL: blocked, then free again when it runs out
    r = stack.mallctl("block", "ip", "2001:db8:1::77", "--ttl", "2")
    assert r.returncode == 0, r.stderr
    assert until(lambda: get(stack, CATALOG, "2001:db8:1::77")
                 .status_code == 403)
    assert until(lambda: get(stack, CATALOG, "2001:db8:1::77")
                 .status_code == 200, timeout=6)
    # the format the workers publish (docs/architecture.md)
    entry = stack.redis("XREVRANGE", "mall:fraud:blocks", "+", "-",
                        "COUNT", "1").split("\n")
    assert entry[1:9:2] == ["op", "kind", "value", "until"], entry


def test_device_and_user_block_lists(stack):
    shopper = Shopper(stack)
    dev = "dev-" + secrets.token_hex(4)
    assert shopper.call("GET", "/api/v1/cart/items",
                        headers={"X-Mall-Device": dev}).status_code == 200
    stack.mallctl("block", "device", dev)
    assert until(lambda: shopper.call("GET", "/api/v1/cart/items",
                                      headers={"X-Mall-Device": dev})
                 .status_code == 403)
    r = shopper.call("GET", "/api/v1/cart/items",
                     headers={"X-Mall-Device": dev})
    assert "device" in assert_json_error(r, 403, "RISK_BLOCKED")["message"]
    # a blocked device is refused before the token is even looked at
    r = stack.get(CATALOG, headers={"X-Mall-Device": dev})
    assert_json_error(r, 403, "RISK_BLOCKED")
    stack.mallctl("unblock", "device", dev)

    # a frozen user: the workers publish kind=user with the token's sub
    stack.redis("XADD", "mall:fraud:blocks", "*", "op", "block", "kind",
                "user", "value", shopper.sub, "until", "0")
    assert until(lambda: shopper.get("/api/v1/cart/items").status_code
                 == 403)
    err = assert_json_error(shopper.get("/api/v1/cart/items"), 403,
                            "RISK_BLOCKED")
    assert "account" in err["message"]
    assert Shopper(stack).get("/api/v1/cart/items").status_code == 200
    stack.mallctl("unblock", "user", shopper.sub)
    assert until(lambda: shopper.get("/api/v1/cart/items").status_code
                 == 200)


def test_device_required_on_writes_when_configured(stack):
    shopper = Shopper(stack)
    rewrite_risk(stack, "mall_fraud_device optional;",
                 "mall_fraud_device required;")
    try:
        r = shopper.post("/api/v1/cart/items", {"sku_id": 1, "quantity": 1})
        err = assert_json_error(r, 400, "VALIDATION_FAILED")
        assert "X-Mall-Device" in err["message"]
        r = shopper.call("POST", "/api/v1/cart/items",
                         {"sku_id": 1, "quantity": 1},
                         headers={"X-Mall-Device": "dev-" +
                                  secrets.token_hex(4)})
        assert r.status_code != 400 or "X-Mall-Device" not in r.text
        # reads do not need it
        assert shopper.get("/api/v1/cart/items").status_code == 200
    finally:
        rewrite_risk(stack, "mall_fraud_device required;",
                     "mall_fraud_device optional;")


def test_device_velocity_tags_then_challenges(stack):
    dev = "dev-" + secrets.token_hex(4)
    shoppers = [Shopper(stack) for _ in range(5)]
    answers = [s.call("GET", "/api/v1/cart/items",
                      headers={"X-Mall-Device": dev}) for s in shoppers]
    # 3 users a device are fine; the 4th and 5th are tagged, not refused
    assert [a.status_code for a in answers] == [200] * 5
    tagged = audit_of(stack, answers[3].headers["X-Request-Id"])
    assert tagged and tagged[0]["action"] == "tag", tagged
    # 40 points, plus 3 + 3 for a client that is not the WeChat one
    assert tagged[0]["score"] == 46
    assert tagged[0]["reasons"] == "not_wechat,bad_referer,device_users"
    assert "asn" not in tagged[0]       # loopback: no autonomous system
    assert not audit_of(stack, answers[2].headers["X-Request-Id"], wait=0.2)

    # the worker received the tag inside the edge signature
    rid = answers[4].headers["X-Request-Id"]
    log = os.path.join(stack.run_dir, "logs", "workers.log")
    risk = "46;not_wechat,bad_referer,device_users"
    assert until(lambda: any(rid in x and json.loads(x).get("risk") == risk
                             for x in open(log, errors="replace")))

    # a device over the request rate: challenge (captcha / SMS)
    rewrite_risk(stack, "device_rate=300", "device_rate=5")
    try:
        dev2 = "dev-" + secrets.token_hex(4)
        codes = [get(stack, CATALOG, "8.8.8.8", **{"X-Mall-Device": dev2})
                 for _ in range(8)]
        assert [c.status_code for c in codes[:5]] == [200] * 5
        err = assert_json_error(codes[-1], 403, "RISK_BLOCKED")
        assert "challenge" in err["message"]
        line = audit_of(stack, codes[-1].headers["X-Request-Id"])
        assert line[0]["action"] == "challenge"
        assert line[0]["country"] == "US"
        assert line[0]["asn"] == "15169"
        # another device is not affected
        assert get(stack, CATALOG, "8.8.8.8",
                   **{"X-Mall-Device": dev2 + "x"}).status_code == 200
    finally:
        rewrite_risk(stack, "device_rate=5", "device_rate=300")


def rewrite_orders(stack, line):
    with open(fraud_file(stack, "orders.conf"), "w") as f:
        f.write(line + "\n")
    r = stack.reload()
    assert r.returncode == 0, r.stderr


def test_order_velocity_per_address_device_and_user(stack):
    path = fraud_file(stack, "orders.conf")
    with open(path) as f:
        shipped = f.read()
    ip = "8.8.4.%d" % (secrets.randbelow(200) + 20)
    try:
        # per address: the third order of an address in the window is tagged
        rewrite_orders(stack, "mall_fraud_orders window=1h ip=2;")
        answers = [Shopper(stack).call("POST", "/api/v1/orders", {},
                                       headers={"X-Forwarded-For": ip})
                   for _ in range(3)]
        # the worker refuses them (no Idempotency-Key): the edge counted
        assert all(a.status_code == 400 for a in answers), answers
        assert not audit_of(stack, answers[1].headers["X-Request-Id"],
                            wait=0.2)
        line = audit_of(stack, answers[2].headers["X-Request-Id"])
        assert line and line[0]["action"] == "tag", line
        assert line[0]["reasons"] == ("no_device,not_wechat,bad_referer,"
                                      "ip_orders")
        # only order creation counts: other writes of the address do not
        r = Shopper(stack).call("POST", "/api/v1/cart/items",
                                {"sku_id": 1, "quantity": 1},
                                headers={"X-Forwarded-For": ip})
        assert not audit_of(stack, r.headers["X-Request-Id"], wait=0.2)

        # per device and per user together: challenge
        rewrite_orders(stack, "mall_fraud_orders window=1h device=2 user=2;")
        shopper = Shopper(stack)
        dev = {"X-Mall-Device": "dev-" + secrets.token_hex(4)}
        answers = [shopper.call("POST", "/api/v1/orders", {}, headers=dev)
                   for _ in range(3)]
        assert [a.status_code for a in answers[:2]] == [400, 400]
        err = assert_json_error(answers[2], 403, "RISK_BLOCKED")
        assert "challenge" in err["message"]
        line = audit_of(stack, answers[2].headers["X-Request-Id"])
        assert line[0]["reasons"] == ("not_wechat,bad_referer,"
                                      "device_orders,user_orders")
        # another user on another device is not affected
        r = Shopper(stack).call("POST", "/api/v1/orders", {},
                                headers={"X-Mall-Device": "dev-other"})
        assert r.status_code == 400
    finally:
        with open(path, "w") as f:
            f.write(shipped)
        assert stack.reload().returncode == 0


def test_forged_risk_header_is_dropped_and_refused(stack):
    shopper = Shopper(stack)
    r = shopper.call("GET", "/api/v1/cart/items",
                     headers={"X-Mall-Risk": "0;trusted"})
    assert r.status_code == 200
    rid = r.headers["X-Request-Id"]
    log = os.path.join(stack.run_dir, "logs", "workers.log")
    line = until(lambda: [x for x in open(log, errors="replace")
                          if rid in x and "access" in x])
    assert line and "risk" not in json.loads(line[0]), line

    # straight to a worker: the risk line is part of the edge signature
    key = read_secret(stack.key("edge-e1.key"))
    uri = "/api/v1/cart/items"
    h = edge_headers(key, "GET", uri, user=shopper.sub, risk="40;device_users")
    assert requests.get(stack.worker + uri, headers=h,
                        timeout=5).status_code == 200
    h["X-Mall-Risk"] = "0;trusted"
    assert requests.get(stack.worker + uri, headers=h,
                        timeout=5).status_code == 401
    h = edge_headers(key, "GET", uri, user=shopper.sub)
    h["X-Mall-Risk"] = "0;trusted"                  # added to a clean one
    assert requests.get(stack.worker + uri, headers=h,
                        timeout=5).status_code == 401


def test_country_variable_and_geoip_reload(stack):
    # a reload re-maps the database and keeps answering
    assert stack.reload().returncode == 0
    assert_json_error(get(stack, CATALOG, "175.45.176.1"), 403,
                      "RISK_BLOCKED")
    assert get(stack, CATALOG, "1.0.1.1").status_code == 200
    assert not re.search(r"\[(alert|crit|emerg)\]", stack.nginx_error_log())


def test_mini_program_checks_add_risk_not_blocks(stack):
    appid = open(stack.key("wechat/appid")).read().strip()
    ua = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
          "AppleWebKit/605.1.15 Mobile/15E148 MicroMessenger/8.0.44 "
          "NetType/WIFI Language/zh_CN miniProgram/" + appid)
    good = "https://servicewechat.com/%s/12/page-frame.html" % appid
    rewrite_risk(stack, "tag=15 challenge", "tag=3 challenge")
    try:
        def scored(headers):
            r = get(stack, CATALOG, "1.0.1.1", **headers)
            assert r.status_code == 200, r.text      # never blocks
            return audit_of(stack, r.headers["X-Request-Id"], wait=0.5)

        assert scored({"User-Agent": ua, "Referer": good}) == []
        line = scored({"User-Agent": "curl/8.0"})
        assert line[0]["action"] == "tag"
        assert line[0]["reasons"] == "not_wechat,bad_referer"
        assert line[0]["score"] == 6 and line[0]["country"] == "CN"
        for ref in ("https://servicewechat.com/wxother000000001/12/"
                    "page-frame.html",
                    "https://evil.example/%s/12/page-frame.html" % appid,
                    "https://servicewechat.com/%s//page-frame.html" % appid):
            line = scored({"User-Agent": ua, "Referer": ref})
            assert line[0]["reasons"] == "bad_referer", ref
    finally:
        rewrite_risk(stack, "tag=3 challenge", "tag=15 challenge")


class SecondEdge:
    """A second edge node: the stack's own nginx.conf on other ports, with
    its own pid, logs and shm (its own master), sharing the stack's Redis
    and workers, as a second CDN node would."""

    def __init__(self, stack, tmp_path):
        from edge_harness import NGINX, free_port
        self.dir = str(tmp_path)
        self.port = free_port()
        run = stack.run_dir
        p = {k: int(v) for k, v in stack.env.items()
             if k in ("MALL_EDGE_PORT", "MALL_EDGE_TLS_PORT",
                      "MALL_ADMIN_PORT")}
        with open(os.path.join(run, "nginx.conf")) as f:
            conf = f.read()
        conf = conf.replace("127.0.0.1:%d " % p["MALL_EDGE_PORT"],
                            "127.0.0.1:%d " % self.port)
        for name in ("MALL_EDGE_TLS_PORT", "MALL_ADMIN_PORT"):
            conf = conf.replace("127.0.0.1:%d" % p[name],
                                "127.0.0.1:%d" % free_port())
        for sub in ("nginx.pid", "logs/", "tmp/"):
            conf = conf.replace(os.path.join(run, sub),
                                os.path.join(self.dir, sub))
        os.makedirs(os.path.join(self.dir, "logs"))
        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.dir, "tmp", t))
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(run, "mall-errors.conf")) as f, \
                open(os.path.join(self.dir, "mall-errors.conf"), "w") as g:
            g.write(f.read())
        self.cmd = [NGINX, "-p", self.dir, "-c",
                    os.path.join(self.dir, "nginx.conf")]
        self.url = "http://127.0.0.1:%d" % self.port

    def __enter__(self):
        import subprocess
        subprocess.run(self.cmd, check=True, capture_output=True)
        assert until(self._up)
        return self

    def _up(self):
        try:
            return requests.get(self.url + "/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def __exit__(self, *exc):
        with open(os.path.join(self.dir, "nginx.pid")) as f:
            pid = int(f.read())
        os.kill(pid, 15)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def get(self, path, ip):
        return requests.get(self.url + path, timeout=5,
                            headers={"X-Forwarded-For": ip})


def test_block_reaches_a_second_edge_node(stack, tmp_path):
    ip, late = "198.51.100.77", "2001:db8:77::1"
    # pushed before the second node exists: it replays the stream
    stack.mallctl("block", "ip", late)
    assert until(lambda: get(stack, CATALOG, late).status_code == 403)
    try:
        with SecondEdge(stack, tmp_path) as edge2:
            assert until(lambda: edge2.get(CATALOG, late).status_code == 403)
            assert edge2.get(CATALOG, ip).status_code == 200
            # pushed now: both nodes apply it within seconds
            stack.mallctl("block", "cidr", "198.51.100.64/26")
            assert until(lambda: edge2.get(CATALOG, ip).status_code == 403)
            assert until(lambda: get(stack, CATALOG, ip).status_code == 403)
            assert_json_error(edge2.get(CATALOG, ip), 403, "RISK_BLOCKED")
            # and the country list holds there too
            assert_json_error(edge2.get(CATALOG, "175.45.176.1"), 403,
                              "RISK_BLOCKED")
            stack.mallctl("unblock", "cidr", "198.51.100.64/26")
            assert until(lambda: edge2.get(CATALOG, ip).status_code == 200)
            assert until(lambda: get(stack, CATALOG, ip).status_code == 200)
    finally:
        stack.mallctl("unblock", "ip", late)
    assert until(lambda: get(stack, CATALOG, late).status_code == 200)
