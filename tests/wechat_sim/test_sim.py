"""Tests of the WeChat simulator, against its real HTTP interface.

The simulator runs as a subprocess on a kernel-chosen loopback port with keys
made by gen_keys.sh in a temp dir; a tiny http.server plays the merchant's
notify endpoint.  Run: /usr/bin/python3 -m pytest tests/wechat_sim
"""

import base64
import http.client
import http.server
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

import wxcrypto

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


# --- fixtures -------------------------------------------------------------------

@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys") / "wechat"
    subprocess.run(["sh", os.path.join(HERE, "gen_keys.sh"), str(d)],
                   check=True, timeout=60)

    def read(name):
        return (d / name).read_text().strip()

    return {
        "dir": str(d), "appid": read("appid"), "mchid": read("mchid"),
        "secret": read("appsecret"), "serial": read("merchant_serial"),
        "platform_serial": read("platform_serial"),
        "apiv3": read("apiv3.key").encode(),
        "merchant_key": wxcrypto.load_private_key(d / "merchant_private.pem"),
        "platform_pub": wxcrypto.load_public_key(
            d / "platform_public.pem")[0],
        "wrong_key": wxcrypto.load_private_key(d / "platform_private.pem"),
    }


class Sim:
    def __init__(self, keys, *extra):
        k = keys
        cmd = [PYTHON, os.path.join(HERE, "sim.py"), "--port", "0",
               "--appid", k["appid"], "--secret", k["secret"],
               "--mchid", k["mchid"], "--merchant-cert-serial", k["serial"],
               "--merchant-public-key",
               os.path.join(k["dir"], "merchant_cert.pem"),
               "--platform-private-key",
               os.path.join(k["dir"], "platform_private.pem"),
               "--platform-serial", k["platform_serial"],
               "--apiv3-key-file", os.path.join(k["dir"], "apiv3.key"),
               "--retry-scale", "0.01", *extra]
        self.keys = k
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("wechat-sim listening on 127.0.0.1:"), line
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def request(self, method, url, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, url, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                r.read()
        finally:
            conn.close()

    def wx(self, url):
        status, _, body = self.request("GET", url)
        assert status == 200
        return json.loads(body)

    def sim(self, path, obj=None):
        if obj is None:
            status, _, body = self.request("GET", path)
        else:
            status, _, body = self.request("POST", path, json.dumps(obj),
                                           {"Content-Type":
                                            "application/json"})
        return status, json.loads(body) if body else None

    def v3(self, method, url, obj=None, *, key=None, serial=None, ts=None,
           tamper=None):
        """A merchant request signed as the workers must sign it."""
        k = self.keys
        body = json.dumps(obj, ensure_ascii=False).encode() \
            if obj is not None else b""
        auth = wxcrypto.build_authorization(
            k["mchid"], serial or k["serial"], key or k["merchant_key"],
            method, url, body, ts or int(time.time()))
        if tamper:
            body = tamper(body)
        status, headers, raw = self.request(
            method, url, body or None,
            {"Authorization": auth, "Accept": "application/json",
             "Content-Type": "application/json"})
        # Every v3 answer is signed with the platform key.
        msg = wxcrypto.response_message(headers["wechatpay-timestamp"],
                                        headers["wechatpay-nonce"], raw)
        assert wxcrypto.rsa_verify(k["platform_pub"], msg,
                                   headers["wechatpay-signature"])
        assert headers["wechatpay-serial"] == k["platform_serial"]
        assert headers["request-id"]
        return status, json.loads(raw) if raw else None


@pytest.fixture(scope="session")
def sim(keys):
    s = Sim(keys)
    yield s
    s.stop()


class Receiver:
    """The merchant's notify endpoint; answers with a scripted status list."""

    def __init__(self):
        self.received = []
        self.statuses = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.received.append((dict(self.headers), body))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                out = b"" if status < 300 else \
                    b'{"code":"FAIL","message":"scripted failure"}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/api/v1/payments/wechat/notify" \
            % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()

    def wait(self, n, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError("expected %d notifications, got %d"
                             % (n, len(self.received)))

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


_seq = [0]


def order(keys, receiver_url, **over):
    _seq[0] += 1
    b = {"appid": keys["appid"], "mchid": keys["mchid"],
         "description": "Mall Edge 测试商品",
         "out_trade_no": "T%d%06d" % (int(time.time()), _seq[0]),
         "notify_url": receiver_url, "attach": "order-42",
         "amount": {"total": 1999, "currency": "CNY"},
         "payer": {"openid": "oTestOpenid0000000000000000A"}}
    b.update(over)
    return b


def prepay(sim, b):
    status, out = sim.v3("POST", "/v3/pay/transactions/jsapi", b)
    assert status == 200, out
    return out["prepay_id"]


def login_url(keys, code, **over):
    q = {"appid": keys["appid"], "secret": keys["secret"], "js_code": code,
         "grant_type": "authorization_code"}
    q.update(over)
    return "/sns/jscode2session?" + urlencode(
        {k: v for k, v in q.items() if v is not None})


def verify_and_decrypt(keys, headers, body):
    """What the workers' notify handler must do; returns the resource."""
    msg = wxcrypto.response_message(headers["Wechatpay-Timestamp"],
                                    headers["Wechatpay-Nonce"], body)
    assert wxcrypto.rsa_verify(keys["platform_pub"], msg,
                               headers["Wechatpay-Signature"])
    assert headers["Wechatpay-Serial"] == keys["platform_serial"]
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert abs(int(headers["Wechatpay-Timestamp"]) - time.time()) < 300
    env = json.loads(body)
    res = env["resource"]
    assert env["resource_type"] == "encrypt-resource"
    assert res["algorithm"] == "AEAD_AES_256_GCM"
    assert len(res["nonce"]) == 12
    plain = wxcrypto.aead_decrypt(keys["apiv3"], res["nonce"],
                                  res["associated_data"], res["ciphertext"])
    return env, json.loads(plain)


# --- login ------------------------------------------------------------------------

def test_jscode2session_success_and_stable_openid(sim, keys):
    a = sim.wx(login_url(keys, "code-alice"))
    b = sim.wx(login_url(keys, "code-alice"))
    c = sim.wx(login_url(keys, "code-bob"))
    assert "errcode" not in a
    assert a == b and a["openid"] != c["openid"]
    assert len(a["openid"]) == 28 and a["openid"][0] == "o"
    assert len(base64.b64decode(a["session_key"])) == 16
    assert "unionid" not in a
    u = sim.wx(login_url(keys, "union-carol"))
    assert len(u["unionid"]) == 28 and u["unionid"] != u["openid"]
    # "user~n" codes are separate logins of one user: same openid.
    x, y = sim.wx(login_url(keys, "dave~1")), sim.wx(login_url(keys, "dave~2"))
    assert x["openid"] == y["openid"]
    assert x["session_key"] != y["session_key"]


@pytest.mark.parametrize("over,errcode", [
    ({"appid": "wx0000000000000000"}, 40013),
    ({"secret": "0" * 32}, 40125),
    ({"js_code": None}, 40029),
    ({"js_code": ""}, 40029),
    ({"js_code": "invalid-123"}, 40029),
    ({"js_code": "busy-1"}, -1),
    ({"js_code": "limit-1"}, 45011),
    ({"js_code": "risky-1"}, 40226),
    ({"grant_type": "password"}, 40002),
])
def test_jscode2session_errors(sim, keys, over, errcode):
    code = over.pop("js_code", "code-ok")
    out = sim.wx(login_url(keys, code, **over))
    assert out["errcode"] == errcode
    assert ", rid: " in out["errmsg"]
    assert "openid" not in out and "session_key" not in out


def test_jscode2session_path_is_case_sensitive(sim, keys):
    status, _, body = sim.request(
        "GET", login_url(keys, "x").replace("jscode2session", "JSCode2Session"))
    assert status == 404


def test_single_use_codes(keys):
    s = Sim(keys, "--single-use-codes")
    try:
        assert "openid" in s.wx(login_url(keys, "once"))
        assert s.wx(login_url(keys, "once"))["errcode"] == 40163
    finally:
        s.stop()


def test_access_token_and_phone_number(sim, keys):
    q = urlencode({"grant_type": "client_credential", "appid": keys["appid"],
                   "secret": keys["secret"]})
    tok = sim.wx("/cgi-bin/token?" + q)
    assert tok["expires_in"] == 7200 and len(tok["access_token"]) > 32
    bad = sim.wx("/cgi-bin/token?" + q.replace(keys["secret"], "x" * 32))
    assert bad["errcode"] == 40125

    def phone(code, token=tok["access_token"]):
        status, _, body = sim.request(
            "POST", "/wxa/business/getuserphonenumber?access_token=" + token,
            json.dumps({"code": code}))
        assert status == 200
        return json.loads(body)

    out = phone("phone-13800138000")
    assert out["errcode"] == 0
    info = out["phone_info"]
    assert info["purePhoneNumber"] == "13800138000"
    assert info["phoneNumber"] == "13800138000"
    assert str(info["countryCode"]) == "86"
    assert info["watermark"]["appid"] == keys["appid"]
    other = phone("some-code")["phone_info"]["purePhoneNumber"]
    assert len(other) == 11 and other == phone("some-code")[
        "phone_info"]["purePhoneNumber"]
    assert phone("invalid-x")["errcode"] == 40029
    assert phone("phone-13800138000", token="forged")["errcode"] == 40001


def test_subscribe_send_errors_faults_and_token_invalidation(sim, keys):
    q = urlencode({"grant_type": "client_credential", "appid": keys["appid"],
                   "secret": keys["secret"]})
    tok = sim.wx("/cgi-bin/token?" + q)["access_token"]

    def send(msg, token=tok):
        status, _, body = sim.request(
            "POST", "/cgi-bin/message/subscribe/send?access_token=" + token,
            json.dumps(msg, ensure_ascii=False).encode())
        assert status == 200
        return json.loads(body)["errcode"]

    good = {"touser": "oTEST", "template_id": "tpl-shipped-0001",
            "page": "pages/order/detail?id=ORDERX1", "data": {
                "thing1": {"value": "商品"}}}
    assert send(good) == 0
    assert send(good, token="forged") == 40001
    assert send(dict(good, touser="")) == 40003
    assert send(dict(good, template_id="invalid-tpl-1")) == 40037
    assert send(dict(good, data={"thing1": {"value": 1}})) == 47003
    assert sim.sim("/sim/message-fault",
                   {"errcode": 43101, "match": "ORDERX2"})[0] == 200
    assert send(dict(good, page="p?id=ORDERX2")) == 43101
    assert send(dict(good, page="p?id=ORDERX2")) == 0      # count 1: spent
    got = sim.sim("/sim/messages?match=ORDERX2")[1]["messages"]
    assert [m["errcode"] for m in got] == [43101, 0]
    assert got[0]["data"] == {"thing1": {"value": "商品"}}
    assert sim.sim("/sim/invalidate-token", {})[1]["invalidated"] >= 1
    assert send(good) == 40001


# --- Pay v3 request signatures ---------------------------------------------------

def test_v3_signed_request_passes_and_tampered_fails(sim, keys, receiver):
    b = order(keys, receiver.url)
    assert prepay(sim, b).startswith("wx")

    url = "/v3/pay/transactions/out-trade-no/%s?mchid=%s" % (
        b["out_trade_no"], keys["mchid"])
    status, txn = sim.v3("GET", url)
    assert status == 200 and txn["trade_state"] == "NOTPAY"

    b2 = order(keys, receiver.url)
    status, err = sim.v3("POST", "/v3/pay/transactions/jsapi", b2,
                         tamper=lambda body: body.replace(b"1999", b"1"))
    assert status == 401 and err["code"] == "SIGN_ERROR"
    # Signed with the wrong key, wrong serial, or a stale timestamp.
    assert sim.v3("GET", url, key=keys["wrong_key"])[1]["code"] == "SIGN_ERROR"
    assert sim.v3("GET", url, serial="0" * 40)[0] == 401
    assert sim.v3("GET", url, ts=int(time.time()) - 301)[0] == 401
    # The signed URL must be the one requested (query included).
    status, _, raw = sim.request("GET", url.replace("mchid=", "mchid=1"), None, {
        "Authorization": wxcrypto.build_authorization(
            keys["mchid"], keys["serial"], keys["merchant_key"], "GET", url,
            b"", int(time.time()))})
    assert status == 401 and json.loads(raw)["code"] == "SIGN_ERROR"
    status, _, raw = sim.request("GET", url)
    assert status == 401 and json.loads(raw)["code"] == "SIGN_ERROR"


@pytest.mark.parametrize("over,field", [
    ({"out_trade_no": "abc"}, "/out_trade_no"),
    ({"out_trade_no": "bad#chars#here"}, "/out_trade_no"),
    ({"description": "x" * 128}, "/description"),
    ({"notify_url": "https://example.com/notify?x=1"}, "/notify_url"),
    ({"notify_url": "ftp://example.com/notify"}, "/notify_url"),
    ({"amount": {"total": 0, "currency": "CNY"}}, "/amount/total"),
    ({"amount": {"total": 10.5, "currency": "CNY"}}, "/amount/total"),
    ({"amount": {"total": 100, "currency": "USD"}}, "/amount/currency"),
    ({"payer": {}}, "/payer/openid"),
    ({"time_expire": "tomorrow"}, "/time_expire"),
])
def test_jsapi_param_errors(sim, keys, over, field):
    status, err = sim.v3("POST", "/v3/pay/transactions/jsapi",
                         order(keys, "https://mall.example/notify", **over))
    assert status == 400 and err["code"] == "PARAM_ERROR"
    assert err["detail"]["field"] == field


def test_jsapi_wrong_appid(sim, keys):
    status, err = sim.v3("POST", "/v3/pay/transactions/jsapi",
                         order(keys, "https://mall.example/n",
                               appid="wx1111111111111111"))
    assert status == 400 and err["code"] == "APPID_MCHID_NOT_MATCH"


def test_prepay_idempotency(sim, keys, receiver):
    b = order(keys, receiver.url, time_expire="2099-01-01T00:00:00+08:00")
    first = prepay(sim, b)
    assert prepay(sim, b) == first
    # Concurrent retries of the same request all get the same prepay_id.
    with ThreadPoolExecutor(8) as ex:
        assert set(ex.map(lambda _: prepay(sim, b), range(16))) == {first}
    status, err = sim.v3("POST", "/v3/pay/transactions/jsapi",
                         dict(b, amount={"total": 1, "currency": "CNY"}))
    assert status == 400 and err["code"] == "INVALID_REQUEST"
    assert "重复" in err["message"]


def test_query_close_and_unknown(sim, keys, receiver):
    status, err = sim.v3("GET", "/v3/pay/transactions/out-trade-no/"
                         "NOPE000001?mchid=" + keys["mchid"])
    assert status == 404 and err["code"] == "ORDERNOTEXIST"
    b = order(keys, receiver.url)
    prepay(sim, b)
    close = "/v3/pay/transactions/out-trade-no/%s/close" % b["out_trade_no"]
    status, body = sim.v3("POST", close, {"mchid": keys["mchid"]})
    assert status == 204 and body is None
    status, txn = sim.v3("GET", "/v3/pay/transactions/out-trade-no/%s?mchid=%s"
                         % (b["out_trade_no"], keys["mchid"]))
    assert txn["trade_state"] == "CLOSED"
    assert sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})[0] == 409
    status, err = sim.v3("POST", "/v3/pay/transactions/jsapi", b)
    assert status == 400 and err["code"] == "ORDER_CLOSED"


# --- payments and notifications -----------------------------------------------------

def test_sim_pay_sends_signed_encrypted_notification(sim, keys, receiver):
    b = order(keys, receiver.url)
    prepay(sim, b)
    status, out = sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})
    assert status == 200
    assert out["notification"]["ok"] and out["notification"]["status"] == 200
    (headers, body), = receiver.wait(1)
    env, txn = verify_and_decrypt(keys, headers, body)
    assert env["event_type"] == "TRANSACTION.SUCCESS"
    assert env["summary"] == "支付成功"
    assert env["resource"]["original_type"] == "transaction"
    assert env["resource"]["associated_data"] == "transaction"
    assert txn["out_trade_no"] == b["out_trade_no"]
    assert txn["appid"] == keys["appid"] and txn["mchid"] == keys["mchid"]
    assert txn["trade_state"] == "SUCCESS" and txn["trade_type"] == "JSAPI"
    assert txn["amount"]["total"] == txn["amount"]["payer_total"] == 1999
    assert txn["payer"]["openid"] == b["payer"]["openid"]
    assert txn["attach"] == "order-42"
    assert len(txn["transaction_id"]) == 28
    # The query agrees; a second payment and a close are refused.
    status, q = sim.v3("GET", "/v3/pay/transactions/out-trade-no/%s?mchid=%s"
                       % (b["out_trade_no"], keys["mchid"]))
    assert q == txn
    status, q = sim.v3("GET", "/v3/pay/transactions/id/%s?mchid=%s"
                       % (txn["transaction_id"], keys["mchid"]))
    assert status == 200 and q == txn
    assert sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})[0] == 409
    status, err = sim.v3("POST", "/v3/pay/transactions/out-trade-no/%s/close"
                         % b["out_trade_no"], {"mchid": keys["mchid"]})
    assert status == 400 and err["code"] == "ORDERPAID"
    # A tampered body no longer verifies.
    msg = wxcrypto.response_message(headers["Wechatpay-Timestamp"],
                                    headers["Wechatpay-Nonce"],
                                    body.replace(b"SUCCESS", b"SUCCESs"))
    assert not wxcrypto.rsa_verify(keys["platform_pub"], msg,
                                   headers["Wechatpay-Signature"])


def test_sdk_aes128_gcm_vector_with_same_helper():
    plain = wxcrypto.aead_decrypt(b"testAPIv3Key0000", "wCq51qZv4Yfg",
                                  "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
                                  "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC")
    assert plain == b"Hello World"
    with pytest.raises(ValueError):
        wxcrypto.aead_decrypt(b"testAPIv3Key0000", "wCq51qZv4Yfg", "other",
                              "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC")


def test_retry_when_receiver_fails(sim, keys, receiver):
    receiver.statuses = [500, 503]
    b = order(keys, receiver.url)
    prepay(sim, b)
    status, out = sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})
    assert status == 200
    first = out["notification"]
    assert not first["ok"] and first["status"] == 500
    got = receiver.wait(3)      # 15 s and 15 s, scaled by 0.01
    ids = {json.loads(body)["id"] for _, body in got}
    assert len(ids) == 1        # the same notification, re-signed
    for headers, body in got:
        verify_and_decrypt(keys, headers, body)
    deadline = time.time() + 3
    while time.time() < deadline:
        _, log = sim.sim("/sim/notifications?out_trade_no=" + b["out_trade_no"])
        if len(log["notifications"]) == 3:
            break
        time.sleep(0.02)
    attempts = [(n["attempt"], n["status"], n["ok"])
                for n in log["notifications"]]
    assert attempts == [(1, 500, False), (2, 503, False), (3, 200, True)]


def test_unreachable_notify_url_is_reported(sim, keys):
    b = order(keys, "http://127.0.0.1:1/notify")
    prepay(sim, b)
    status, out = sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})
    assert status == 200
    assert out["notification"]["status"] is None
    assert out["notification"]["error"] and not out["notification"]["ok"]


def test_signtest_notification(sim, keys, receiver):
    receiver.statuses = [401]
    b = order(keys, receiver.url)
    prepay(sim, b)
    status, out = sim.sim("/sim/notify-signtest",
                          {"out_trade_no": b["out_trade_no"]})
    assert status == 200 and out["notification"]["status"] == 401
    (headers, body), = receiver.wait(1)
    sig = headers["Wechatpay-Signature"]
    assert sig.startswith("WECHATPAY/SIGNTEST/")
    msg = wxcrypto.response_message(headers["Wechatpay-Timestamp"],
                                    headers["Wechatpay-Nonce"], body)
    assert not wxcrypto.rsa_verify(keys["platform_pub"], msg, sig)
    time.sleep(0.3)             # a refused sign test is not retried
    assert len(receiver.received) == 1


def test_duplicate_notification_on_request(sim, keys, receiver):
    b = order(keys, receiver.url)
    prepay(sim, b)
    sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})
    status, out = sim.sim("/sim/renotify", {"out_trade_no": b["out_trade_no"]})
    assert status == 200 and out["notification"]["ok"]
    got = receiver.wait(2)
    assert [verify_and_decrypt(keys, h, body)[1]["transaction_id"]
            for h, body in got][0] is not None


# --- refunds ---------------------------------------------------------------------------

def test_refund_idempotency_and_result(sim, keys, receiver):
    b = order(keys, receiver.url)
    prepay(sim, b)
    sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})
    receiver.wait(1)

    def refund(no, amount, **over):
        body = {"out_trade_no": b["out_trade_no"], "out_refund_no": no,
                "reason": "不想要了", "notify_url": receiver.url,
                "amount": {"refund": amount, "total": 1999, "currency": "CNY"}}
        body.update(over)
        return sim.v3("POST", "/v3/refund/domestic/refunds", body)

    no = "R" + b["out_trade_no"]
    status, r1 = refund(no, 1000)
    assert status == 200 and r1["status"] == "PROCESSING"
    status, r2 = refund(no, 1000)
    assert status == 200 and r2["refund_id"] == r1["refund_id"]
    status, err = refund(no, 999)
    assert status == 400 and err["code"] == "INVALID_REQUEST"
    status, err = refund(no + "b", 1000)       # 1000 + 1000 > 1999
    assert status == 400 and err["code"] == "INVALID_REQUEST"
    status, err = refund("R-none", 1, out_trade_no="NOPE000002")
    assert status == 404
    status, txn = sim.v3("GET", "/v3/pay/transactions/out-trade-no/%s?mchid=%s"
                         % (b["out_trade_no"], keys["mchid"]))
    assert txn["trade_state"] == "REFUND"

    status, out = sim.sim("/sim/refund-result",
                          {"out_refund_no": no, "status": "SUCCESS"})
    assert status == 200 and out["notification"]["ok"]
    headers, body = receiver.wait(2)[1]
    env, res = verify_and_decrypt(keys, headers, body)
    assert env["event_type"] == "REFUND.SUCCESS"
    assert env["resource"]["original_type"] == "refund"
    assert env["resource"]["associated_data"] == "refund"
    assert res["out_refund_no"] == no and res["refund_status"] == "SUCCESS"
    assert res["refund_id"] == r1["refund_id"]
    assert res["amount"] == {"total": 1999, "refund": 1000,
                             "payer_total": 1999, "payer_refund": 1000}
    status, q = sim.v3("GET", "/v3/refund/domestic/refunds/" + no)
    assert status == 200 and q["status"] == "SUCCESS" and q["success_time"]
    assert sim.sim("/sim/refund-result",
                   {"out_refund_no": no, "status": "CLOSED"})[0] == 409
    status, err = sim.v3("GET", "/v3/refund/domestic/refunds/unknown-no")
    assert status == 404


def test_refund_of_unpaid_order_refused(sim, keys, receiver):
    b = order(keys, receiver.url)
    prepay(sim, b)
    status, err = sim.v3("POST", "/v3/refund/domestic/refunds", {
        "out_trade_no": b["out_trade_no"], "out_refund_no": "RX1",
        "amount": {"refund": 1, "total": 1999, "currency": "CNY"}})
    assert status == 400 and err["code"] == "INVALID_REQUEST"


# --- controls and persistence ------------------------------------------------------------

def test_health_and_reset(keys, receiver):
    s = Sim(keys)
    try:
        assert s.sim("/sim/health") == (200, {"status": "ok"})
        b = order(keys, receiver.url)
        prepay(s, b)
        assert s.sim("/sim/reset", {})[0] == 200
        status, _ = s.v3("GET", "/v3/pay/transactions/out-trade-no/%s?mchid=%s"
                         % (b["out_trade_no"], keys["mchid"]))
        assert status == 404
    finally:
        s.stop()


def test_state_file_survives_restart(keys, receiver, tmp_path):
    state = str(tmp_path / "sim.state")
    b = order(keys, receiver.url)
    s = Sim(keys, "--state-file", state)
    try:
        first = prepay(s, b)
    finally:
        s.stop()
    s = Sim(keys, "--state-file", state)
    try:
        assert prepay(s, b) == first
    finally:
        s.stop()


def test_sim_pay_checks_request_payment_params(sim, keys, receiver):
    """/sim/pay {"payment"} checks wx.requestPayment params like the client."""
    b = order(keys, receiver.url)
    prepay_id = prepay(sim, b)
    ts, nonce, pkg = str(int(time.time())), wxcrypto.random_nonce(), \
        "prepay_id=" + prepay_id
    pay = {"appId": keys["appid"], "timeStamp": ts, "nonceStr": nonce,
           "package": pkg, "signType": "RSA",
           "paySign": wxcrypto.rsa_sign(
               keys["merchant_key"],
               "%s\n%s\n%s\n%s\n" % (keys["appid"], ts, nonce, pkg))}
    status, err = sim.sim("/sim/pay", {"payment": dict(pay, nonceStr="x")})
    assert status == 400 and err["code"] == "PAY_SIGN_ERROR"
    status, err = sim.sim("/sim/pay", {"payment": dict(pay, signType="MD5")})
    assert status == 400
    status, out = sim.sim("/sim/pay", {"payment": pay})
    assert status == 200 and out["notification"]["ok"]
    assert out["transaction"]["out_trade_no"] == b["out_trade_no"]


def test_serial_compares_by_value(keys, receiver):
    """openssl prints whole bytes ("0A1B..."); WeChat serials are hex values."""
    k = dict(keys, serial="00" + keys["serial"].lower())
    s = Sim(k)          # the cert's serial matches despite case/zeros
    try:
        assert prepay(s, order(k, receiver.url)).startswith("wx")
    finally:
        s.stop()


def test_trade_bill(sim, keys, receiver):
    """GET /v3/bill/tradebill answers a signed download_url and the SHA-1
    of the file; the file (a signed GET too, answered unsigned, as WeChat)
    lists the day's payments and refunds with a summary that counts them."""
    import hashlib
    from datetime import datetime, timedelta, timezone
    day = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m-%d")
    b = order(keys, receiver.url, amount={"total": 1234, "currency": "CNY"})
    prepay(sim, b)
    sim.sim("/sim/pay", {"out_trade_no": b["out_trade_no"]})
    sim.v3("POST", "/v3/refund/domestic/refunds", {
        "out_trade_no": b["out_trade_no"], "out_refund_no": "B" + b[
            "out_trade_no"], "amount": {"refund": 200, "total": 1234,
                                        "currency": "CNY"}})
    status, bill = sim.v3("GET", "/v3/bill/tradebill?bill_date=%s"
                          "&bill_type=ALL" % day)
    assert status == 200 and bill["hash_type"] == "SHA1", bill
    url = bill["download_url"]
    assert url.startswith("http://127.0.0.1:%d/v3/billdownload/file?token="
                          % sim.port)
    path = url[len("http://127.0.0.1:%d" % sim.port):]
    auth = wxcrypto.build_authorization(keys["mchid"], keys["serial"],
                                        keys["merchant_key"], "GET", path,
                                        b"", int(time.time()))
    status, headers, raw = sim.request("GET", path, None,
                                       {"Authorization": auth})
    assert status == 200 and "wechatpay-signature" not in headers
    assert hashlib.sha1(raw).hexdigest() == bill["hash_value"]
    lines = raw.decode().split("\r\n")
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    rows = [ln[1:].split(",`") for ln in lines[1:] if ln.startswith("`")]
    mine = [r for r in rows[:-1] if r[6] == b["out_trade_no"]]
    assert [(r[9], r[24]) for r in mine] == [("SUCCESS", "12.34"),
                                             ("REFUND", "12.34")]
    assert mine[1][15] == "B" + b["out_trade_no"] and mine[1][16] == "2.00"
    summary_at = lines.index(next(ln for ln in lines if
                                  ln.startswith("总交易单数")))
    assert int(lines[summary_at + 1].split(",")[0][1:]) == len(rows) - 1
    # unsigned download, a used-up token, no statement, a bad date
    assert sim.request("GET", path)[0] == 401
    status, err = sim.v3("GET", "/v3/bill/tradebill?bill_date=2001-01-01")
    assert status == 400 and err["code"] == "INVALID_REQUEST"
    old = (datetime.now(timezone(timedelta(hours=8)))
           - timedelta(days=40)).strftime("%Y-%m-%d")
    status, err = sim.v3("GET", "/v3/bill/tradebill?bill_date=" + old)
    assert status == 400 and err["code"] == "NO_STATEMENT_EXIST"
    status, err = sim.v3("GET", "/v3/bill/tradebill?bill_date=2026-02-30")
    assert status == 400 and err["code"] == "PARAM_ERROR"
