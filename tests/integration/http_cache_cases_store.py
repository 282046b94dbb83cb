"""Conformance cases of the edge cache, part 2 (issue 26 items 5-7): what
is stored (statuses, hop-by-hop fields, content codings, Set-Cookie,
Vary variants, Authorization), invalidation by unsafe methods, ranges.
The case format is described in http_cache_cases.py.
"""

import gzip

from http_cache_cases import CC, HIT, LM, case, not_reused, origin, req, \
    reused

# ------------------------------------------------------- 5. what is stored

STATUSES = [
    case("status-301", "RFC 9111 §3, RFC 9110 §15.4.2",
         "301 with max-age=60 is stored, Location kept",
         origin=[origin(301, "moved", [CC("max-age=60"),
                                       ("Location", "/new-home")]),
                 origin(200, "v2")],
         steps=[req(status=301, body="moved", origin=1),
                req(status=301, body="moved",
                    headers={"Location": "/new-home"}, **HIT)]),
    reused("status-308-heuristic", "RFC 9111 §4.2.2, RFC 9110 §15.1",
           "308 is heuristically cacheable: Last-Modified alone stores it",
           [("Last-Modified", LM), ("Location", "/new-home")], status=308),
    reused("status-404", "RFC 9111 §3, RFC 9110 §15.5.5",
           "404 with max-age=60 is stored (negative caching)",
           [CC("max-age=60")], status=404),
    reused("status-404-heuristic", "RFC 9111 §4.2.2, RFC 9110 §15.1",
           "404 is heuristically cacheable from Last-Modified",
           [("Last-Modified", LM)], status=404),
    reused("status-410", "RFC 9111 §3, RFC 9110 §15.5.11",
           "410 with max-age=60 is stored",
           [CC("max-age=60")], status=410),
    reused("status-302-explicit", "RFC 9111 §3",
           "302 with explicit freshness (max-age=60) is stored",
           [CC("max-age=60"), ("Location", "/elsewhere")], status=302),
    reused("status-204", "RFC 9111 §3, RFC 9110 §15.1",
           "204 with max-age=60 is stored",
           [CC("max-age=60")], status=204),
    case("never-1xx", "RFC 9111 §3",
         "a 1xx is never stored (nginx 1.22's proxy passes an origin's 103 "
         "on as the final answer): the next client gets the origin's 200",
         origin=[origin(200, "v1", [CC("max-age=60")],
                        interim=[(103, [("Link", "</s.css>; rel=preload"),
                                        CC("max-age=60")])]),
                 origin(200, "v2", [CC("max-age=60")])],
         steps=[req(origin=1),
                req(interim=[], status=200, body="v2", origin=1),
                req(interim=[], status=200, body="v2", **HIT)]),
]


def ranged(request):
    """206 for a Range request, else the whole 200 (Content-Range as the
    origin would send it)."""
    full = b"0123456789"
    if request.get("Range"):
        return origin(206, full[:4], [CC("max-age=60"),
                                      ("Content-Range", "bytes 0-3/10")])
    return origin(200, full, [CC("max-age=60")])


NEVER_206 = [
    case("never-206", "RFC 9111 §3, §3.3",
         "a 206 for a client's Range is never served as the full response",
         origin=[ranged],
         steps=[req(client=[("Range", "bytes=0-3")], status=(200, 206)),
                req(status=200, body=b"0123456789")]),
]

HOP_BY_HOP = [
    case("hop-by-hop-dropped", "RFC 9111 §3.1, RFC 9110 §7.6.1",
         "Connection-listed and hop-by-hop fields are not stored; others are",
         origin=[origin(200, "v1", [
             CC("max-age=60"), ("Connection", "close, X-Conn-Listed"),
             ("X-Conn-Listed", "secret"), ("Keep-Alive", "timeout=5"),
             ("Proxy-Connection", "keep-alive"),
             ("Proxy-Authenticate", 'Basic realm="x"'),
             ("Proxy-Authentication-Info", "nextnonce=1"),
             ("Upgrade", "h2c"), ("X-Kept", "1")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", headers={
                    "X-Kept": "1", "X-Conn-Listed": None, "Keep-Alive": None,
                    "Proxy-Connection": None, "Proxy-Authenticate": None,
                    "Proxy-Authentication-Info": None, "Upgrade": None},
                    **HIT)]),
]

PLAIN = b"plain text body " * 20
GZ = gzip.compress(PLAIN, mtime=0)


def by_encoding(request):
    """gzip for clients that ask for it (Vary: Accept-Encoding)."""
    h = [CC("max-age=60"), ("Vary", "Accept-Encoding")]
    if "gzip" in (request.get("Accept-Encoding") or ""):
        return origin(200, GZ, h + [("Content-Encoding", "gzip")])
    return origin(200, PLAIN, h)


CODINGS = [
    case("content-encoding-as-is", "RFC 9111 §3, RFC 9110 §8.4",
         "a gzip response is stored as received (same bytes, same "
         "Content-Encoding) and served to gzip clients",
         origin=[by_encoding],
         steps=[req(client=[("Accept-Encoding", "gzip")], body=GZ,
                    origin=1),
                req(client=[("Accept-Encoding", "gzip")], body=GZ,
                    headers={"Content-Encoding": "gzip"}, **HIT)]),
    case("content-encoding-not-to-identity", "RFC 9110 §12.5.3, RFC 9111 §4.1",
         "a stored gzip response is not served to a client that does not "
         "accept gzip",
         origin=[by_encoding],
         steps=[req(client=[("Accept-Encoding", "gzip")], body=GZ,
                    origin=1),
                req(client=[("Accept-Encoding", "identity")], body=PLAIN,
                    headers={"Content-Encoding": None}),
                req(client=[("Accept-Encoding", "gzip;q=0, br")],
                    body=PLAIN, headers={"Content-Encoding": None})]),
]

COOKIES = [
    not_reused("set-cookie-bypass", "mall_cache_set_cookie bypass (default)",
               "by default a response with Set-Cookie is not stored",
               [CC("max-age=60"), ("Set-Cookie", "sid=1")]),
    case("set-cookie-store", "RFC 9111 §7.3, mall_cache_set_cookie store",
         "mall_cache_set_cookie store: stored and replayed with its "
         "Set-Cookie", loc="sc",
         origin=[origin(200, "v1", [CC("max-age=60"),
                                    ("Set-Cookie", "sid=1")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", headers={"Set-Cookie": "sid=1"}, **HIT)]),
    case("set-cookie-no-cache-qualified", "RFC 9111 §5.2.2.4",
         'no-cache="Set-Cookie": stored without Set-Cookie', loc="sc",
         origin=[origin(200, "v1", [CC('max-age=60, no-cache="Set-Cookie"'),
                                    ("Set-Cookie", "sid=1")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", headers={"Set-Cookie": None}, **HIT)]),
    case("set-cookie-private-qualified", "RFC 9111 §5.2.2.7",
         'private="Set-Cookie": stored without Set-Cookie', loc="sc",
         origin=[origin(200, "v1", [CC('max-age=60, private="Set-Cookie"'),
                                    ("Set-Cookie", "sid=1")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", headers={"Set-Cookie": None}, **HIT)]),
    case("private-qualified-field", "RFC 9111 §5.2.2.7",
         'private="X-Secret": the rest is stored, X-Secret is not',
         origin=[origin(200, "v1", [CC('max-age=60, private="X-Secret"'),
                                    ("X-Secret", "s"), ("X-Other", "o")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", headers={"X-Secret": None, "X-Other": "o"},
                    **HIT)]),
    case("no-cache-qualified-field", "RFC 9111 §5.2.2.4",
         'no-cache="X-Foo": stored, X-Foo is not reused (stripped)',
         origin=[origin(200, "v1", [CC('max-age=60, no-cache="X-Foo"'),
                                    ("X-Foo", "f"), ("X-Bar", "b")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", headers={"X-Foo": None, "X-Bar": "b"},
                    **HIT)]),
    not_reused("private-unqualified", "RFC 9111 §5.2.2.7",
               "private: a shared cache does not store it",
               [CC("private, max-age=60")]),
    not_reused("no-store", "RFC 9111 §5.2.2.5",
               "no-store: not stored", [CC("max-age=60, no-store")]),
]


def by_language(request):
    lang = request.get("Accept-Language") or "none"
    return origin(200, "body-" + lang, [CC("max-age=60"),
                                        ("Vary", "Accept-Language")])


def al(v):
    return [("Accept-Language", v)]


VARY = [
    case("vary-variants", "RFC 9111 §4.1",
         "two Accept-Language variants stored side by side",
         origin=[by_language],
         steps=[req(client=al("en"), body="body-en", origin=1),
                req(client=al("fr"), body="body-fr", origin=1),
                req(client=al("en"), body="body-en", **HIT),
                req(client=al("fr"), body="body-fr", **HIT)]),
    case("vary-bound-lru", "RFC 9111 §4.1, mall_cache_max_variants",
         "mall_cache_max_variants 2: a third variant evicts the least "
         "recently used one", loc="v2",
         origin=[by_language],
         steps=[req(client=al("en"), body="body-en", origin=1),
                req(client=al("fr"), body="body-fr", origin=1),
                req(client=al("de"), body="body-de", origin=1),
                req(client=al("fr"), body="body-fr", **HIT),
                req(client=al("de"), body="body-de", **HIT),
                req(client=al("en"), body="body-en", origin=1)]),
    case("vary-normalise-whitespace", "RFC 9111 §4.1",
         "selecting values that differ only in whitespace match",
         origin=[by_language],
         steps=[req(client=al("en-US, fr"), body="body-en-US, fr", origin=1),
                req(client=al("en-US,fr"), body="body-en-US, fr", **HIT),
                req(client=al("en-US ,   fr"), body="body-en-US, fr",
                    **HIT)]),
    case("vary-normalise-lines", "RFC 9111 §4.1, RFC 9110 §5.3",
         "two Accept-Language field lines match their combined value",
         origin=[by_language],
         steps=[req(client=al("en-US, fr"), body="body-en-US, fr", origin=1),
                req(client=[("Accept-Language", "en-US"),
                            ("Accept-Language", "fr")],
                    body="body-en-US, fr", **HIT)]),
    case("vary-normalise-language", "RFC 9111 §4.1, RFC 9110 §12.5.4",
         "Accept-Language is case-insensitive and ordered by weight: "
         "'FR, EN;q=0.5' matches 'en;q=0.5, fr'",
         origin=[by_language],
         steps=[req(client=al("en;q=0.5, fr"), body="body-en;q=0.5, fr",
                    origin=1),
                req(client=al("FR, EN;q=0.5"), body="body-en;q=0.5, fr",
                    **HIT)]),
    case("vary-language-weights-differ", "RFC 9111 §4.1",
         "normalisation keeps meaning: 'en, fr;q=0.5' does not match "
         "'en;q=0.5, fr'",
         origin=[by_language],
         steps=[req(client=al("en;q=0.5, fr"), body="body-en;q=0.5, fr",
                    origin=1),
                req(client=al("en, fr;q=0.5"), body="body-en, fr;q=0.5",
                    origin=1)]),
    case("vary-other-field", "RFC 9111 §4.1",
         "Vary on any request field (X-Device), not only Accept-Encoding; "
         "its values are not case-folded (its meaning is unknown)",
         origin=[lambda r: origin(200, "dev-" + (r.get("X-Device") or "-"),
                                  [CC("max-age=60"), ("Vary", "X-Device")])],
         steps=[req(client=[("X-Device", "a")], body="dev-a", origin=1),
                req(client=[("X-Device", "a")], body="dev-a", **HIT),
                req(client=[("X-Device", "b")], body="dev-b", origin=1),
                req(client=[("X-Device", "A")], body="dev-A", origin=1),
                req(body="dev--", origin=1),
                req(body="dev--", **HIT)]),
    case("vary-star", "RFC 9111 §4.1",
         "Vary: * never matches: every request goes to the origin",
         origin=[origin(200, "v1", [CC("max-age=60"), ("Vary", "*")]),
                 origin(200, "v2", [CC("max-age=60"), ("Vary", "*")])],
         steps=[req(body="v1", origin=1), req(body="v2", origin=1)]),
]

AUTH = [
    not_reused("auth-not-reused", "RFC 9111 §3.5",
               "a response to a request with Authorization is not reused "
               "without public, s-maxage or must-revalidate",
               [CC("max-age=60")], client=[("Authorization", "Basic dTpw")]),
    reused("auth-public", "RFC 9111 §3.5, §5.2.2.9",
           "Authorization + public: reused",
           [CC("public, max-age=60")],
           client=[("Authorization", "Basic dTpw")]),
    reused("auth-s-maxage", "RFC 9111 §3.5, §5.2.2.10",
           "Authorization + s-maxage: reused",
           [CC("s-maxage=60")], client=[("Authorization", "Basic dTpw")]),
    reused("auth-must-revalidate", "RFC 9111 §3.5, §5.2.2.2",
           "Authorization + must-revalidate (fresh): reused",
           [CC("max-age=60, must-revalidate")],
           client=[("Authorization", "Basic dTpw")]),
]

# -------------------------------------------------------- 6. invalidation


def invalidated(id, rfc, desc, method, status=200, resp_headers=(),
                target="", invalidates=True):
    """GET target (stored), <method> the case's path, GET target again."""
    stored = [origin(200, "v1", [CC("max-age=60")]),
              origin(200, "v2", [CC("max-age=60")])]
    write = origin(status, "done", list(resp_headers))
    if target:
        scripts = {"": [write], target: stored}
    else:
        scripts = {"": [stored[0], write, stored[1]]}
    after = req(path=target, body="v2", origin=1) if invalidates else \
        req(path=target, body="v1", **HIT)
    return case(id, rfc, desc, origin=scripts,
                steps=[req(path=target, body="v1", origin=1),
                       req(path=target, body="v1", **HIT),
                       req(method=method, data="{}", status=status, origin=1),
                       after])


INVALIDATION = [
    invalidated("inval-post", "RFC 9111 §4.4",
                "a 200 to POST invalidates the stored GET of its URI", "POST"),
    invalidated("inval-put", "RFC 9111 §4.4",
                "a 204 to PUT invalidates", "PUT", status=204),
    invalidated("inval-delete", "RFC 9111 §4.4",
                "a 200 to DELETE invalidates", "DELETE"),
    invalidated("inval-patch", "RFC 9111 §4.4",
                "a 200 to PATCH invalidates", "PATCH"),
    invalidated("inval-unknown-method", "RFC 9111 §4.4",
                "a 200 to an unknown method (FROB) invalidates", "FROB"),
    invalidated("inval-303", "RFC 9111 §4.4",
                "a 3xx (303) to POST invalidates", "POST", status=303,
                resp_headers=[("Location", "/somewhere")]),
    invalidated("inval-not-on-404", "RFC 9111 §4.4",
                "a 404 to POST does not invalidate (2xx/3xx only)", "POST",
                status=404, invalidates=False),
    invalidated("inval-not-on-500", "RFC 9111 §4.4",
                "a 500 to DELETE does not invalidate", "DELETE",
                status=500, invalidates=False),
    invalidated("inval-location", "RFC 9111 §4.4",
                "a POST answered 201 with a same-origin Location "
                "invalidates that URI", "POST", status=201,
                resp_headers=[("Location", "{base}/made")], target="/made"),
    invalidated("inval-content-location-absolute", "RFC 9111 §4.4",
                "an absolute same-origin Content-Location is invalidated",
                "PUT", resp_headers=[("Content-Location",
                                      "http://{edge}{base}/rep")],
                target="/rep"),
    invalidated("inval-location-cross-origin", "RFC 9111 §4.4",
                "a Location on another host is not invalidated", "POST",
                status=201, target="/kept", invalidates=False,
                resp_headers=[("Location",
                               "http://other.example{base}/kept")]),
    case("inval-all-variants", "RFC 9111 §4.4",
         "invalidation drops every Vary variant of the URI",
         origin=[lambda r: origin(200, "done") if r.method == "POST"
                 else by_language(r)],
         steps=[req(client=al("en"), body="body-en", origin=1),
                req(client=al("fr"), body="body-fr", origin=1),
                req(client=al("fr"), body="body-fr", **HIT),
                req(method="POST", data="{}", status=200, origin=1),
                req(client=al("en"), body="body-en", origin=1),
                req(client=al("fr"), body="body-fr", origin=1)]),
]

# --------------------------------------------------------------- 7. ranges

RBODY = b"abcdefghijklmnopqrstuvwxyz0123456789" * 3          # 108 bytes


def ranges(id, desc, spec, first, last):
    return case(id, "RFC 9110 §14.2, §15.3.7", desc,
                origin=[origin(200, RBODY, [CC("max-age=60")])],
                steps=[req(body=RBODY, origin=1),
                       req(client=[("Range", spec)], status=206,
                           body=RBODY[first:last + 1], headers={
                               "Content-Range": "bytes %d-%d/%d" % (
                                   first, last, len(RBODY))}, origin=0)])


RANGES = [
    ranges("range-single", "bytes=0-9 of a stored 108-byte body: 206 from "
           "the cache", "bytes=0-9", 0, 9),
    ranges("range-middle", "bytes=50-59", "bytes=50-59", 50, 59),
    ranges("range-suffix", "bytes=-10: the last 10 bytes", "bytes=-10",
           98, 107),
    ranges("range-open-ended", "bytes=100-: from 100 to the end",
           "bytes=100-", 100, 107),
    ranges("range-past-end", "bytes=100-500: clipped to the end",
           "bytes=100-500", 100, 107),
]

SECTIONS = [
    ("5. What is stored: statuses", STATUSES + NEVER_206),
    ("5. What is stored: fields, codings, Set-Cookie",
     HOP_BY_HOP + CODINGS + COOKIES),
    ("5. What is stored: Vary variants", VARY),
    ("5. What is stored: Authorization", AUTH),
    ("6. Invalidation", INVALIDATION),
    ("7. Ranges", RANGES),
]
CASES = [c for _, cases in SECTIONS for c in cases]
