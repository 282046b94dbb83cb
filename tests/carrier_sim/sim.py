#!/usr/bin/python3
"""Carrier-tracking simulator: a test double of a Kuaidi100-style query API.

It speaks the real wire protocol of Kuaidi100's real-time query
(实时快递查询, see README.md beside this file):

    POST /poll/query.do   application/x-www-form-urlencoded
        customer=<id>&sign=<upper(md5(param + key + customer))>&param=<JSON>
    param = {"com": "<company code>", "num": "<tracking no>", "phone"?: ...}

answered with HTTP 200 and JSON: the tracking data
{"message":"ok","nu","ischeck","condition","com","status":"200","state",
"data":[{"time","ftime","context","location"}...]} (newest first), or the
error form {"result":false,"returnCode":"...","message":"..."}.  The sign
is checked over the exact bytes of param as sent.  /sim/* endpoints let
tests plant timelines, make the carrier fail and count queries.
DEV/TEST ONLY: its customer id and key are dev values (build/keys/carrier).
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

CST = timezone(timedelta(hours=8))          # carriers' clock: Beijing time
# Company codes the simulated account may query (a few of Kuaidi100's).
COMPANIES = {"shunfeng", "shunfengkuaiyun", "yuantong", "zhongtong", "yunda",
             "shentong", "ems", "youzhengguonei", "jd", "jtexpress",
             "debangkuaidi", "huitongkuaidi", "zhaijisong", "manual_test"}
NUM_RE = re.compile(r"[0-9A-Za-z\-]{1,32}")
# SF Express wants the receiver's (or sender's) phone, or its last 4 digits
PHONE_RE = re.compile(r"[0-9\-]{4,20}")
# Kuaidi100's returnCode values and their messages.
ERRORS = {
    "400": "找不到对应公司",                # incomplete data / unknown company
    "408": "电话号码校验不通过",            # phone check failed
    "500": "查询无结果，请隔段时间再查",    # no tracking (yet)
    "501": "服务器错误",
    "502": "服务器繁忙",
    "503": "验证签名失败",
    "601": "POLL:KEY已过期或不存在",
}
# The generated route of a parcel: (hours after pickup, state, text, place)
ROUTE = (
    (0, "1", "【深圳市】 快件已由【深圳福田营业点】揽收", "深圳市"),
    (5, "0", "【深圳市】 快件已发往【上海转运中心】", "深圳市"),
    (20, "0", "【上海市】 快件已到达【上海转运中心】", "上海市"),
    (26, "5", "【上海市】 快件交给王师傅，正在派送途中（联系电话：13800000000）",
     "上海市"),
)


def ftime(ts):
    return datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%d %H:%M:%S")


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def kd100_sign(param, key, customer):
    """upper(hex(md5(param + key + customer))), over UTF-8 bytes."""
    return hashlib.md5((param + key + customer).encode()).hexdigest().upper()


class SimError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Carrier:
    def __init__(self, customer, key, log):
        self.customer, self.key, self.log = customer, key, log
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.tracks = {}        # (com, num) -> planted answer
            self.first_seen = {}    # (com, num) -> first query time
            self.fail = None        # {"returnCode"|"http"|"delay", "count"}
            self.queries = []       # every query: com, num, ok, code
            self.bad_sign = 0

    # -- the API -------------------------------------------------------------

    def query(self, form):
        """One /poll/query.do: (http status, body bytes)."""
        entry = {"at": time.time(), "com": None, "num": None, "code": None}
        with self.lock:
            self.queries.append(entry)
            fail = self._take_failure()
        try:
            if fail is not None and "delay" in fail:
                time.sleep(float(fail["delay"]))
            if fail is not None and "http" in fail:
                entry["code"] = "http%d" % fail["http"]
                return fail["http"], (b"<html><body>%d</body></html>"
                                      % fail["http"])
            com, num = self._check(form, entry)
            if fail is not None and "returnCode" in fail:
                raise SimError(200, str(fail["returnCode"]),
                               ERRORS.get(str(fail["returnCode"]), "error"))
            body = self._answer(com, num)
            entry["code"] = "200"
            return 200, dumps(body)
        except SimError as e:
            entry["code"] = e.code
            return 200, dumps({"result": False, "returnCode": e.code,
                               "message": e.message})

    def _take_failure(self):
        f = self.fail
        if f is None:
            return None
        if f.get("count"):
            f["count"] -= 1
            if f["count"] == 0:
                self.fail = None
        return f

    def _check(self, form, entry):
        for name in ("customer", "sign", "param"):
            if len(form.get(name, [])) != 1 or not form[name][0]:
                raise SimError(200, "400", "数据不完整: %s" % name)
        customer, sign, param = (form[n][0] for n in
                                 ("customer", "sign", "param"))
        if customer != self.customer:
            raise SimError(200, "601", ERRORS["601"])
        if not hmac.compare_digest(sign, kd100_sign(param, self.key,
                                                    customer)):
            with self.lock:
                self.bad_sign += 1
            raise SimError(200, "503", ERRORS["503"])
        try:
            p = json.loads(param)
        except ValueError:
            raise SimError(200, "400", "param不是合法的JSON")
        if not isinstance(p, dict):
            raise SimError(200, "400", "param不是合法的JSON")
        com, num = p.get("com"), p.get("num")
        entry["com"], entry["num"] = com, num
        entry["phone"] = p.get("phone")
        if not isinstance(com, str) or com not in COMPANIES:
            raise SimError(200, "400", ERRORS["400"])
        if not isinstance(num, str) or not NUM_RE.fullmatch(num):
            raise SimError(200, "400", "快递单号格式错误")
        phone = p.get("phone")
        if phone is not None and (not isinstance(phone, str)
                                  or not PHONE_RE.fullmatch(phone)):
            raise SimError(200, "408", ERRORS["408"])
        if com.startswith("shunfeng"):
            with self.lock:
                want = self.tracks.get((com, num), (None,) * 4)[3]
            if phone is None or (want and want[-4:] != phone[-4:]):
                raise SimError(200, "408", ERRORS["408"])
        return com, num

    def _answer(self, com, num):
        with self.lock:
            planted = self.tracks.get((com, num))
            first = self.first_seen.setdefault((com, num), time.time())
        if planted is not None:
            state, ischeck, events, _ = planted
        elif num.upper().startswith("NONE"):
            raise SimError(200, "500", ERRORS["500"])
        else:
            # a parcel picked up 30 hours before it was first asked about
            start = int(first) - 30 * 3600
            steps = [r for r in ROUTE if start + r[0] * 3600 <= time.time()]
            state = steps[-1][1]
            ischeck = "0"
            events = [{"time": ftime(start + h * 3600), "context": c,
                       "location": loc} for h, _, c, loc in steps]
            events.reverse()
        data = []
        for e in events:
            d = {"time": e["time"], "ftime": e["time"],
                 "context": e["context"]}
            if e.get("location") is not None:
                d["location"] = e["location"]
            data.append(d)
        return {"message": "ok", "nu": num, "ischeck": ischeck,
                "condition": "F00" if ischeck == "1" else "00", "com": com,
                "status": "200", "state": state, "data": data}

    # -- /sim/* --------------------------------------------------------------

    def sim_track(self, b):
        com, num = b.get("com"), b.get("num")
        events = b.get("events")
        if not isinstance(com, str) or not isinstance(num, str) \
                or not isinstance(events, list):
            raise SimError(400, "PARAM_ERROR", "com, num, events required")
        for e in events:
            if not isinstance(e, dict) or not isinstance(e.get("time"), str) \
                    or not isinstance(e.get("context"), str):
                raise SimError(400, "PARAM_ERROR",
                               "events: [{time, context, location?}]")
        # newest first, as the carrier answers
        events = sorted(events, key=lambda e: e["time"], reverse=True)
        with self.lock:
            self.tracks[(com, num)] = (str(b.get("state", "0")),
                                       "1" if b.get("ischeck") else "0",
                                       events, b.get("phone"))
        return {"ok": True}

    def sim_fail(self, b):
        if b.get("clear"):
            with self.lock:
                self.fail = None
            return {"ok": True}
        f = {"count": int(b.get("count", 0))}
        if "returnCode" in b:
            f["returnCode"] = str(b["returnCode"])
        elif "http" in b:
            f["http"] = int(b["http"])
        elif "delay" in b:
            f["delay"] = float(b["delay"])
        else:
            raise SimError(400, "PARAM_ERROR",
                           "returnCode, http or delay required")
        with self.lock:
            self.fail = f
        return {"ok": True}

    def sim_queries(self, q):
        with self.lock:
            qs = [e for e in self.queries
                  if "num" not in q or e["num"] == q["num"]]
            return {"total": len(qs), "bad_sign": self.bad_sign,
                    "queries": qs[-50:]}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive for libcurl
    carrier = None                      # set in main()

    def version_string(self):
        return "carrier-sim"

    def log_message(self, fmt, *args):
        pass

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, ctype="application/json;charset=UTF-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.carrier.log("%s %s -> %d" % (self.command,
                                          self.path.split("?")[0], status))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            return self._send(400, dumps({"message": "bad framing"}))
        u = urlsplit(self.path)
        try:
            if u.path == "/poll/query.do":
                return self._query(method, body)
            if u.path.startswith("/sim/"):
                return self._sim(method, u, body)
            self._send(404, b"<html><body>404 Not Found</body></html>",
                       "text/html")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _query(self, method, body):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if method != "POST" or ctype != "application/x-www-form-urlencoded":
            # Kuaidi100 reads the form only: anything else lacks the fields
            form = {}
        else:
            try:
                form = parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                strict_parsing=bool(body))
            except (UnicodeDecodeError, ValueError):
                form = {}
        status, out = self.carrier.query(form)
        ctype = "application/json;charset=UTF-8" if status == 200 \
            else "text/html"
        self._send(status, out, ctype)

    def _sim(self, method, u, body):
        c = self.carrier
        try:
            if method == "GET":
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                if u.path == "/sim/health":
                    return self._send(200, dumps({"status": "ok"}))
                if u.path == "/sim/queries":
                    return self._send(200, dumps(c.sim_queries(q)))
                raise SimError(404, "NOT_FOUND", "unknown simulator endpoint")
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                raise SimError(400, "PARAM_ERROR", "body is not JSON")
            if not isinstance(data, dict):
                raise SimError(400, "PARAM_ERROR", "body must be an object")
            if u.path == "/sim/reset":
                c.reset()
                return self._send(200, dumps({"ok": True}))
            routes = {"/sim/track": c.sim_track, "/sim/fail": c.sim_fail}
            if u.path not in routes:
                raise SimError(404, "NOT_FOUND", "unknown simulator endpoint")
            return self._send(200, dumps(routes[u.path](data)))
        except SimError as e:
            self._send(e.status, dumps({"code": e.code,
                                        "message": e.message}))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_logger(path):
    lock = threading.Lock()
    f = open(path, "a", buffering=1) if path else None

    def log(line):
        if f:
            with lock:
                f.write("%s %s\n" % (ftime(time.time()), line))
    return log


def read_line(path):
    with open(path) as f:
        return f.read().strip()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keys-dir", help="a dir with files customer and key "
                    "(lua-free-scripts/mall-keys.sh makes build/keys/carrier)")
    ap.add_argument("--customer-file")
    ap.add_argument("--key-file")
    ap.add_argument("--log")
    a = ap.parse_args(argv)
    if a.keys_dir:
        a.customer_file = a.customer_file or os.path.join(a.keys_dir,
                                                          "customer")
        a.key_file = a.key_file or os.path.join(a.keys_dir, "key")
    if not a.customer_file or not a.key_file:
        ap.error("--keys-dir, or --customer-file and --key-file, required")
    log = make_logger(a.log)
    Handler.carrier = Carrier(read_line(a.customer_file),
                              read_line(a.key_file), log)
    srv = Server(("127.0.0.1", a.port), Handler)
    print("carrier-sim listening on 127.0.0.1:%d" % srv.server_address[1],
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
