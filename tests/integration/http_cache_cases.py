"""Conformance cases of the edge cache, part 1 (issue 26 items 1-4):
freshness, Age and Date, revalidation, clients' conditional requests.
Part 2 (what is stored, variants, Authorization, invalidation, ranges) is
in http_cache_cases_store.py. test_http_cache_conformance.py runs both.

A case is a dict:
  id      short name, unique (also the path prefix /<loc>/<run>-<id>)
  rfc     the requirement's section(s), e.g. "RFC 9111 §4.2.1"
  desc    one line: what must hold
  loc     the location (see the test's docstring), default "c"
  origin  the scripted responses of the case's path (a list, used in
          turn, the last one repeated), or {subpath: [responses]}
  steps   the client requests, in order

A response (origin(...)) is an http_origin.py response dict: status, body,
headers (a list of (name, value), duplicates allowed, templates such as
{date:-30} expanded when sent), delay, interim (1xx), raw.

A step (req(...)) sends method, path, client (header lines) and data
(a body) after `sleep` seconds (`parallel` copies at once), waits
`settle` seconds (for background requests) and checks what is given:
  status   int or tuple of allowed ints
  interim  the statuses of the 1xx responses received before it ([])
  body     the exact body (str or bytes)
  cache    X-Mall-Cache value, or tuple of allowed values
  headers  {name: value | True (present) | None (absent)}
  same_as_origin  [names]: equal to what the origin last sent for the path
  age      (lo, hi): Age is an integer within
  origin   how many requests reached the origin during the step
  sent     {name: value | True | None} on the last of those requests
A body always has to match its Content-Length.
"""

LM = "Sat, 01 Jan 2022 00:00:00 GMT"
LM_EARLIER = "Fri, 31 Dec 2021 00:00:00 GMT"
LM_LATER = "Sun, 02 Jan 2022 00:00:00 GMT"


def origin(status=200, body="", headers=(), **kw):
    return dict(status=status, body=body, headers=list(headers), **kw)


def req(method="GET", path="", client=(), sleep=0, settle=0, parallel=1,
        data=None, **expect):
    return dict(method=method, path=path, client=list(client),
                sleep=sleep, settle=settle, parallel=parallel, data=data,
                expect=expect)


def case(id, rfc, desc, origin, steps, loc="c"):
    return dict(id=id, rfc=rfc, desc=desc, origin=origin, steps=steps,
                loc=loc)


def CC(v):
    return ("Cache-Control", v)


def ETAG(v):
    return ("ETag", v)


HIT = dict(origin=0, cache="HIT")


def reused(id, rfc, desc, headers, loc="c", status=200, client=()):
    """The second request is answered from the cache with the first body."""
    body = "" if status == 204 else "v1"
    return case(id, rfc, desc, loc=loc,
                origin=[origin(status, "v1", headers),
                        origin(status, "v2", headers)],
                steps=[req(client=client, status=status, body=body,
                           origin=1),
                       req(client=client, status=status, body=body, **HIT)])


def not_reused(id, rfc, desc, headers, loc="c", status=200, client=(),
               sleep=0):
    """The second request (after sleep) goes to the origin: not stored,
    or stored and stale."""
    return case(id, rfc, desc, loc=loc,
                origin=[origin(status, "v1", headers),
                        origin(status, "v2", headers)],
                steps=[req(client=client, status=status, body="v1",
                           origin=1),
                       req(client=client, sleep=sleep, status=status,
                           body="v2", origin=1)])


# ------------------------------------------------------------ 1. freshness

FRESHNESS = [
    reused("s-maxage-over-max-age", "RFC 9111 §4.2.1, §5.2.2.10",
           "s-maxage=60 wins over max-age=0 in a shared cache",
           [CC("s-maxage=60, max-age=0")]),
    not_reused("s-maxage-0-over-max-age", "RFC 9111 §4.2.1, §5.2.2.10",
               "s-maxage=0 wins over max-age=60: stale at once",
               [CC("max-age=60, s-maxage=0")]),
    reused("cc-two-lines", "RFC 9111 §5.2, RFC 9110 §5.3",
           "Cache-Control on two field lines is one list (public + "
           "max-age=60)", [CC("public"), CC("max-age=60")]),
    reused("cc-case-insensitive", "RFC 9111 §5.2",
           "directive names compare case-insensitively: MAX-AGE=60",
           [CC("Public, MAX-AGE=60")]),
    reused("cc-quoted-argument", "RFC 9111 §5.2",
           'the quoted-string form max-age="60" is accepted',
           [CC('max-age="60"')]),
    not_reused("cc-duplicate-directive", "RFC 9111 §4.2.1",
               "two max-age directives (0, then 60): the first is used, or "
               "the response is stale", [CC("max-age=0"), CC("max-age=60")]),
    not_reused("expires-two-lines", "RFC 9111 §4.2.1, §5.3",
               "two Expires lines (past, then future): the first is used, "
               "or the response is stale",
               [("Expires", "{date:-60}"), ("Expires", "{date:+60}")],
               loc="fb"),
    reused("max-age-over-expires", "RFC 9111 §4.2.1, §5.3",
           "max-age=60 wins over an Expires in the past",
           [CC("max-age=60"), ("Expires", "{date:-60}")]),
    not_reused("max-age-0-over-expires", "RFC 9111 §4.2.1, §5.3",
               "max-age=0 wins over an Expires in the future",
               [CC("max-age=0"), ("Expires", "{date:+60}")]),
    reused("expires-imf-fixdate", "RFC 9111 §5.3, RFC 9110 §5.6.7",
           "Expires as IMF-fixdate in the future: fresh",
           [("Expires", "{date:+60}")]),
    reused("expires-rfc850", "RFC 9111 §5.3, RFC 9110 §5.6.7",
           "Expires in the obsolete RFC 850 format: fresh",
           [("Expires", "{rfc850:+60}")]),
    reused("expires-asctime", "RFC 9111 §5.3, RFC 9110 §5.6.7",
           "Expires in the obsolete asctime format: fresh",
           [("Expires", "{asctime:+60}")]),
    not_reused("expires-past", "RFC 9111 §5.3",
               "Expires in the past (mall_cache_valid 60s must not apply)",
               [("Expires", "{date:-60}")], loc="fb"),
    not_reused("expires-invalid-zero", "RFC 9111 §5.3",
               "Expires: 0 is invalid, i.e. already expired (not the "
               "fallback TTL)", [("Expires", "0")], loc="fb"),
    not_reused("expires-invalid-garbage", "RFC 9111 §5.3",
               "an unparsable Expires means stale, not heuristic freshness",
               [("Expires", "next tuesday"), ("Last-Modified", LM)],
               loc="fb"),
    not_reused("expires-minus-date", "RFC 9111 §4.2.1",
               "lifetime is Expires - Date: Date ahead of Expires is stale "
               "even though Expires is after the cache's clock",
               [("Date", "{date:+100}"), ("Expires", "{date:+50}")]),
    reused("heuristic-last-modified", "RFC 9111 §4.2.2",
           "no explicit freshness, old Last-Modified: heuristically fresh "
           "(10% of Date - Last-Modified, capped at 1d)",
           [("Last-Modified", LM)]),
    not_reused("max-age-0-over-heuristic", "RFC 9111 §4.2.1, §4.2.2",
               "max-age=0 is explicit: no heuristic freshness from an old "
               "Last-Modified", [CC("max-age=0"), ("Last-Modified", LM)]),
    case("heuristic-fraction", "RFC 9111 §4.2.2",
         "Last-Modified 20 s before Date: 10% = 2 s of freshness, not the "
         "location's mall_cache_valid 60s", loc="fb",
         origin=[origin(body="v1", headers=[("Last-Modified", "{date:-20}")]),
                 origin(body="v2", headers=[("Last-Modified", "{date:-20}")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", **HIT),
                req(sleep=2.6, body="v2", origin=1)]),
    case("heuristic-cap", "RFC 9111 §4.2.2",
         "mall_cache_heuristic 10% 2s caps a years-old Last-Modified at 2 s",
         loc="hcap",
         origin=[origin(body="v1", headers=[("Last-Modified", LM)]),
                 origin(body="v2", headers=[("Last-Modified", LM)])],
         steps=[req(body="v1", origin=1),
                req(body="v1", **HIT),
                req(sleep=2.6, body="v2", origin=1)]),
    not_reused("heuristic-off", "RFC 9111 §4.2.2",
               "mall_cache_heuristic off: Last-Modified gives no freshness",
               [("Last-Modified", LM)], loc="hoff"),
    not_reused("heuristic-not-302", "RFC 9111 §4.2.2, RFC 9110 §15.1",
               "302 is not heuristically cacheable",
               [("Last-Modified", LM), ("Location", "/elsewhere")],
               status=302),
    case("age-counted", "RFC 9111 §4.2.3, §5.1",
         "origin Age 30 within max-age=60: fresh, and the Age sent is at "
         "least 30",
         origin=[origin(body="v1", headers=[CC("max-age=60"), ("Age", "30")]),
                 origin(body="v2")],
         steps=[req(body="v1", origin=1),
                req(body="v1", age=(30, 40), **HIT)]),
    not_reused("age-exceeds-lifetime", "RFC 9111 §4.2.3",
               "origin Age 100 over max-age=60: stale on arrival",
               [CC("max-age=60"), ("Age", "100")]),
    not_reused("age-unparsable", "RFC 9111 §5.1 (issue 26: treat as stale)",
               "Age: abc makes the response stale",
               [CC("max-age=60"), ("Age", "abc")]),
    not_reused("age-overflow", "RFC 9111 §1.2.2",
               "Age beyond 2^31 counts as 2147483648 s: stale",
               [CC("max-age=600000"), ("Age", "99999999999999999999")]),
    case("age-list-first", "RFC 9111 §5.1",
         "two Age field lines: the first member (10) is used, fresh",
         origin=[origin(body="v1", headers=[CC("max-age=60"), ("Age", "10"),
                                           ("Age", "500")]),
                 origin(body="v2")],
         steps=[req(body="v1", origin=1),
                req(body="v1", age=(10, 20), **HIT)]),
    case("age-response-delay", "RFC 9111 §4.2.3",
         "1.2 s spent at the origin counts in Age (corrected_age_value)",
         origin=[origin(body="v1", headers=[CC("max-age=60")], delay=1.2),
                 origin(body="v2")],
         steps=[req(body="v1", origin=1),
                req(body="v1", age=(1, 5), **HIT)]),
    reused("cdn-cc-over-cc", "RFC 9213 §2.1",
           "CDN-Cache-Control max-age=60 replaces Cache-Control: no-store",
           [CC("no-store"), ("CDN-Cache-Control", "max-age=60")]),
    not_reused("cdn-cc-no-store", "RFC 9213 §2.1",
               "CDN-Cache-Control: no-store beats Cache-Control max-age=60",
               [CC("public, max-age=60"), ("CDN-Cache-Control", "no-store")]),
    not_reused("cdn-cc-private", "RFC 9213 §2.1, RFC 9111 §5.2.2.7",
               "CDN-Cache-Control: private keeps it out of this cache",
               [CC("public, max-age=60"), ("CDN-Cache-Control", "private")]),
    case("cdn-cc-no-cache", "RFC 9213 §2.1, RFC 9111 §5.2.2.4",
         "CDN-Cache-Control: no-cache: stored, revalidated on every use",
         origin=[origin(body="v1", headers=[
                     CC("max-age=60"), ("CDN-Cache-Control", "no-cache"),
                     ("ETag", '"n1"')]),
                 origin(304, headers=[("ETag", '"n1"'),
                                      ("CDN-Cache-Control", "no-cache")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", origin=1, sent={"If-None-Match": '"n1"'},
                    cache="REVALIDATED")]),
    reused("cdn-cc-parse-error-ignored", "RFC 9213 §2.1",
           "a CDN-Cache-Control that fails to parse is ignored: "
           "Cache-Control max-age=60 applies",
           [CC("max-age=60"), ("CDN-Cache-Control", 'no-store, max-age="6')]),
    reused("targeted-own-field-first",
           "RFC 9213 §2, mall_cache_targeted_fields",
           "Mall-Cache-Control (first configured) beats CDN-Cache-Control "
           "and Cache-Control", loc="t",
           headers=[CC("no-store"), ("CDN-Cache-Control", "no-store"),
                    ("Mall-Cache-Control", "max-age=60")]),
    not_reused("targeted-next-field",
               "RFC 9213 §2, mall_cache_targeted_fields",
               "no Mall-Cache-Control: CDN-Cache-Control no-store applies",
               [CC("max-age=60"), ("CDN-Cache-Control", "no-store")],
               loc="t"),
    not_reused("targeted-not-configured", "RFC 9213 §2",
               "Mall-Cache-Control is not targeted by default: "
               "Cache-Control no-store holds",
               [CC("no-store"), ("Mall-Cache-Control", "max-age=60")]),
    not_reused("targeted-off", "RFC 9213 §2, mall_cache_targeted_fields off",
               "targeted fields off: CDN-Cache-Control is ignored",
               [CC("no-store"), ("CDN-Cache-Control", "max-age=60")],
               loc="toff"),
]

# ---------------------------------------------------------- 2. Age and Date

AGE_DATE = [
    case("age-on-hit", "RFC 9111 §5.1, §4.2.3",
         "every hit carries Age, growing with time in the cache",
         origin=[origin(body="v1", headers=[CC("max-age=60")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", age=(0, 1), **HIT),
                req(sleep=1.6, body="v1", age=(1, 3), **HIT)]),
    case("date-added-when-missing", "RFC 9110 §6.6.1",
         "a response without Date gets one when cached and served",
         origin=[origin(body="v1", headers=[CC("max-age=60")], no_date=True)],
         steps=[req(body="v1", origin=1, headers={"Date": True}),
                req(body="v1", headers={"Date": True}, age=(0, 2), **HIT)]),
    case("date-kept", "RFC 9110 §6.6.1, RFC 9111 §4.2.3",
         "the origin's Date (30 s old) is passed and served unchanged, Age "
         "counts it",
         origin=[origin(body="v1", headers=[("Date", "{date:-30}"),
                                           CC("max-age=300")])],
         steps=[req(body="v1", origin=1, same_as_origin=["Date"]),
                req(body="v1", same_as_origin=["Date"], age=(30, 40),
                    **HIT)]),
]

# ---------------------------------------------------------- 3. revalidation

NOT_MOD = origin(304, headers=[("ETag", '"e1"'), CC("max-age=60")])


def stale_then_304(id, rfc, desc, stored, sent, loc="c", not_mod=NOT_MOD):
    return case(id, rfc, desc, loc=loc,
                origin=[origin(body="v1", headers=stored), not_mod],
                steps=[req(body="v1", origin=1),
                       req(sleep=1.6, body="v1", origin=1, sent=sent,
                           cache="REVALIDATED"),
                       req(body="v1", **HIT)])


REVALIDATION = [
    stale_then_304("reval-etag", "RFC 9111 §4.3.1, RFC 9110 §13.1.2",
                   "a stale entry with ETag is revalidated with "
                   "If-None-Match; the 304 serves the stored body",
                   [CC("max-age=1"), ("ETag", '"e1"')],
                   {"If-None-Match": '"e1"'}),
    stale_then_304("reval-last-modified", "RFC 9111 §4.3.1, RFC 9110 §13.1.3",
                   "a stale entry with Last-Modified is revalidated with "
                   "If-Modified-Since",
                   [CC("max-age=1"), ("Last-Modified", LM)],
                   {"If-Modified-Since": LM},
                   not_mod=origin(304, headers=[CC("max-age=60")])),
    stale_then_304("reval-both-validators", "RFC 9111 §4.3.1",
                   "both validators stored: both conditionals sent",
                   [CC("max-age=1"), ("ETag", '"e1"'), ("Last-Modified", LM)],
                   {"If-None-Match": '"e1"', "If-Modified-Since": LM}),
    case("reval-304-updates-headers", "RFC 9111 §4.3.4, §3.2",
         "a 304's fields replace the stored ones (X-Rev 1 -> 2, new X-New)",
         origin=[origin(body="v1", headers=[CC("max-age=1"), ("ETag", '"e1"'),
                                           ("X-Rev", "1")]),
                 origin(304, headers=[("ETag", '"e1"'), CC("max-age=60"),
                                      ("X-Rev", "2"), ("X-New", "yes")])],
         steps=[req(body="v1", origin=1, headers={"X-Rev": "1"}),
                req(sleep=1.6, body="v1", origin=1,
                    headers={"X-Rev": "2", "X-New": "yes"}),
                req(body="v1", headers={"X-Rev": "2", "X-New": "yes",
                                        "Cache-Control": "max-age=60"},
                    **HIT)]),
    case("reval-304-exclusions", "RFC 9111 §3.2, §3.1",
         "a 304 does not update Content-Length, nor store hop-by-hop or "
         "Connection-listed fields",
         origin=[origin(body="v1-full-body", headers=[CC("max-age=1"),
                                                     ("ETag", '"e1"')]),
                 origin(304, headers=[
                     ("ETag", '"e1"'), CC("max-age=60"),
                     ("Connection", "close, X-Hop304"), ("X-Hop304", "1"),
                     ("Keep-Alive", "timeout=9"), ("Content-Length", "3")])],
         steps=[req(body="v1-full-body", origin=1),
                req(sleep=1.6, body="v1-full-body", origin=1, headers={
                    "X-Hop304": None, "Keep-Alive": None}),
                req(body="v1-full-body", headers={
                    "X-Hop304": None, "Keep-Alive": None}, **HIT)]),
    case("reval-200-replaces", "RFC 9111 §4.3.3",
         "a full 200 answer to the conditional replaces the entry",
         origin=[origin(body="v1", headers=[CC("max-age=1"), ETAG('"e1"')]),
                 origin(body="v2", headers=[CC("max-age=60"), ETAG('"e2"')])],
         steps=[req(body="v1", origin=1),
                req(sleep=1.6, body="v2", origin=1,
                    sent={"If-None-Match": '"e1"'}),
                req(body="v2", headers={"ETag": '"e2"'}, **HIT)]),
    case("reval-no-cache-response", "RFC 9111 §5.2.2.4, §4.3.1",
         "Cache-Control: no-cache is stored and revalidated on every use",
         origin=[origin(body="v1", headers=[CC("no-cache"), ("ETag", '"e1"')]),
                 origin(304, headers=[("ETag", '"e1"'), CC("no-cache")])],
         steps=[req(body="v1", origin=1),
                req(body="v1", origin=1, sent={"If-None-Match": '"e1"'},
                    cache="REVALIDATED"),
                req(body="v1", origin=1, sent={"If-None-Match": '"e1"'},
                    cache="REVALIDATED")]),
    stale_then_304("reval-must-revalidate", "RFC 9111 §5.2.2.2",
                   "must-revalidate: past freshness it is revalidated "
                   "before use, despite the location's stale-while-revalidate",
                   [CC("max-age=1, must-revalidate"), ("ETag", '"e1"')],
                   {"If-None-Match": '"e1"'}, loc="swr"),
    case("must-revalidate-no-stale-on-error", "RFC 9111 §5.2.2.2, §4.2.4",
         "must-revalidate: an origin error is not hidden by the stale entry",
         loc="swr",
         origin=[origin(body="v1", headers=[CC("max-age=1, must-revalidate"),
                                           ("ETag", '"e1"')]),
                 origin(503, body="down", headers=[CC("no-store")])],
         steps=[req(body="v1", origin=1),
                req(sleep=1.6, status=(503, 504), origin=1,
                    sent={"If-None-Match": '"e1"'})]),
    case("proxy-revalidate-no-stale-on-error", "RFC 9111 §5.2.2.8, §4.2.4",
         "proxy-revalidate binds a shared cache like must-revalidate",
         loc="swr",
         origin=[origin(body="v1", headers=[CC("max-age=1, proxy-revalidate"),
                                           ("ETag", '"e1"')]),
                 origin(503, body="down", headers=[CC("no-store")])],
         steps=[req(body="v1", origin=1),
                req(sleep=1.6, status=(503, 504), origin=1)]),
    case("reval-client-no-cache", "RFC 9111 §5.2.1.4",
         "a client's Cache-Control: no-cache revalidates a fresh entry",
         origin=[origin(body="v1", headers=[CC("max-age=60"), ETAG('"e1"')]),
                 NOT_MOD],
         steps=[req(body="v1", origin=1),
                req(client=[CC("no-cache")], body="v1", origin=1,
                    sent={"If-None-Match": '"e1"'}, cache="REVALIDATED"),
                req(body="v1", **HIT)]),
    case("reval-vary-headers", "RFC 9111 §4.3.1, §4.1",
         "the conditional request carries the headers named by Vary",
         origin=[origin(body="v1-fr", headers=[
                     CC("max-age=1"), ("ETag", '"e1"'),
                     ("Vary", "Accept-Language")]),
                 origin(304, headers=[("ETag", '"e1"'), CC("max-age=60"),
                                      ("Vary", "Accept-Language")])],
         steps=[req(client=[("Accept-Language", "fr")], body="v1-fr",
                    origin=1),
                req(client=[("Accept-Language", "fr")], sleep=1.6,
                    body="v1-fr", origin=1,
                    sent={"If-None-Match": '"e1"', "Accept-Language": "fr"})]),
    case("swr-revalidates", "RFC 5861 §3, RFC 9111 §4.3.1",
         "stale-while-revalidate serves stale at once and revalidates in "
         "the background with If-None-Match; the 304 refreshes the entry",
         origin=[origin(body="v1", headers=[
                     CC("max-age=1, stale-while-revalidate=30"),
                     ("ETag", '"e1"'), ("X-Rev", "1")]),
                 origin(304, delay=0.3, headers=[
                     ("ETag", '"e1"'), CC("max-age=60"), ("X-Rev", "2")])],
         steps=[req(body="v1", origin=1),
                req(sleep=1.6, settle=1.5, body="v1", cache="STALE",
                    age=(1, 5), origin=1, sent={"If-None-Match": '"e1"'}),
                req(body="v1", headers={"X-Rev": "2"}, **HIT)]),
    case("swr-coalesced", "RFC 5861 §3, RFC 9111 §4.3.1",
         "10 clients on an entry within stale-while-revalidate: all get "
         "the stored body at once, one conditional request reaches the "
         "origin",
         origin=[origin(body="v1", headers=[
                     CC("max-age=1, stale-while-revalidate=30"),
                     ("ETag", '"e1"')]),
                 origin(304, delay=0.5, headers=[("ETag", '"e1"'),
                                                 CC("max-age=60")])],
         steps=[req(body="v1", origin=1),
                req(sleep=1.6, parallel=10, settle=1.5, status=200,
                    body="v1", cache=("STALE", "UPDATING"), origin=1,
                    sent={"If-None-Match": '"e1"'}),
                req(body="v1", **HIT)]),
    case("swr-vary-headers", "RFC 5861 §3, RFC 9111 §4.3.1",
         "the background revalidation carries the Vary-selected headers",
         origin=[origin(body="v1-fr", headers=[
                     CC("max-age=1, stale-while-revalidate=30"),
                     ("ETag", '"e1"'), ("Vary", "Accept-Language")]),
                 origin(304, headers=[("ETag", '"e1"'), CC("max-age=60"),
                                      ("Vary", "Accept-Language")])],
         steps=[req(client=[("Accept-Language", "fr")], body="v1-fr",
                    origin=1),
                req(client=[("Accept-Language", "fr")], sleep=1.6,
                    settle=0.8, body="v1-fr", cache="STALE", origin=1,
                    sent={"If-None-Match": '"e1"', "Accept-Language": "fr"})]),
    case("stale-if-error-after-revalidation", "RFC 5861 §4, RFC 9111 §4.2.4",
         "stale-if-error=30 still serves the entry when its revalidation "
         "gets a 503",
         origin=[origin(body="v1", headers=[CC("max-age=1, stale-if-error=30"),
                                           ("ETag", '"e1"')]),
                 origin(503, body="down", headers=[CC("no-store")])],
         steps=[req(body="v1", origin=1),
                req(sleep=1.6, status=200, body="v1", cache="STALE",
                    origin=1, sent={"If-None-Match": '"e1"'})]),
    case("reval-coalesced", "RFC 9111 §4 (collapsed requests), §4.3.1",
         "10 clients on a stale entry: one conditional request reaches the "
         "origin, all get the stored body",
         origin=[origin(body="v1", headers=[CC("max-age=1"), ETAG('"e1"')]),
                 origin(304, delay=0.5, headers=[("ETag", '"e1"'),
                                                 CC("max-age=60")])],
         steps=[req(body="v1", origin=1),
                req(sleep=1.6, parallel=10, status=200, body="v1", origin=1,
                    sent={"If-None-Match": '"e1"'})]),
]

# ------------------------------------------------- 4. client conditionals

STORED = [CC("max-age=60"), ("ETag", '"abc"'), ("Last-Modified", LM)]


def conditional(id, rfc, desc, client, status, stored=STORED, **expect):
    body = "v1" if status == 200 else b""
    return case(id, rfc, desc,
                origin=[origin(body="v1", headers=stored)],
                steps=[req(body="v1", origin=1),
                       req(client=client, status=status, body=body,
                           origin=0, **expect)])


CONDITIONALS = [
    conditional("inm-strong-match", "RFC 9110 §13.1.2, §15.4.5",
                "If-None-Match equal to the stored ETag: 304",
                [("If-None-Match", '"abc"')], 304,
                headers={"ETag": '"abc"'}),
    conditional("inm-weak-stored", "RFC 9110 §13.1.2, §8.8.3.2",
                "weak comparison: W/\"abc\" stored matches \"abc\"",
                [("If-None-Match", '"abc"')], 304,
                stored=[CC("max-age=60"), ("ETag", 'W/"abc"')]),
    conditional("inm-weak-client", "RFC 9110 §13.1.2, §8.8.3.2",
                "weak comparison: the client's W/\"abc\" matches \"abc\"",
                [("If-None-Match", 'W/"abc"')], 304),
    conditional("inm-list", "RFC 9110 §13.1.2",
                "a list with the ETag among others: 304",
                [("If-None-Match", '"x", "abc", "y"')], 304),
    conditional("inm-no-match", "RFC 9110 §13.1.2",
                "no member matches: the stored 200 from the cache",
                [("If-None-Match", '"x", "y"')], 200, cache="HIT"),
    conditional("inm-star", "RFC 9110 §13.1.2",
                "If-None-Match: * matches any stored representation: 304",
                [("If-None-Match", "*")], 304),
    conditional("inm-over-ims-no-match", "RFC 9110 §13.1.3, §13.2.2",
                "If-None-Match present: If-Modified-Since is ignored "
                "(INM fails, IMS would say 304): 200",
                [("If-None-Match", '"other"'),
                 ("If-Modified-Since", LM_LATER)], 200, cache="HIT"),
    conditional("inm-over-ims-match", "RFC 9110 §13.1.3, §13.2.2",
                "INM matches, IMS older than Last-Modified: 304",
                [("If-None-Match", '"abc"'),
                 ("If-Modified-Since", LM_EARLIER)], 304),
    conditional("ims-not-modified", "RFC 9110 §13.1.3",
                "If-Modified-Since equal to Last-Modified: 304",
                [("If-Modified-Since", LM)], 304),
    conditional("ims-rfc850", "RFC 9110 §13.1.3, §5.6.7",
                "If-Modified-Since in the RFC 850 format: 304",
                [("If-Modified-Since", "Saturday, 01-Jan-22 00:00:00 GMT")],
                304),
    conditional("ims-asctime", "RFC 9110 §13.1.3, §5.6.7",
                "If-Modified-Since in the asctime format: 304",
                [("If-Modified-Since", "Sat Jan  1 00:00:00 2022")], 304),
    conditional("ims-modified", "RFC 9110 §13.1.3",
                "If-Modified-Since before Last-Modified: 200",
                [("If-Modified-Since", LM_EARLIER)], 200, cache="HIT"),
    conditional("ims-invalid-ignored", "RFC 9110 §13.1.3",
                "an invalid If-Modified-Since date is ignored: 200",
                [("If-Modified-Since", "yesterday")], 200, cache="HIT"),
    conditional("client-304-fields", "RFC 9110 §15.4.5, RFC 9111 §4.3.2",
                "the 304 carries ETag, Cache-Control, Expires, Date, Vary "
                "and Age",
                [("If-None-Match", '"abc"')], 304,
                stored=[CC("max-age=60"), ("ETag", '"abc"'),
                        ("Expires", "{date:+60}"),
                        ("Vary", "Accept-Language")],
                headers={"ETag": '"abc"', "Cache-Control": "max-age=60",
                         "Vary": "Accept-Language", "Date": True,
                         "Expires": True, "Age": True}),
]


# -- 4b. The request's own directives (RFC 9111 §5.2.1) ---------------------

REQUEST_DIRECTIVES = [
    case("req-max-age", "RFC 9111 §5.2.1.1",
         "a client's max-age=N refuses an entry older than N seconds",
         origin=[origin(body="v1", headers=[CC("max-age=60")]),
                 origin(body="v2", headers=[CC("max-age=60")])],
         steps=[req(body="v1", origin=1),
                req(client=[CC("max-age=1")], sleep=1.6, body="v2",
                    origin=1),
                req(client=[CC("max-age=30")], body="v2", **HIT)]),
    case("req-min-fresh", "RFC 9111 §5.2.1.3",
         "a client's min-fresh=N refuses an entry fresh for less than N "
         "more seconds",
         origin=[origin(body="v1", headers=[CC("max-age=30")]),
                 origin(body="v2", headers=[CC("max-age=30")])],
         steps=[req(body="v1", origin=1),
                req(client=[CC("min-fresh=10")], body="v1", **HIT),
                req(client=[CC("min-fresh=40")], body="v2", origin=1)]),
    case("req-max-stale", "RFC 9111 §5.2.1.2, §4.2.4",
         "a client's max-stale=N takes an entry stale by at most N seconds "
         "without the origin",
         origin=[origin(body="v1", headers=[CC("max-age=1")]),
                 origin(body="v2", headers=[CC("max-age=1")])],
         steps=[req(body="v1", origin=1),
                req(client=[CC("max-stale=30")], sleep=1.6, body="v1",
                    origin=0, cache="STALE"),
                req(client=[CC("max-stale")], body="v1", origin=0,
                    cache="STALE"),
                req(client=[CC("max-stale=0")], body="v2", origin=1)]),
    case("req-max-stale-must-revalidate", "RFC 9111 §5.2.2.2",
         "max-stale does not override the response's must-revalidate",
         origin=[origin(body="v1", headers=[CC("max-age=1, must-revalidate")]),
                 origin(body="v2", headers=[CC("max-age=60")])],
         steps=[req(body="v1", origin=1),
                req(client=[CC("max-stale=30")], sleep=1.6, body="v2",
                    origin=1)]),
    case("req-max-stale-s-maxage", "RFC 9111 §5.2.2.10",
         "max-stale does not override s-maxage (it implies proxy-revalidate)",
         origin=[origin(body="v1", headers=[CC("s-maxage=1")]),
                 origin(body="v2", headers=[CC("s-maxage=60")])],
         steps=[req(body="v1", origin=1),
                req(client=[CC("max-stale=30")], sleep=1.6, body="v2",
                    origin=1)]),
    case("req-only-if-cached", "RFC 9111 §5.2.1.7",
         "only-if-cached: 504 without reaching the origin when nothing "
         "stored may answer; the stored answer when one may",
         origin=[origin(body="v1", headers=[CC("max-age=60")])],
         steps=[req(client=[CC("only-if-cached")], status=504, origin=0),
                req(body="v1", origin=1),
                req(client=[CC("only-if-cached")], body="v1", **HIT)]),
    case("req-pragma-no-cache", "RFC 9111 §5.4",
         "Pragma: no-cache without Cache-Control acts as no-cache",
         origin=[origin(body="v1", headers=[CC("max-age=60"),
                                            ETAG('"e1"')]),
                 NOT_MOD],
         steps=[req(body="v1", origin=1),
                req(client=[("Pragma", "no-cache")], body="v1", origin=1,
                    sent={"If-None-Match": '"e1"'}, cache="REVALIDATED")]),
]

SECTIONS = [
    ("1. Freshness (RFC 9111 §4.2, RFC 9213)", FRESHNESS),
    ("2. Age and Date", AGE_DATE),
    ("3. Revalidation", REVALIDATION),
    ("4. Conditional requests from clients (RFC 9110 §13)", CONDITIONALS),
    ("4b. Request directives (RFC 9111 §5.2.1)", REQUEST_DIRECTIVES),
]
CASES = [c for _, cases in SECTIONS for c in cases]
