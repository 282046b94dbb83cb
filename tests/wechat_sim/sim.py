#!/usr/bin/python3
"""WeChat login + WeChat Pay v3 simulator: a test double of an outside service.

It speaks the real wire protocol (see ../shared/WECHAT.md (beside the repo) and README.md
beside this file): code2Session, access_token + getuserphonenumber, and the
Pay v3 JSAPI / query / close / refund APIs with merchant signature checks,
signed responses and signed, encrypted notifications with WeChat's retry
schedule.  /sim/* endpoints let tests and the dev stack drive what a buyer or
WeChat would do.  DEV/TEST ONLY: never point it at real credentials.
"""

import argparse
import base64
import gzip
import hashlib
import hmac
import heapq
import http.client
import http.server
import json
import os
import re
import secrets
import ssl
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wxcrypto  # noqa: E402

CST = timezone(timedelta(hours=8))          # WeChat Pay times are +08:00
CLOCK_SKEW = 300                            # seconds a timestamp may be off
PREPAY_TTL = 7200                           # a prepay_id lives 2 hours
TOKEN_TTL = 7200
NOTIFY_TIMEOUT = 5.0                        # WeChat waits 5 s for an answer
# WeChat's notification retry schedule after a failed attempt (seconds).
RETRY_SCHEDULE = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600,
                  10800, 10800, 10800, 21600, 21600)
OUT_TRADE_NO_RE = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO_RE = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
NOTIFY_URL_RE = re.compile(r"https?://[^?#\s]+")
TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "SUCCESS": "支付成功",
    "CLOSED": "订单已关闭",
    "REFUND": "转入退款",
    "PAYERROR": "支付失败(其他原因，如银行返回失败)",
}
REFUND_SUMMARY = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常",
                  "CLOSED": "退款关闭"}
# The trade bill (交易账单) of bill_type ALL: its columns, in WeChat's order.
BILL_COLUMNS = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,"
                "用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,"
                "微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
                "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注")
BILL_SUMMARY = ("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,"
                "订单总金额,申请退款总金额")
BILL_FEE_RATE = 0.006                       # 0.60%, as on most accounts
BILL_URL_TTL = 30                           # a download_url lives 30 s
BILL_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def now_rfc3339(ts=None):
    return datetime.fromtimestamp(ts if ts is not None else time.time(),
                                  CST).isoformat(timespec="seconds")


def parse_rfc3339(text):
    """Epoch seconds of an RFC 3339 time with an explicit offset, or None."""
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.timestamp() if dt.tzinfo else None


def rid():
    """The `rid` WeChat appends to error messages."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def digits(n):
    return "".join(secrets.choice("0123456789") for _ in range(n))


def same_serial(a, b):
    """Hex certificate serials compare by value: case and leading zeros
    (openssl prints whole bytes) do not matter."""
    return a.upper().lstrip("0") == b.upper().lstrip("0")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class ApiError(Exception):
    """A Pay v3 error answer: status + {"code","message"[,"detail"]}."""

    def __init__(self, status, code, message, detail=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.detail = detail

    def body(self):
        b = {"code": self.code, "message": self.message}
        if self.detail is not None:
            b["detail"] = self.detail
        return b


def param_error(field, value, issue, location="body"):
    return ApiError(400, "PARAM_ERROR", "参数错误: %s %s" % (field, issue),
                    {"field": field, "value": value, "issue": issue,
                     "location": location})


class SimError(Exception):
    """An answer of a /sim/* control endpoint."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- configuration ------------------------------------------------------------

class Config:
    def __init__(self, a):
        self.appid = a.appid
        self.secret = a.secret
        self.mchid = a.mchid
        self.merchant_serial = a.merchant_cert_serial.strip().upper()
        self.merchant_key, cert_serial = wxcrypto.load_public_key(
            a.merchant_public_key)
        if cert_serial and not same_serial(cert_serial,
                                           self.merchant_serial):
            raise SystemExit("--merchant-cert-serial %s does not match the "
                             "certificate's serial %s"
                             % (self.merchant_serial, cert_serial))
        self.platform_key = wxcrypto.load_private_key(a.platform_private_key)
        self.platform_serial = a.platform_serial.strip()
        with open(a.apiv3_key_file, "rb") as f:
            self.apiv3_key = f.read().rstrip(b"\r\n")
        if len(self.apiv3_key) not in (16, 24, 32):
            raise SystemExit("APIv3 key must be 32 bytes (16/24 for SDK "
                             "vectors), got %d" % len(self.apiv3_key))
        self.port = a.port                  # the bound one, set in main()
        self.single_use_codes = a.single_use_codes
        self.retry_scale = a.retry_scale
        self.notify_cafile = a.notify_cafile


def apply_keys_dir(a):
    """Fill unset options from a gen_keys.sh directory (--keys-dir)."""
    d = a.keys_dir

    def read(name):
        with open(os.path.join(d, name)) as f:
            return f.read().strip()

    a.appid = a.appid or read("appid")
    a.mchid = a.mchid or read("mchid")
    a.secret = a.secret or read("appsecret")
    a.merchant_cert_serial = a.merchant_cert_serial or read("merchant_serial")
    a.merchant_public_key = (a.merchant_public_key
                             or os.path.join(d, "merchant_public.pem"))
    a.platform_private_key = (a.platform_private_key
                              or os.path.join(d, "platform_private.pem"))
    a.platform_serial = a.platform_serial or read("platform_serial")
    a.apiv3_key_file = a.apiv3_key_file or os.path.join(d, "apiv3.key")


# --- state ----------------------------------------------------------------------

class State:
    """Everything the simulator remembers; every access holds `lock`."""

    PERSISTED = ("orders", "refunds", "tokens", "used_codes")

    def __init__(self, path):
        self.lock = threading.RLock()
        self.path = path
        self.clear()
        if path and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            self.orders = saved.get("orders", {})
            self.refunds = saved.get("refunds", {})
            self.tokens = saved.get("tokens", {})
            self.used_codes = saved.get("used_codes", {})

    def clear(self):
        self.orders = {}        # out_trade_no -> order
        self.refunds = {}       # out_refund_no -> refund
        self.tokens = {}        # access_token -> expiry (epoch)
        self.used_codes = {}    # "login:code" / "phone:code" -> epoch used
        self.notifications = []  # delivery attempts, oldest first
        self.bills = {}         # download token -> (bytes, expiry)
        self.messages = []      # subscribe/send requests received
        self.msg_faults = []    # scripted subscribe/send failures
        self.pay_faults = []    # scripted JSAPI prepay refusals

    def save(self):
        """Write the persisted part atomically (caller holds the lock)."""
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({k: getattr(self, k) for k in self.PERSISTED}, f,
                      ensure_ascii=False)
        os.replace(tmp, self.path)


# --- notifications -------------------------------------------------------------

class Notifier:
    """Delivers signed notifications and retries failures in the background."""

    def __init__(self, cfg, state, log):
        self.cfg, self.state, self.log = cfg, state, log
        self.cond = threading.Condition()
        self.heap = []
        self.seq = 0
        self.generation = 0
        threading.Thread(target=self._run, name="notify-retry",
                         daemon=True).start()

    def new_job(self, url, kind, event_type, summary, plaintext, ref,
                signtest=False):
        """Encrypt the resource once; every attempt re-signs the same body."""
        resource_type = "transaction" if kind == "transaction" else "refund"
        nonce = wxcrypto.random_nonce(12)
        body = {
            "id": "EV-%s%s" % (datetime.now(CST).strftime("%Y%m%d%H%M%S"),
                               digits(6)),
            "create_time": now_rfc3339(),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": resource_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": wxcrypto.aead_encrypt(
                    self.cfg.apiv3_key, nonce, resource_type,
                    dumps(plaintext)),
                "associated_data": resource_type,
                "nonce": nonce,
            },
        }
        with self.cond:
            generation = self.generation
        return {"id": body["id"], "url": url, "body": dumps(body),
                "kind": kind, "event_type": event_type, "ref": ref,
                "signtest": signtest, "attempt": 1, "generation": generation}

    def deliver(self, job):
        """One attempt now; on failure schedule the next one.  Returns the
        attempt record."""
        ts = str(int(time.time()))
        nonce = wxcrypto.random_nonce(32)
        if job["signtest"]:
            signature = wxcrypto.SIGNTEST_PREFIX + base64.b64encode(
                secrets.token_bytes(192)).decode()
        else:
            signature = wxcrypto.rsa_sign(
                self.cfg.platform_key,
                wxcrypto.response_message(ts, nonce, job["body"]))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/4.0",
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": self.cfg.platform_serial,
            "Wechatpay-Signature-Type": wxcrypto.AUTH_SCHEME,
        }
        status, error, answer = None, None, ""
        try:
            status, answer = self._post(job["url"], job["body"], headers)
        except (OSError, http.client.HTTPException, ValueError) as e:
            error = "%s: %s" % (type(e).__name__, e)
        ok = status is not None and 200 <= status < 300
        record = {
            "notification_id": job["id"], "kind": job["kind"],
            "event_type": job["event_type"], "url": job["url"],
            "attempt": job["attempt"], "status": status, "ok": ok,
            "error": error, "response": answer, "signtest": job["signtest"],
            "time": now_rfc3339(),
        }
        record.update(job["ref"])
        with self.state.lock:
            if job["generation"] == self.generation:
                self.state.notifications.append(record)
        self.log("notify %s %s attempt %d -> %s" % (
            job["event_type"], job["url"], job["attempt"], status or error))
        # A sign test expects to be refused: WeChat does not retry it.
        if not ok and not job["signtest"] \
                and job["attempt"] <= len(RETRY_SCHEDULE):
            delay = RETRY_SCHEDULE[job["attempt"] - 1] * self.cfg.retry_scale
            nxt = dict(job, attempt=job["attempt"] + 1)
            with self.cond:
                if nxt["generation"] == self.generation:
                    self.seq += 1
                    heapq.heappush(self.heap,
                                   (time.monotonic() + delay, self.seq, nxt))
                    self.cond.notify()
        return record

    def _post(self, url, body, headers):
        u = urlsplit(url)
        if u.scheme == "https":
            ctx = (ssl.create_default_context(cafile=self.cfg.notify_cafile)
                   if self.cfg.notify_cafile
                   else ssl._create_unverified_context())  # dev certs
            conn = http.client.HTTPSConnection(u.hostname, u.port or 443,
                                               timeout=NOTIFY_TIMEOUT,
                                               context=ctx)
        elif u.scheme == "http":
            conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                              timeout=NOTIFY_TIMEOUT)
        else:
            raise ValueError("unsupported notify_url scheme")
        try:
            conn.request("POST", u.path or "/", body=body, headers=headers)
            resp = conn.getresponse()
            answer = resp.read(4096).decode("utf-8", "replace")
            return resp.status, answer
        finally:
            conn.close()

    def reset(self):
        with self.cond:
            self.generation += 1
            self.heap.clear()

    def _run(self):
        while True:
            with self.cond:
                while not self.heap or self.heap[0][0] > time.monotonic():
                    wait = (self.heap[0][0] - time.monotonic()
                            if self.heap else None)
                    self.cond.wait(wait)
                _, _, job = heapq.heappop(self.heap)
            # A slow receiver must not hold up other retries.
            threading.Thread(target=self.deliver, args=(job,),
                             daemon=True).start()


# --- the simulated service ------------------------------------------------------

class WeChat:
    def __init__(self, cfg, state, log):
        self.cfg, self.state, self.log = cfg, state, log
        self.notifier = Notifier(cfg, state, log)

    # -- login ------------------------------------------------------------------

    def _derive(self, label, value):
        return hmac.new(self.cfg.appid.encode(), ("%s|%s" % (label, value))
                        .encode(), hashlib.sha256).digest()

    @staticmethod
    def _user_part(code):
        # "alice~1" and "alice~2" are two logins of the same user.
        return code.split("~", 1)[0]

    def _openid(self, code):
        h = self._derive("openid", self._user_part(code))
        return "o" + base64.urlsafe_b64encode(h).decode()[:27]

    def _unionid(self, code):
        # Unionids are per Open Platform account, not per app: no appid.
        h = hashlib.sha256(("unionid|" + self._user_part(code)).encode())
        return "o" + base64.urlsafe_b64encode(h.digest()).decode()[:27]

    @staticmethod
    def _wx_error(errcode, msg):
        return {"errcode": errcode, "errmsg": "%s, rid: %s" % (msg, rid())}

    def _check_app(self, q):
        """appid/secret checks shared by code2Session and token; None = ok."""
        appid, secret = q.get("appid", ""), q.get("secret", "")
        if not appid:
            return self._wx_error(41002, "appid missing")
        if not hmac.compare_digest(appid.encode(), self.cfg.appid.encode()):
            return self._wx_error(40013, "invalid appid")
        if not secret:
            return self._wx_error(41004, "appsecret missing")
        if not hmac.compare_digest(secret.encode(), self.cfg.secret.encode()):
            return self._wx_error(40125, "invalid appsecret")
        return None

    def _use_code(self, kind, code):
        """False when single-use codes are on and this one was used."""
        if not self.cfg.single_use_codes:
            return True
        key = "%s:%s" % (kind, code)
        with self.state.lock:
            if key in self.state.used_codes:
                return False
            self.state.used_codes[key] = int(time.time())
            self.state.save()
        return True

    @staticmethod
    def _code_error(code):
        """The scripted failures, by code prefix (MISSION.md conventions)."""
        if code.startswith("invalid"):
            return 40029, "invalid code"
        if code.startswith("busy"):
            return -1, "system error"
        if code.startswith("limit"):
            return 45011, "api minute-quota reach limit  mustslower  retry next minute"
        if code.startswith("risky"):
            return 40226, "invalid risky user"
        return None

    def jscode2session(self, q):
        err = self._check_app(q)
        if err:
            return err
        if q.get("grant_type") != "authorization_code":
            return self._wx_error(40002, "invalid grant_type")
        code = q.get("js_code", "")
        if not code:
            return self._wx_error(40029, "invalid code")
        scripted = self._code_error(code)
        if scripted:
            return self._wx_error(*scripted)
        if not self._use_code("login", code):
            return self._wx_error(40163, "code been used")
        out = {
            "session_key": base64.b64encode(
                self._derive("session_key", code)[:16]).decode(),
            "openid": self._openid(code),
        }
        if code.startswith("union"):
            out["unionid"] = self._unionid(code)
        return out

    def token(self, q):
        err = self._check_app(q)
        if err:
            return err
        if q.get("grant_type") != "client_credential":
            return self._wx_error(40002, "invalid grant_type")
        tok = secrets.token_urlsafe(96)[:128]
        with self.state.lock:
            now = time.time()
            self.state.tokens = {t: e for t, e in self.state.tokens.items()
                                 if e > now}
            self.state.tokens[tok] = int(now) + TOKEN_TTL
            self.state.save()
        return {"access_token": tok, "expires_in": TOKEN_TTL}

    def _check_token(self, q):
        """The access_token checks of every server API; None = ok."""
        tok = q.get("access_token", "")
        with self.state.lock:
            exp = self.state.tokens.get(tok) if tok else None
        if exp is None:
            return self._wx_error(
                40001, "invalid credential, access_token is invalid or not latest")
        if exp <= time.time():
            return self._wx_error(42001, "access_token expired")
        return None

    def phone_number(self, q, body):
        err = self._check_token(q)
        if err:
            return err
        try:
            code = json.loads(body or b"{}").get("code", "")
        except (ValueError, AttributeError):
            return self._wx_error(47001, "data format error")
        if not isinstance(code, str) or not code:
            return self._wx_error(40029, "invalid code")
        scripted = self._code_error(code)
        if scripted:
            return self._wx_error(*scripted)
        if not self._use_code("phone", code):
            return self._wx_error(40029, "invalid code")
        m = re.fullmatch(r"phone-(1\d{10})", code)
        if m:
            number = m.group(1)
        else:   # a stable mainland mobile number derived from the code
            h = int.from_bytes(self._derive("phone", code)[:8], "big")
            number = "1%d%09d" % (3 + h % 7, (h // 7) % 10**9)
        return {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": number, "purePhoneNumber": number,
            "countryCode": 86,
            "watermark": {"timestamp": int(time.time()),
                          "appid": self.cfg.appid}}}

    # -- subscription messages (小程序订阅消息) --------------------------------

    def subscribe_send(self, q, body):
        """POST /cgi-bin/message/subscribe/send: checked as WeChat does and
        recorded (GET /sim/messages), with any scripted failure applied."""
        err = self._check_token(q)
        if err:
            return err
        try:
            msg = json.loads(body or b"{}")
        except ValueError:
            return self._wx_error(47001, "data format error")
        if not isinstance(msg, dict):
            return self._wx_error(47001, "data format error")
        touser, tpl = msg.get("touser"), msg.get("template_id")
        data = msg.get("data")
        if not isinstance(touser, str) or not touser:
            return self._wx_error(40003, "invalid openid")
        if not isinstance(tpl, str) or not re.fullmatch(r"[A-Za-z0-9_-]{8,64}",
                                                       tpl) \
                or tpl.startswith("invalid"):
            return self._wx_error(40037, "invalid template_id")
        if not isinstance(data, dict) or not all(
                isinstance(v, dict) and isinstance(v.get("value"), str)
                for v in data.values()):
            return self._wx_error(47003, "argument invalid! data.value empty")
        if msg.get("miniprogram_state", "formal") not in (
                "formal", "trial", "developer"):
            return self._wx_error(47003, "argument invalid! miniprogram_state")
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) \
            else str(body)
        errcode = 0
        with self.state.lock:
            for f in self.state.msg_faults:
                if f["count"] > 0 and f["match"] in raw:
                    f["count"] -= 1
                    errcode = f["errcode"]
                    break
            self.state.messages.append({
                "touser": touser, "template_id": tpl,
                "page": msg.get("page", ""), "data": data,
                "miniprogram_state": msg.get("miniprogram_state", "formal"),
                "lang": msg.get("lang", "zh_CN"), "errcode": errcode,
                "at": int(time.time())})
        if errcode == 43101:
            return self._wx_error(43101, "user refuse to accept the msg")
        if errcode:
            return self._wx_error(errcode, "system error")
        self.log("subscribe/send %s to %s" % (tpl, touser))
        return {"errcode": 0, "errmsg": "ok", "msgid": int(digits(12))}

    def sim_messages(self, q):
        with self.state.lock:
            items = list(self.state.messages)
        if q.get("touser"):
            items = [m for m in items if m["touser"] == q["touser"]]
        if q.get("template_id"):
            items = [m for m in items if m["template_id"] == q["template_id"]]
        if q.get("match"):
            items = [m for m in items
                     if q["match"] in json.dumps(m, ensure_ascii=False)]
        return {"messages": items}

    def sim_message_fault(self, d):
        """{"errcode", "count", "match"}: the next count sends whose body
        contains match (all, when empty) answer errcode."""
        errcode, count = d.get("errcode"), d.get("count", 1)
        if not isinstance(errcode, int) or not isinstance(count, int) \
                or count < 1:
            raise SimError(400, "PARAM_ERROR", "errcode and count integers")
        with self.state.lock:
            self.state.msg_faults.append({"errcode": errcode, "count": count,
                                          "match": str(d.get("match", ""))})
        return {"scripted": True}

    def sim_pay_fault(self, d):
        """{"code", "status", "count", "match"}: the next count JSAPI
        prepays whose out_trade_no contains match (all, when empty) are
        refused with status (403) and code (TRADE_ERROR), as WeChat Pay
        refuses a payment its risk control or the buyer's bank turns
        down."""
        code = d.get("code", "TRADE_ERROR")
        status, count = d.get("status", 403), d.get("count", 1)
        if not isinstance(code, str) or not code \
                or not isinstance(status, int) or not 400 <= status <= 599 \
                or not isinstance(count, int) or count < 1:
            raise SimError(400, "PARAM_ERROR",
                           "code a string, status 4xx/5xx, count >= 1")
        with self.state.lock:
            self.state.pay_faults.append({"code": code, "status": status,
                                          "count": count,
                                          "match": str(d.get("match", ""))})
        return {"scripted": True}

    def _pay_fault(self, otn):
        """The scripted refusal for this prepay, if any (lock held)."""
        for f in self.state.pay_faults:
            if f["count"] > 0 and f["match"] in otn:
                f["count"] -= 1
                return f
        return None

    def sim_invalidate_token(self, d):
        """Every access_token issued so far becomes invalid (40001), as
        when another server fetched a new one."""
        with self.state.lock:
            n = len(self.state.tokens)
            self.state.tokens = {}
            self.state.save()
        return {"invalidated": n}

    # -- Pay v3: request authentication ----------------------------------------

    def authenticate(self, method, raw_url, headers, body):
        """Verify the merchant's Authorization exactly as WeChat does."""
        try:
            _, p = wxcrypto.parse_authorization(headers.get("Authorization"))
        except ValueError as e:
            raise ApiError(401, "SIGN_ERROR", "Authorization不合法: %s" % e)
        if p["mchid"] != self.cfg.mchid:
            raise ApiError(401, "SIGN_ERROR", "商户号与Authorization不匹配",
                           {"field": "mchid", "location": "authorization",
                            "value": p["mchid"]})
        if not same_serial(p["serial_no"], self.cfg.merchant_serial):
            raise ApiError(401, "SIGN_ERROR", "商户证书序列号有误",
                           {"field": "serial_no", "location": "authorization",
                            "value": p["serial_no"]})
        try:
            ts = int(p["timestamp"])
        except ValueError:
            ts = None
        if ts is None or abs(time.time() - ts) > CLOCK_SKEW:
            raise ApiError(401, "SIGN_ERROR",
                           "Authorization中的timestamp与当前时间相差过大",
                           {"field": "timestamp", "location": "authorization",
                            "value": p["timestamp"]})
        msg = wxcrypto.request_message(method, raw_url, p["timestamp"],
                                       p["nonce_str"], body)
        if not wxcrypto.rsa_verify(self.cfg.merchant_key, msg,
                                   p["signature"]):
            text = msg.decode("utf-8", "replace")
            raise ApiError(401, "SIGN_ERROR", "错误的签名，验签失败", {
                "detail": {"issue": "sign not match"},
                "field": "signature", "location": "authorization",
                "sign_information": {
                    "method": method, "url": raw_url,
                    "sign_message_length": len(msg),
                    "truncated_sign_message": text[:160],
                }})
        return p

    # -- Pay v3: orders -----------------------------------------------------------

    def _validate_jsapi(self, auth_mchid, b):
        if not isinstance(b, dict):
            raise param_error("/", None, "body must be a JSON object")

        def string(field, lo, hi, required=True):
            v = b.get(field)
            if v is None:
                if required:
                    raise param_error("/" + field, None, "必填字段缺失")
                return None
            if not isinstance(v, str) or not lo <= len(v) <= hi:
                raise param_error("/" + field, v,
                                  "长度应在%d到%d之间的字符串" % (lo, hi))
            return v

        appid = string("appid", 1, 32)
        mchid = string("mchid", 1, 32)
        string("description", 1, 127)
        otn = string("out_trade_no", 6, 32)
        if not OUT_TRADE_NO_RE.fullmatch(otn):
            raise param_error("/out_trade_no", otn,
                              "只能是数字、大小写字母_-|*")
        url = string("notify_url", 1, 256)
        if not NOTIFY_URL_RE.fullmatch(url):
            raise param_error("/notify_url", url,
                              "须为http(s)地址且不能携带参数")
        string("attach", 1, 128, required=False)
        string("goods_tag", 1, 32, required=False)
        te = string("time_expire", 1, 64, required=False)
        if te is not None and parse_rfc3339(te) is None:
            raise param_error("/time_expire", te, "须为RFC 3339格式")
        amount = b.get("amount")
        if not isinstance(amount, dict):
            raise param_error("/amount", amount, "必填字段缺失")
        total = amount.get("total")
        if not is_int(total) or total <= 0:
            raise param_error("/amount/total", total, "须为大于0的整数(分)")
        cur = amount.get("currency", "CNY")
        if cur != "CNY":
            raise param_error("/amount/currency", cur, "Invalid currency code")
        payer = b.get("payer")
        openid = payer.get("openid") if isinstance(payer, dict) else None
        if not isinstance(openid, str) or not 1 <= len(openid) <= 128:
            raise param_error("/payer/openid", openid, "必填字段缺失")
        if mchid != auth_mchid:
            raise param_error("/mchid", mchid, "与请求头中的商户号不一致")
        if appid != self.cfg.appid:
            raise ApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")

    def _new_prepay_id(self):
        return "wx%s%s" % (datetime.now(CST).strftime("%d%H%M%S"),
                           secrets.token_hex(12))

    def jsapi(self, auth, b):
        self._validate_jsapi(auth["mchid"], b)
        otn = b["out_trade_no"]
        now = time.time()
        with self.state.lock:
            f = self._pay_fault(otn)
            if f is not None:
                raise ApiError(f["status"], f["code"], "交易错误 (scripted)")
            o = self.state.orders.get(otn)
            if o is not None:
                if o["request"] != b:
                    raise ApiError(400, "INVALID_REQUEST", "201 商户订单号重复")
                if o["trade_state"] in ("SUCCESS", "REFUND"):
                    raise ApiError(400, "ORDERPAID", "该订单已支付")
                if o["trade_state"] == "CLOSED":
                    raise ApiError(400, "ORDER_CLOSED", "订单已关闭")
                if o["prepay_expires"] <= now:
                    o["prepay_id"] = self._new_prepay_id()
                    o["prepay_expires"] = now + PREPAY_TTL
                    self.state.save()
                return {"prepay_id": o["prepay_id"]}
            te = b.get("time_expire")
            self.state.orders[otn] = {
                "request": b,
                "prepay_id": self._new_prepay_id(),
                "prepay_expires": now + PREPAY_TTL,
                "created": now,
                "time_expire": parse_rfc3339(te) if te else None,
                "trade_state": "NOTPAY",
                "transaction_id": None,
                "success_time": None,
                "bank_type": None,
            }
            self.state.save()
            return {"prepay_id": self.state.orders[otn]["prepay_id"]}

    def _order(self, otn):
        o = self.state.orders.get(otn)
        if o is None:
            raise ApiError(404, "ORDERNOTEXIST", "订单不存在")
        return o

    @staticmethod
    def transaction(o):
        """The transaction object of queries and payment notifications."""
        req = o["request"]
        amount = {"total": req["amount"]["total"], "currency": "CNY",
                  "payer_currency": "CNY"}
        t = {"appid": req["appid"], "mchid": req["mchid"],
             "out_trade_no": req["out_trade_no"],
             "attach": req.get("attach", ""),
             "trade_state": o["trade_state"],
             "trade_state_desc": TRADE_STATE_DESC[o["trade_state"]],
             "payer": {"openid": req["payer"]["openid"]},
             "amount": amount}
        if o["transaction_id"]:
            amount["payer_total"] = req["amount"]["total"]
            t.update({"transaction_id": o["transaction_id"],
                      "trade_type": "JSAPI", "bank_type": o["bank_type"],
                      "success_time": o["success_time"],
                      "promotion_detail": []})
        return t

    def query(self, otn, q):
        if q.get("mchid") != self.cfg.mchid:
            raise param_error("mchid", q.get("mchid"), "商户号有误", "query")
        with self.state.lock:
            return self.transaction(self._order(otn))

    def query_by_id(self, transaction_id, q):
        if q.get("mchid") != self.cfg.mchid:
            raise param_error("mchid", q.get("mchid"), "商户号有误", "query")
        with self.state.lock:
            o = next((x for x in self.state.orders.values()
                      if x["transaction_id"] == transaction_id), None)
            if o is None:
                raise ApiError(404, "ORDERNOTEXIST", "订单不存在")
            return self.transaction(o)

    def close(self, otn, b):
        if not isinstance(b, dict) or b.get("mchid") != self.cfg.mchid:
            raise param_error("/mchid", b.get("mchid") if isinstance(b, dict)
                              else None, "商户号有误")
        with self.state.lock:
            o = self._order(otn)
            if o["trade_state"] in ("SUCCESS", "REFUND"):
                raise ApiError(400, "ORDERPAID", "订单已支付")
            if o["trade_state"] != "CLOSED":
                o["trade_state"] = "CLOSED"
                self.state.save()
        return None

    # -- Pay v3: refunds ---------------------------------------------------------

    @staticmethod
    def refund_object(r):
        out = {k: r[k] for k in ("refund_id", "out_refund_no", "transaction_id",
                                 "out_trade_no", "channel",
                                 "user_received_account", "create_time",
                                 "status", "funds_account")}
        if r["success_time"]:
            out["success_time"] = r["success_time"]
        amt = r["amount"]
        out["amount"] = {"total": amt["total"], "refund": amt["refund"],
                         "from": [], "payer_total": amt["total"],
                         "payer_refund": amt["refund"],
                         "settlement_refund": amt["refund"],
                         "settlement_total": amt["total"],
                         "discount_refund": 0, "currency": "CNY"}
        out["promotion_detail"] = []
        return out

    def _validate_refund(self, b):
        if not isinstance(b, dict):
            raise param_error("/", None, "body must be a JSON object")
        if not b.get("out_trade_no") and not b.get("transaction_id"):
            raise param_error("/out_trade_no", None,
                              "out_trade_no与transaction_id须二选一")
        orn = b.get("out_refund_no")
        if not isinstance(orn, str) or not OUT_REFUND_NO_RE.fullmatch(orn):
            raise param_error("/out_refund_no", orn,
                              "1到64位数字、大小写字母_-|*@")
        reason = b.get("reason")
        if reason is not None and (not isinstance(reason, str)
                                   or len(reason) > 80):
            raise param_error("/reason", reason, "最长80个字符")
        url = b.get("notify_url")
        if url is not None and (not isinstance(url, str)
                                or not NOTIFY_URL_RE.fullmatch(url)):
            raise param_error("/notify_url", url,
                              "须为http(s)地址且不能携带参数")
        amt = b.get("amount")
        if not isinstance(amt, dict):
            raise param_error("/amount", amt, "必填字段缺失")
        for f in ("refund", "total"):
            if not is_int(amt.get(f)) or amt[f] <= 0:
                raise param_error("/amount/" + f, amt.get(f),
                                  "须为大于0的整数(分)")
        if amt.get("currency") != "CNY":
            raise param_error("/amount/currency", amt.get("currency"),
                              "Invalid currency code")

    def _order_for_refund(self, b):
        if b.get("out_trade_no"):
            o = self.state.orders.get(b["out_trade_no"])
        else:
            o = next((x for x in self.state.orders.values()
                      if x["transaction_id"] == b["transaction_id"]), None)
        if o is None:
            raise ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if b.get("transaction_id") and o["transaction_id"] != \
                b["transaction_id"]:
            raise param_error("/transaction_id", b["transaction_id"],
                              "与out_trade_no不对应")
        return o

    def refund(self, b):
        self._validate_refund(b)
        orn = b["out_refund_no"]
        with self.state.lock:
            r = self.state.refunds.get(orn)
            if r is not None:
                # Retrying with the same number refunds once.
                if r["request"] != b:
                    raise ApiError(400, "INVALID_REQUEST",
                                   "退款单号重复，但退款参数与原请求不一致")
                return self.refund_object(r)
            o = self._order_for_refund(b)
            if o["trade_state"] not in ("SUCCESS", "REFUND"):
                raise ApiError(400, "INVALID_REQUEST", "订单未支付，不能退款")
            total = o["request"]["amount"]["total"]
            if b["amount"]["total"] != total:
                raise param_error("/amount/total", b["amount"]["total"],
                                  "与订单金额不一致")
            otn = o["request"]["out_trade_no"]
            refunded = sum(x["amount"]["refund"]
                           for x in self.state.refunds.values()
                           if x["out_trade_no"] == otn
                           and x["status"] != "CLOSED")
            if refunded + b["amount"]["refund"] > total:
                raise ApiError(400, "INVALID_REQUEST",
                               "申请退款金额超过订单可退金额")
            r = {
                "request": b,
                "refund_id": "50%s%s" % (datetime.now(CST).strftime("%Y%m%d"),
                                         digits(19)),
                "out_refund_no": orn,
                "transaction_id": o["transaction_id"],
                "out_trade_no": otn,
                "channel": "ORIGINAL",
                "user_received_account": "支付用户零钱",
                "create_time": now_rfc3339(),
                "success_time": None,
                "status": "PROCESSING",
                "funds_account": "AVAILABLE",
                "notify_url": b.get("notify_url"),
                "amount": {"total": total, "refund": b["amount"]["refund"]},
            }
            self.state.refunds[orn] = r
            o["trade_state"] = "REFUND"
            self.state.save()
            return self.refund_object(r)

    def refund_query(self, orn):
        with self.state.lock:
            r = self.state.refunds.get(orn)
            if r is None:
                raise ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return self.refund_object(r)

    # -- Pay v3: trade bill ------------------------------------------------------

    @staticmethod
    def _yuan(fen):
        return "%d.%02d" % (fen // 100, fen % 100)

    def _bill_lines(self, day, bill_type):
        """Detail lines of one Beijing day, oldest first: payments by their
        success_time, refunds by the time WeChat accepted them."""
        rows = []
        want_pay = bill_type in ("ALL", "SUCCESS")
        want_refund = bill_type in ("ALL", "REFUND")
        for o in self.state.orders.values():
            t = o["success_time"] and parse_rfc3339(o["success_time"])
            if not want_pay or not t or \
                    datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d") != day:
                continue
            req = o["request"]
            total = req["amount"]["total"]
            fee = total * BILL_FEE_RATE / 100
            rows.append((t, [
                datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d %H:%M:%S"),
                req["appid"], req["mchid"], "0", "", o["transaction_id"],
                req["out_trade_no"], req["payer"]["openid"], "JSAPI",
                "SUCCESS", o["bank_type"] or "OTHERS", "CNY",
                self._yuan(total), "0.00", "0", "0", "0.00", "0.00", "", "",
                req["description"], req.get("attach", ""), "%.5f" % fee,
                "0.60%", self._yuan(total), "0.00", ""]))
        for r in self.state.refunds.values():
            t = parse_rfc3339(r["create_time"])
            if not want_refund or \
                    datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d") != day:
                continue
            o = self.state.orders[r["out_trade_no"]]
            req = o["request"]
            amt = r["amount"]
            fee = amt["refund"] * BILL_FEE_RATE / 100
            rows.append((t, [
                datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d %H:%M:%S"),
                req["appid"], req["mchid"], "0", "", r["transaction_id"],
                r["out_trade_no"], req["payer"]["openid"], "JSAPI", "REFUND",
                o["bank_type"] or "OTHERS", "CNY", self._yuan(amt["total"]),
                "0.00", r["refund_id"], r["out_refund_no"],
                self._yuan(amt["refund"]), "0.00", "ORIGINAL", r["status"],
                req["description"], req.get("attach", ""), "-%.5f" % fee,
                "0.60%", self._yuan(amt["total"]),
                self._yuan(amt["refund"]), ""]))
        rows.sort(key=lambda x: x[0])
        return [r for _, r in rows]

    def _bill_text(self, lines):
        pay = [x for x in lines if x[9] == "SUCCESS"]
        ref = [x for x in lines if x[9] == "REFUND"]

        def fen(v):
            return int(round(float(v) * 100))

        summary = [str(len(lines)),
                   self._yuan(sum(fen(x[12]) for x in pay)),
                   self._yuan(sum(fen(x[16]) for x in ref)), "0.00",
                   "%.5f" % sum(float(x[22]) for x in lines),
                   self._yuan(sum(fen(x[24]) for x in pay)),
                   self._yuan(sum(fen(x[25]) for x in ref))]
        out = [BILL_COLUMNS]
        out += [",".join("`" + v for v in x) for x in lines]
        out += [BILL_SUMMARY, ",".join("`" + v for v in summary)]
        return ("\r\n".join(out) + "\r\n").encode("utf-8")

    def trade_bill(self, q):
        day = q.get("bill_date", "")
        bill_type = q.get("bill_type", "ALL")
        if not BILL_DATE_RE.fullmatch(day):
            raise param_error("bill_date", day, "格式须为YYYY-MM-DD", "query")
        try:
            d = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=CST)
        except ValueError:
            raise param_error("bill_date", day, "日期不存在", "query")
        if bill_type not in ("ALL", "SUCCESS", "REFUND"):
            raise param_error("bill_type", bill_type,
                              "须为ALL、SUCCESS或REFUND", "query")
        if q.get("tar_type") not in (None, "", "GZIP"):
            raise param_error("tar_type", q.get("tar_type"), "须为GZIP",
                              "query")
        now = datetime.now(CST)
        if d.date() > now.date():
            raise ApiError(400, "INVALID_REQUEST", "账单日期不能晚于今天")
        if (now.date() - d.date()).days > 92:
            raise ApiError(400, "INVALID_REQUEST", "仅支持三个月内的账单")
        with self.state.lock:
            lines = self._bill_lines(day, bill_type)
            if not lines:
                raise ApiError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
            text = self._bill_text(lines)
            digest = hashlib.sha1(text).hexdigest()
            if q.get("tar_type") == "GZIP":
                text = gzip.compress(text)
            token = secrets.token_urlsafe(24)
            self.state.bills[token] = (text, time.time() + BILL_URL_TTL)
        return {"hash_type": "SHA1", "hash_value": digest,
                "download_url": "http://127.0.0.1:%d/v3/billdownload/file"
                                "?token=%s" % (self.cfg.port, token)}

    def bill_file(self, q):
        with self.state.lock:
            text, expiry = self.state.bills.get(q.get("token"), (None, 0))
        if text is None or expiry < time.time():
            raise ApiError(400, "INVALID_REQUEST",
                           "下载地址已过期，请重新申请账单")
        return text

    # -- simulator controls ----------------------------------------------------

    def _sim_order(self, body):
        otn = body.get("out_trade_no")
        payment = body.get("payment")
        if not otn and isinstance(payment, dict):
            # Find the order the way the WeChat client does: by prepay_id.
            pkg = payment.get("package")
            otn = next((k for k, o in self.state.orders.items()
                        if pkg == "prepay_id=" + o["prepay_id"]), None)
        o = self.state.orders.get(otn) if isinstance(otn, str) else None
        if o is None:
            raise SimError(404, "ORDERNOTEXIST", "no such order")
        return o

    def _check_payment(self, o, p):
        """Check wx.requestPayment parameters as the WeChat client would."""
        if not isinstance(p, dict):
            raise SimError(400, "PARAM_ERROR", "payment must be an object")
        need = ("appId", "timeStamp", "nonceStr", "package", "signType",
                "paySign")
        if not all(isinstance(p.get(k), str) and p[k] for k in need):
            raise SimError(400, "PARAM_ERROR",
                           "payment needs string " + ", ".join(need))
        if p["appId"] != o["request"]["appid"]:
            raise SimError(400, "PAY_PARAM_ERROR", "appId is not the prepay's")
        if p["signType"] != "RSA":
            raise SimError(400, "PAY_PARAM_ERROR", "signType must be RSA")
        if len(p["nonceStr"]) > 32 or not p["timeStamp"].isdigit():
            raise SimError(400, "PAY_PARAM_ERROR", "bad nonceStr or timeStamp")
        if p["package"] != "prepay_id=" + o["prepay_id"] \
                or o["prepay_expires"] <= time.time():
            raise SimError(400, "PAY_PARAM_ERROR",
                           "package is not the order's live prepay_id")
        msg = "%s\n%s\n%s\n%s\n" % (p["appId"], p["timeStamp"],
                                     p["nonceStr"], p["package"])
        if not wxcrypto.rsa_verify(self.cfg.merchant_key, msg, p["paySign"]):
            raise SimError(400, "PAY_SIGN_ERROR", "paySign does not verify")

    def _payment_job(self, o, signtest=False):
        req = o["request"]
        return self.notifier.new_job(
            req["notify_url"], "transaction", "TRANSACTION.SUCCESS", "支付成功",
            self.transaction(o), {"out_trade_no": req["out_trade_no"]},
            signtest)

    def sim_pay(self, body):
        """The buyer pays in WeChat; then WeChat notifies the merchant.
        {"result": "PAYERROR"}: the buyer's bank refuses the payment
        instead; WeChat sends no notification for that (the merchant
        learns it by querying) and the buyer may try again."""
        result = body.get("result", "SUCCESS")
        if result not in ("SUCCESS", "PAYERROR"):
            raise SimError(400, "PARAM_ERROR",
                           "result must be SUCCESS or PAYERROR")
        with self.state.lock:
            o = self._sim_order(body)
            if o["trade_state"] not in ("NOTPAY", "PAYERROR"):
                raise SimError(409, "ORDER_" + o["trade_state"],
                               "order is %s, not NOTPAY" % o["trade_state"])
            if o["time_expire"] and o["time_expire"] <= time.time():
                raise SimError(409, "ORDER_EXPIRED",
                               "the order's time_expire has passed")
            if body.get("payment") is not None:
                self._check_payment(o, body["payment"])
            if result == "PAYERROR":
                o["trade_state"] = "PAYERROR"
                self.state.save()
                return {"transaction": self.transaction(o),
                        "notification": None}
            now = time.time()
            o.update(trade_state="SUCCESS", success_time=now_rfc3339(now),
                     bank_type=body.get("bank_type") or "OTHERS",
                     transaction_id="4200%s%s" % (
                         datetime.now(CST).strftime("%Y%m%d"), digits(16)))
            self.state.save()
            txn = self.transaction(o)
            job = self._payment_job(o)
        out = {"transaction": txn, "notification": None}
        if body.get("notify", True):
            out["notification"] = self.notifier.deliver(job)
        return out

    def sim_renotify(self, body):
        """Send the payment notification again (WeChat duplicates happen)."""
        with self.state.lock:
            o = self._sim_order(body)
            if not o["transaction_id"]:
                raise SimError(409, "ORDER_NOTPAY", "the order is not paid")
            job = self._payment_job(o)
        return {"notification": self.notifier.deliver(job)}

    def sim_signtest(self, body):
        with self.state.lock:
            job = self._payment_job(self._sim_order(body), signtest=True)
        return {"notification": self.notifier.deliver(job)}

    def sim_refund_result(self, body):
        status = body.get("status") if isinstance(body, dict) else None
        if status not in REFUND_SUMMARY:
            raise SimError(400, "PARAM_ERROR",
                           "status must be SUCCESS, ABNORMAL or CLOSED")
        with self.state.lock:
            r = self.state.refunds.get(body.get("out_refund_no"))
            if r is None:
                raise SimError(404, "RESOURCE_NOT_EXISTS",
                               "no such out_refund_no")
            if r["status"] != "PROCESSING":
                raise SimError(409, "REFUND_" + r["status"],
                               "refund is %s, not PROCESSING" % r["status"])
            r["status"] = status
            if status == "SUCCESS":
                r["success_time"] = now_rfc3339()
            o = self.state.orders[r["out_trade_no"]]
            if status == "CLOSED" and not any(
                    x["out_trade_no"] == r["out_trade_no"]
                    and x["status"] != "CLOSED"
                    for x in self.state.refunds.values()):
                o["trade_state"] = "SUCCESS"
            self.state.save()
            refund = self.refund_object(r)
            plain = {"mchid": self.cfg.mchid,
                     "out_trade_no": r["out_trade_no"],
                     "transaction_id": r["transaction_id"],
                     "out_refund_no": r["out_refund_no"],
                     "refund_id": r["refund_id"], "refund_status": status,
                     "user_received_account": r["user_received_account"],
                     "amount": {"total": r["amount"]["total"],
                                "refund": r["amount"]["refund"],
                                "payer_total": r["amount"]["total"],
                                "payer_refund": r["amount"]["refund"]}}
            if r["success_time"]:
                plain["success_time"] = r["success_time"]
            job = None
            if r["notify_url"]:
                job = self.notifier.new_job(
                    r["notify_url"], "refund", "REFUND." + status,
                    REFUND_SUMMARY[status], plain,
                    {"out_refund_no": r["out_refund_no"],
                     "out_trade_no": r["out_trade_no"]})
        out = {"refund": refund, "notification": None}
        if job:
            out["notification"] = self.notifier.deliver(job)
        return out

    def sim_notifications(self, q):
        with self.state.lock:
            items = list(self.state.notifications)
        for key in ("out_trade_no", "out_refund_no", "event_type"):
            if q.get(key):
                items = [n for n in items if n.get(key) == q[key]]
        return {"notifications": items}

    def sim_state(self):
        with self.state.lock:
            return {"orders": {k: self.transaction(o)
                               for k, o in self.state.orders.items()},
                    "refunds": {k: self.refund_object(r)
                                for k, r in self.state.refunds.items()}}

    def sim_reset(self):
        self.notifier.reset()
        with self.state.lock:
            self.state.clear()
            self.state.save()
        return {"reset": True}


# --- HTTP -------------------------------------------------------------------------

V3_ORDER_RE = re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)")
V3_TXN_RE = re.compile(r"/v3/pay/transactions/id/([^/]+)")
V3_CLOSE_RE = re.compile(r"/v3/pay/transactions/out-trade-no/([^/]+)/close")
V3_REFUND_RE = re.compile(r"/v3/refund/domestic/refunds/([^/]+)")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive for libcurl
    wx = None                           # the WeChat instance, set in main()

    def version_string(self):
        return "wechat-sim"
    def log_message(self, fmt, *args):  # our own log, without query strings
        pass

    # -- plumbing ----------------------------------------------------------------

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass            # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if body or status != 204:
            self.send_header("Content-Type", ctype)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)
        self.wx.log("%s %s -> %d" % (self.command, self.path.split("?")[0],
                                     status))

    def _send_v3(self, status, obj):
        """A Pay v3 answer, signed with the platform key like WeChat's."""
        body = dumps(obj) if obj is not None else b""
        ts = str(int(time.time()))
        nonce = wxcrypto.random_nonce(32)
        sig = wxcrypto.rsa_sign(self.wx.cfg.platform_key,
                                wxcrypto.response_message(ts, nonce, body))
        self._send(status, body, extra={
            "Request-ID": secrets.token_hex(20).upper(),
            "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sig,
            "Wechatpay-Serial": self.wx.cfg.platform_serial,
            "Wechatpay-Signature-Type": wxcrypto.AUTH_SCHEME})

    def _send_wx(self, obj):
        # api.weixin.qq.com answers 200 even for errors, with this type.
        self._send(200, dumps(obj), "application/json; encoding=utf-8")

    def _send_sim(self, status, obj):
        self._send(status, dumps(obj), "application/json; charset=utf-8")

    def _query(self):
        qs = urlsplit(self.path).query
        return {k: v[0] for k, v in
                parse_qs(qs, keep_blank_values=True).items()}

    # -- dispatch ----------------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _dispatch(self, method):
        try:
            body = self._read_body()
        except ValueError:
            self._send_sim(400, {"code": "PARAM_ERROR",
                                 "message": "bad request body framing"})
            self.close_connection = True
            return
        path = urlsplit(self.path).path
        try:
            if path.startswith("/v3/"):
                self._v3(method, path, body)
            elif path.startswith("/sim/"):
                self._sim(method, path, body)
            else:
                self._wx_api(method, path, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _wx_api(self, method, path, body):
        q = self._query()
        wx = self.wx
        if path == "/sns/jscode2session" and method == "GET":
            return self._send_wx(wx.jscode2session(q))
        if path == "/cgi-bin/token" and method == "GET":
            return self._send_wx(wx.token(q))
        if path == "/wxa/business/getuserphonenumber" and method == "POST":
            return self._send_wx(wx.phone_number(q, body))
        if path == "/cgi-bin/message/subscribe/send" and method == "POST":
            return self._send_wx(wx.subscribe_send(q, body))
        self._send(404, dumps(self.wx._wx_error(40066, "invalid url")),
                   "application/json; encoding=utf-8")

    def _v3(self, method, path, body):
        wx = self.wx
        try:
            auth = wx.authenticate(method, self.path, self.headers, body)
            data = None
            if method == "POST":
                try:
                    data = json.loads(body) if body else {}
                except ValueError:
                    raise ApiError(400, "PARAM_ERROR", "请求的body不是合法的JSON")
            if path == "/v3/pay/transactions/jsapi" and method == "POST":
                return self._send_v3(200, wx.jsapi(auth, data))
            if path == "/v3/refund/domestic/refunds" and method == "POST":
                return self._send_v3(200, wx.refund(data))
            m = V3_CLOSE_RE.fullmatch(path)
            if m and method == "POST":
                wx.close(m.group(1), data)
                return self._send_v3(204, None)
            m = V3_ORDER_RE.fullmatch(path)
            if m and method == "GET":
                return self._send_v3(200, wx.query(m.group(1), self._query()))
            m = V3_TXN_RE.fullmatch(path)
            if m and method == "GET":
                return self._send_v3(200, wx.query_by_id(m.group(1),
                                                         self._query()))
            m = V3_REFUND_RE.fullmatch(path)
            if m and method == "GET":
                return self._send_v3(200, wx.refund_query(m.group(1)))
            if path == "/v3/bill/tradebill" and method == "GET":
                return self._send_v3(200, wx.trade_bill(self._query()))
            if path == "/v3/billdownload/file" and method == "GET":
                # WeChat does not sign the file: the caller checks its hash
                return self._send(200, wx.bill_file(self._query()),
                                  "application/octet-stream")
            raise ApiError(404, "NOT_FOUND", "请求的资源不存在")
        except ApiError as e:
            self._send_v3(e.status, e.body())

    def _sim(self, method, path, body):
        wx = self.wx
        try:
            if method == "GET":
                if path == "/sim/health":
                    return self._send_sim(200, {"status": "ok"})
                if path == "/sim/notifications":
                    return self._send_sim(200,
                                          wx.sim_notifications(self._query()))
                if path == "/sim/state":
                    return self._send_sim(200, wx.sim_state())
                if path == "/sim/messages":
                    return self._send_sim(200, wx.sim_messages(self._query()))
                raise SimError(404, "NOT_FOUND", "unknown simulator endpoint")
            if method != "POST":
                raise SimError(405, "METHOD_NOT_ALLOWED", "use GET or POST")
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                raise SimError(400, "PARAM_ERROR", "body is not JSON")
            if not isinstance(data, dict):
                raise SimError(400, "PARAM_ERROR", "body must be an object")
            routes = {"/sim/pay": wx.sim_pay,
                      "/sim/renotify": wx.sim_renotify,
                      "/sim/refund-result": wx.sim_refund_result,
                      "/sim/notify-signtest": wx.sim_signtest,
                      "/sim/message-fault": wx.sim_message_fault,
                      "/sim/pay-fault": wx.sim_pay_fault,
                      "/sim/invalidate-token": wx.sim_invalidate_token}
            if path == "/sim/reset":
                return self._send_sim(200, wx.sim_reset())
            if path not in routes:
                raise SimError(404, "NOT_FOUND", "unknown simulator endpoint")
            return self._send_sim(200, routes[path](data))
        except SimError as e:
            self._send_sim(e.status, {"code": e.code, "message": e.message})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_logger(path):
    lock = threading.Lock()
    f = open(path, "a", buffering=1) if path else None

    def log(line):
        if f:
            with lock:
                f.write("%s %s\n" % (now_rfc3339(), line))
    return log


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys-dir", help="gen_keys.sh output; fills unset "
                    "options below from its files")
    ap.add_argument("--appid")
    ap.add_argument("--secret")
    ap.add_argument("--mchid")
    ap.add_argument("--merchant-cert-serial")
    ap.add_argument("--merchant-public-key", help="PEM public key or cert")
    ap.add_argument("--platform-private-key")
    ap.add_argument("--platform-serial",
                    help="certificate serial or PUB_KEY_ID_... id")
    ap.add_argument("--apiv3-key-file")
    ap.add_argument("--state-file")
    ap.add_argument("--log")
    ap.add_argument("--single-use-codes", action="store_true",
                    help="login/phone codes work once, as in production")
    ap.add_argument("--retry-scale", type=float, default=1.0,
                    help="multiply WeChat's retry delays (e.g. 0.01)")
    ap.add_argument("--notify-cafile",
                    help="CA for https notify_urls (default: not verified)")
    a = ap.parse_args(argv)
    if a.keys_dir:
        apply_keys_dir(a)
    missing = [n for n in ("appid", "secret", "mchid", "merchant_cert_serial",
                           "merchant_public_key", "platform_private_key",
                           "platform_serial", "apiv3_key_file")
               if not getattr(a, n)]
    if missing:
        ap.error("missing: " + ", ".join("--" + n.replace("_", "-")
                                         for n in missing))
    cfg = Config(a)
    log = make_logger(a.log)
    Handler.wx = WeChat(cfg, State(a.state_file), log)
    srv = Server(("127.0.0.1", a.port), Handler)
    cfg.port = srv.server_address[1]        # download_url (with --port 0)
    print("wechat-sim listening on 127.0.0.1:%d" % srv.server_address[1],
          flush=True)
    log("listening on 127.0.0.1:%d" % srv.server_address[1])
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
