"""The signature replay cache under a flood (issue 20, finding 4).

Nonces used to go to the slice `timestamp % nslices`, and the timestamp is
the client's: a few accounts signing valid requests with a victim's
timestamp filled the victim's slice, the eviction code dropped the victim's
live nonce, and the captured request replayed. Now a nonce is placed by a
keyed hash, is never dropped before its window ends, a full place answers
503 UNAVAILABLE (fail closed) and each user may hold only its per_user share
of the zone (429 RATE_LIMITED beyond it).

Each test runs a private nginx (module only) with a deliberately tiny
mall_sign_zone, through the real request path: token, signature, nonce.
"""

import http.client
import json
import re
import time

from edge_harness import running_edge
from mall_client import derive_sign_key, read_secret, sign_headers

CONF = """
%(main)s
events { worker_connections 256; }
http {
    access_log off;
%(temp_paths)s
    mall_auth_zone t_auth:1m;
    mall_auth_key k1 ES256 %(dir)s/jwt-k1.pub.pem;
    mall_auth_issuer mall-edge;
    mall_auth_audience mall-mini;
    mall_sign_secret s1 %(dir)s/sign-s1.key;
    mall_sign_zone t_nonce:32k PER_USER;
    mall_edge_key e1 %(dir)s/edge-e1.key;

    server {
        listen 127.0.0.1:%(edge)d;
        location /api/ {
            mall_auth required;
            mall_sign required;
%(forward)s
            proxy_pass http://127.0.0.1:%(echo)d;
        }
    }

    server {
        listen 127.0.0.1:%(echo)d;
        mall_request_id off;
        location / {
            return 200 '{"ok":true}';
        }
    }
}
"""

TARGET = "/api/orders"
BODY = b'{"items":[{"sku_id":"1","quantity":1}]}'


def conf(per_user):
    return CONF.replace("PER_USER", per_user)


class User:
    """A token of its own (sub), its sign key, a keep-alive connection."""

    def __init__(self, edge, sub):
        self.tok, c = edge.token(sub=sub)
        self.key = derive_sign_key(read_secret(edge.key("sign-s1.key")),
                                   c["jti"])
        self.conn = http.client.HTTPConnection("127.0.0.1", edge.edge_port,
                                               timeout=10)

    def headers(self, ts=None):
        h = sign_headers(self.key, "POST", TARGET, BODY, ts=ts)
        h["Authorization"] = "Bearer " + self.tok
        h["Content-Type"] = "application/json"
        return h

    def send(self, h):
        self.conn.request("POST", TARGET, body=BODY, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, r.getheader("Retry-After"), data

    def close(self):
        self.conn.close()


def code_of(data):
    """The contract error's code, or None for a success body."""
    return json.loads(data).get("error", {}).get("code")


def capacity(edge):
    m = re.search(r'mall_sign_zone "t_nonce": room for (\d+) nonces'
                  r'(?:, (\d+))?', edge.log())
    assert m, edge.log()
    return int(m.group(1)), int(m.group(2) or 0)


def test_flood_with_victims_timestamp_cannot_evict_its_nonce():
    with running_edge(conf("per_user=off")) as edge:
        cap, per_user = capacity(edge)
        assert per_user == 0 and 500 < cap < 4096, (cap, per_user)

        victim = User(edge, "victim")
        ts = int(time.time())
        captured = victim.headers(ts=ts)
        assert victim.send(captured)[0] == 200

        # accounts of the attacker sign valid requests with the victim's
        # timestamp, three times what the zone holds
        attackers = [User(edge, "mallory%d" % i) for i in range(4)]
        status = {}
        unavailable = None
        for i in range(3 * cap):
            st, retry, data = attackers[i % 4].send(
                attackers[i % 4].headers(ts=ts))
            status[st] = status.get(st, 0) + 1
            if st == 503 and unavailable is None:
                unavailable = (retry, data)
        for a in attackers:
            a.close()

        # the captured request is still a replay, not a new order
        st, _, data = victim.send(dict(captured))
        assert (st, code_of(data)) == (401, "REPLAYED"), (st, data)
        victim.close()

        # never more nonces recorded than the zone holds, then fail closed
        assert status.get(200, 0) <= cap, status
        assert set(status) <= {200, 503}, status
        assert unavailable is not None, status
        retry, data = unavailable
        assert code_of(data) == "UNAVAILABLE"
        assert retry is not None and 1 <= int(retry) <= 2 * 300 + 1, retry


        assert 'mall_sign_zone "t_nonce" is full' in edge.log()


def test_per_user_share_and_replay_across_reload():
    with running_edge(conf("per_user=20")) as edge:
        assert capacity(edge)[1] == 20

        greedy = User(edge, "greedy")
        sent = []
        for _ in range(20):
            h = greedy.headers()
            sent.append(h)
            assert greedy.send(h)[0] == 200
        st, retry, data = greedy.send(greedy.headers())
        assert (st, code_of(data)) == (429, "RATE_LIMITED"), (st, data)
        assert retry is not None and int(retry) >= 1

        # a replay is still called a replay, past the share too
        st, _, data = greedy.send(dict(sent[0]))
        assert (st, code_of(data)) == (401, "REPLAYED"), (st, data)

        # another user is not affected; a second token of the same user is
        # (the share is per user, not per token)
        other = User(edge, "other")
        assert other.send(other.headers())[0] == 200
        again = User(edge, "greedy")
        st, _, data = again.send(again.headers())
        assert (st, code_of(data)) == (429, "RATE_LIMITED"), (st, data)
        greedy.close()
        again.close()
        other.close()

        # the seed and the nonces survive a reload of the same zone size
        edge.reload()
        other = User(edge, "other")
        fresh = other.headers()
        assert other.send(dict(fresh))[0] == 200
        old = User(edge, "greedy")
        old.key, old.tok = greedy.key, greedy.tok
        st, _, data = old.send(dict(sent[1]))
        assert (st, code_of(data)) == (401, "REPLAYED"), (st, data)
        other.close()
        old.close()
