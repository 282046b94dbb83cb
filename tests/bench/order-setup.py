#!/usr/bin/python3
"""Setup and oversell check of the order_create bench case.

  order-setup.py setup EDGE_PORT HOST REDIS_PORT TOKEN SIGN_KEY STATE BODY
  order-setup.py check REDIS_PORT STATE

setup: adds an address for the bench user through the edge (a signed POST,
as a shopper would), gives one demo SKU a stock no run can exhaust, writes
the order body the load generator sends (one unit of that SKU) to BODY and
what it did to STATE (JSON).

check: compares the orders the bench user holds now with the stock the SKU
lost since setup. Every order takes exactly one unit, so the two must be
equal: more orders than units would be an oversell, fewer a leaked
reservation. Prints one JSON line; exits 1 on a mismatch.
"""
import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from mall_client import sign_headers  # noqa: E402  (the tests' signer)

BENCH_USER = "bench-user-1"         # mint-token.py's default subject
STOCK = 100_000_000


def redis(port, *args):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port),
                          *map(str, args)], check=True, capture_output=True,
                         text=True).stdout
    return out.strip()


def add_address(edge_port, host, token, sign_key):
    body = json.dumps({"name": "压测", "phone": "13800138000",
                       "province": "广东省", "city": "深圳市",
                       "district": "南山区", "detail": "科技园路 1 号",
                       "is_default": True}).encode()
    headers = {"Host": host, "Authorization": "Bearer " + token,
               "Content-Type": "application/json"}
    headers.update(sign_headers(sign_key, "POST", "/api/v1/addresses", body))
    req = urllib.request.Request("http://127.0.0.1:%s/api/v1/addresses"
                                 % edge_port, data=body, headers=headers,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["address_id"]


def orders_held(port):
    return int(redis(port, "ZCARD", "mall:user:%s:orders" % BENCH_USER))


def setup(edge_port, host, redis_port, token, sign_key, state, body):
    address_id = add_address(edge_port, host, token, sign_key)
    sku = min(int(k.split(":")[2]) for k in
              redis(redis_port, "KEYS", "mall:sku:*").split()
              if k.count(":") == 2 and k.split(":")[2].isdigit())
    redis(redis_port, "HSET", "mall:sku:%d" % sku, "stock", STOCK)
    with open(body, "w") as f:
        json.dump({"items": [{"sku_id": sku, "quantity": 1}],
                   "address_id": address_id, "coupon": None,
                   "remark": "bench"}, f)
    with open(state, "w") as f:
        json.dump({"sku": sku, "stock": STOCK,
                   "orders": orders_held(redis_port)}, f)


def check(redis_port, state):
    with open(state) as f:
        s = json.load(f)
    stock = int(redis(redis_port, "HGET", "mall:sku:%d" % s["sku"], "stock"))
    orders = orders_held(redis_port) - s["orders"]
    units = s["stock"] - stock
    ok = orders == units
    print(json.dumps({"orders": orders, "units_sold": units,
                      "consistent": ok}))
    return 0 if ok else 1


def main():
    if len(sys.argv) == 9 and sys.argv[1] == "setup":
        setup(*sys.argv[2:])
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        return check(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
