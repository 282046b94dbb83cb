#!/usr/bin/python3
"""Setup of the pay_notify bench case.

  notify-setup.py REDIS_PORT KEYS_DIR COUNT HOST OUT_LIST

Creates COUNT unpaid orders straight in Redis (the fields a payment reads
and writes: owner, status, items, total, deadline) and writes OUT_LIST, the
mall-load --request-list file of one WeChat Pay TRANSACTION.SUCCESS
notification per order, as WeChat sends it: the transaction object
encrypted with the APIv3 key (AEAD_AES_256_GCM), the body signed with the
platform key (Wechatpay-Signature over timestamp, nonce and body). Signing
is RSA-2048 private-key work, spread over the cores.

Every notification is fresh (another order), so each one the workers take
is a verify, a decrypt and a state change unpaid -> paid. The timestamps
are those of now: the bench's worker config accepts them for an hour.
"""
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "wechat_sim"))
import wxcrypto  # noqa: E402  (the simulator's signer and AEAD)

CST = timezone(timedelta(hours=8))
USER = "bench-payer-1"
TOTAL = 5990
ITEMS = json.dumps([{"sku_id": 1, "product_id": 1, "name": "bench",
                     "image": "", "attrs": {}, "price_fen": 5190,
                     "quantity": 1, "subtotal_fen": 5190}])


def read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read().strip()


def order_ids(count):
    day = datetime.now(timezone.utc).strftime("%Y%m%d")
    return ["%sBN%014d" % (day, i) for i in range(count)]


def redis_orders(port, ids):
    """The orders, as RESP commands through redis-cli --pipe."""
    now = int(time.time())
    out = []

    def cmd(*args):
        out.append("*%d\r\n" % len(args))
        for a in args:
            a = str(a).encode()
            out.append("$%d\r\n" % len(a))
            out.append(a.decode() + "\r\n")

    for i, oid in enumerate(ids):
        cmd("HSET", "mall:order:" + oid, "id", oid, "user_id", USER,
            "status", "unpaid", "items", ITEMS, "items_fen", 5190,
            "shipping_fen", 800, "discount_fen", 0, "total_fen", TOTAL,
            "created_at", now, "created_ms", now * 1000 + i,
            "pay_deadline", now + 7200, "updated_at", now)
        cmd("ZADD", "mall:user:%s:orders:unpaid" % USER, now * 1000 + i, oid)
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port),
                    "--pipe"], input="".join(out).encode(), check=True,
                   capture_output=True)


K = {}


def load_keys(keys, host):
    """Pool initializer: each process reads the keys once."""
    K.update(key=wxcrypto.load_private_key(
                 os.path.join(keys, "platform_private.pem")),
             apiv3=read(keys, "apiv3.key"), appid=read(keys, "appid"),
             mchid=read(keys, "mchid"), serial=read(keys, "platform_serial"),
             host=host)


def notification(oid):
    key, apiv3, host = K["key"], K["apiv3"], K["host"]
    now = datetime.now(CST).isoformat(timespec="seconds")
    txn = {"appid": K["appid"], "mchid": K["mchid"],
           "out_trade_no": oid,
           "transaction_id": "4200" + secrets.token_hex(12),
           "trade_type": "JSAPI", "trade_state": "SUCCESS",
           "trade_state_desc": "支付成功", "bank_type": "OTHERS",
           "attach": "", "success_time": now,
           "payer": {"openid": "o" + secrets.token_hex(13)},
           "amount": {"total": TOTAL, "payer_total": TOTAL,
                      "currency": "CNY", "payer_currency": "CNY"},
           "promotion_detail": []}
    nonce = secrets.token_hex(6)
    body = json.dumps({
        "id": "EV-" + secrets.token_hex(8), "create_time": now,
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction",
                     "algorithm": "AEAD_AES_256_GCM",
                     "ciphertext": wxcrypto.aead_encrypt(
                         apiv3, nonce, "transaction",
                         json.dumps(txn, ensure_ascii=False)),
                     "associated_data": "transaction", "nonce": nonce}},
        ensure_ascii=False).encode()
    ts = str(int(time.time()))
    wnonce = wxcrypto.random_nonce(32)
    sig = wxcrypto.rsa_sign(key, wxcrypto.response_message(ts, wnonce, body))
    head = ("POST /api/v1/payments/wechat/notify HTTP/1.1\r\nHost: %s\r\n"
            "Content-Type: application/json\r\nWechatpay-Timestamp: %s\r\n"
            "Wechatpay-Nonce: %s\r\nWechatpay-Signature: %s\r\n"
            "Wechatpay-Serial: %s\r\nWechatpay-Signature-Type: %s\r\n"
            "Content-Length: %d\r\n\r\n"
            % (host, ts, wnonce, sig, K["serial"],
               wxcrypto.AUTH_SCHEME, len(body))).encode()
    req = head + body
    return b"%d\n" % len(req) + req


def main():
    port, keys, count, host, out = sys.argv[1:6]
    ids = order_ids(int(count))
    redis_orders(port, ids)
    with multiprocessing.Pool(os.cpu_count() or 1, load_keys,
                              (keys, host)) as pool, open(out, "wb") as f:
        for rec in pool.imap(notification, ids, chunksize=256):
            f.write(rec)
    print(json.dumps({"orders": len(ids), "list": out}))


if __name__ == "__main__":
    main()
