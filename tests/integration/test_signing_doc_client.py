"""The signing issue's "done when": a client written only from
docs/signing.md places signed orders through the edge.

The mini-program JavaScript is taken from the doc itself (the block under
"JavaScript for the mini-program"), so the doc cannot drift from what the
edge accepts; doc_client/place-order.js drives it with Node's http module as
a mini-program drives wx.request: log in, add an address, order, retry with
the same Idempotency-Key, read the order back.
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, client_ip

DOC = os.path.join(ROOT, "docs", "signing.md")
CLIENT = os.path.join(os.path.dirname(__file__), "doc_client",
                      "place-order.js")


def doc_js_module():
    """The first ```js block after the mini-program heading of the doc."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    head = text.index("## JavaScript for the mini-program")
    m = re.compile(r"```js\n(.*?)```", re.S).search(text, head)
    assert m, "docs/signing.md lost its JavaScript block"
    return m.group(1)


def in_stock_sku(stack):
    """A SKU with stock to spare, and its price, from the public catalog."""
    page = stack.get("/api/v1/products?sort=sales&size=20").json()
    for item in page["items"]:
        detail = stack.get("/api/v1/products/%s" % item["id"]).json()
        for sku in detail["skus"]:
            if int(sku.get("stock", 0)) >= 20:
                return sku
    pytest.fail("no SKU with stock in the demo catalog")


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_doc_client_places_a_signed_order(stack, tmp_path):
    (tmp_path / "mall-sign.js").write_text(doc_js_module(), encoding="utf-8")
    shutil.copy(CLIENT, tmp_path / "place-order.js")

    sku = in_stock_sku(stack)
    stock_before = int(stack.redis("HGET", "mall:sku:%s" % sku["sku_id"],
                                   "stock").strip())

    r = subprocess.run(["node", str(tmp_path / "place-order.js"), stack.edge,
                        client_ip(), "doc-client-" + os.urandom(4).hex(),
                        str(sku["sku_id"])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)

    assert out["login"]["status"] == 200, out["login"]
    assert out["address"]["status"] == 201, out["address"]

    order = out["order"]
    assert order["status"] == 201, order
    body = order["body"]
    assert body["status"] == "unpaid"
    # priced by the worker from the catalog, never by the client
    assert body["items_fen"] == 2 * int(sku["price_fen"])
    assert body["total_fen"] == (body["items_fen"] + body["shipping_fen"]
                                 - body["discount_fen"])
    assert body["pay_deadline"] > body["created_at"]

    # the retry is freshly signed (new nonce) and names the same order
    assert out["retry"]["status"] == 200, out["retry"]
    assert out["retry"]["body"]["order_id"] == body["order_id"]

    assert out["detail"]["status"] == 200, out["detail"]
    assert out["detail"]["body"]["order_id"] == body["order_id"]
    assert out["detail"]["body"]["status"] == "unpaid"

    # stock reserved once, for the one order
    stock_after = int(stack.redis("HGET", "mall:sku:%s" % sku["sku_id"],
                                  "stock").strip())
    assert stock_after == stock_before - 2
