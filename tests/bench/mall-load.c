/*
 * mall-load: a small closed-loop HTTP/1.1 load generator for the bench.
 *
 * One thread, one epoll loop, N keep-alive connections with exactly one
 * request in flight each (a closed loop, like wrk without pipelining). The
 * request comes from a template (method, path, headers, body file); with
 * --sign every request gets a fresh X-Mall-Timestamp / X-Mall-Nonce /
 * X-Mall-Signature computed with lib/mall_sign.h, so the edge sees what a
 * real mini-program sends. Responses are parsed for real (Content-Length,
 * chunked, or read-until-close), status codes are counted, and each
 * request's latency goes into a log-linear histogram (HdrHistogram's
 * layout: 64 linear sub-buckets per power of two, under 1.6% error).
 *
 * Output: one JSON line on stdout. No Lua, no scripting: everything a case
 * needs is a command-line option.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "mall_b64.h"
#include "mall_crypto.h"
#include "mall_sign.h"


#define RBUF_SIZE        16384
#define MAX_HEADERS      32
#define MAX_STATUS       600
#define NONCE_BYTES      16
#define POOL_BYTES       4096


/* ---- latency histogram ------------------------------------------------ */

/*
 * Values are nanoseconds. Index i < 128 holds the value i exactly; above
 * that, each power of two [2^k, 2^(k+1)) is split into 64 equal buckets.
 * 64-bit values need 128 + 57 * 64 buckets.
 */
#define HIST_SUB         64
#define HIST_BUCKETS     (2 * HIST_SUB + 57 * HIST_SUB)

typedef struct {
    uint64_t  counts[HIST_BUCKETS];
    uint64_t  total;
    uint64_t  max;
    double    sum;
} hist_t;


static unsigned
hist_index(uint64_t v)
{
    unsigned  msb, shift;

    if (v < 2 * HIST_SUB) {
        return (unsigned) v;
    }

    msb = 63 - (unsigned) __builtin_clzll(v);
    shift = msb - 6;                           /* v >> shift in [64, 127] */

    return 2 * HIST_SUB + (shift - 1) * HIST_SUB
           + (unsigned) ((v >> shift) - HIST_SUB);
}


/* The highest value that falls into bucket i (what HdrHistogram reports). */
static uint64_t
hist_value(unsigned i)
{
    unsigned  shift;

    if (i < 2 * HIST_SUB) {
        return i;
    }

    shift = (i - 2 * HIST_SUB) / HIST_SUB + 1;

    return (((uint64_t) ((i - 2 * HIST_SUB) % HIST_SUB + HIST_SUB) + 1)
            << shift) - 1;
}


static void
hist_record(hist_t *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    h->sum += (double) v;
    if (v > h->max) {
        h->max = v;
    }
}


static uint64_t
hist_percentile(const hist_t *h, double pct)
{
    uint64_t  want, seen;
    unsigned  i;

    if (h->total == 0) {
        return 0;
    }

    want = (uint64_t) (pct / 100.0 * (double) h->total + 0.5);
    if (want < 1) {
        want = 1;
    }

    seen = 0;
    for (i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            return hist_value(i) < h->max ? hist_value(i) : h->max;
        }
    }

    return h->max;
}


/* ---- options and request template ------------------------------------- */

typedef struct {
    const char  *host;
    int          port;
    int          conns;
    double       duration;          /* seconds; 0 when count is used */
    uint64_t     count;
    const char  *method;
    const char  *path;
    const char  *host_header;
    const char  *headers[MAX_HEADERS];
    int          nheaders;
    const char  *body_file;
    int          sign;
    const char  *sign_key;
    const char  *token;
    const char  *unique_header;
    const char  *request_list;      /* file of whole raw requests */
    const char  *list_state;        /* where the list resumes next run */
    int          expect_status;
    int          timeout_ms;
    const char  *label;
} opts_t;

typedef struct {
    char        *fixed;             /* whole request when nothing varies */
    size_t       fixed_len;
    char        *prefix;            /* request line + constant headers */
    size_t       prefix_len;
    char        *body;
    size_t       body_len;
    int          dynamic;           /* built per request */
    size_t       max_len;
    /* signing inputs computed once */
    char         body_hex[MALL_SHA256_HEX_LEN];
    char        *path_only;
    size_t       path_only_len;
    char        *cquery;
    long         cquery_len;
    int          head;              /* HEAD: responses have no body */
} tmpl_t;


/* ---- connections ------------------------------------------------------ */

enum {
    P_HEADERS = 0,
    P_BODY,                         /* Content-Length bytes left */
    P_BODY_EOF,                     /* until the server closes */
    P_CHUNK_SIZE,
    P_CHUNK_DATA,
    P_CHUNK_CRLF,
    P_TRAILERS
};

typedef struct {
    int          fd;
    int          connecting;
    int          want_write;
    const char  *wbuf;
    size_t       wlen;
    size_t       woff;
    char        *own;               /* per-connection request buffer */
    uint64_t     t_start;           /* 0: no request in flight */
    int          pstate;
    int          status;
    int          close_after;
    uint64_t     left;
    size_t       rlen;
    char         rbuf[RBUF_SIZE];
} conn_t;

typedef struct {
    uint64_t     completed;
    uint64_t     unexpected;
    uint64_t     status[MAX_STATUS];
    uint64_t     err_connect;
    uint64_t     err_read;
    uint64_t     err_write;
    uint64_t     err_parse;
    uint64_t     err_timeout;
    uint64_t     reconnects;
    uint64_t     bytes_in;
    uint64_t     bytes_out;
    hist_t       hist;
} stats_t;


static opts_t              opt;
static tmpl_t              tpl;
static stats_t             st;
static int                 epfd;
static struct sockaddr_in  addr;
static volatile sig_atomic_t  stop_flag;

static uint8_t             pool[POOL_BYTES];
static size_t              pool_off = POOL_BYTES;

static time_t              ts_cached;
static char                ts_str[24];
static size_t              ts_len;


static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}


static void
die(const char *msg)
{
    fprintf(stderr, "mall-load: %s\n", msg);
    exit(2);
}


/* Random bytes from a pool refilled by the CSPRNG, so nonces stay fresh
 * and unpredictable without one RAND_bytes call per request. */
static void
random_hex(char *out, size_t nbytes)
{
    if (pool_off + nbytes > POOL_BYTES) {
        if (mall_random(pool, POOL_BYTES) != 0) {
            die("random bytes unavailable");
        }
        pool_off = 0;
    }

    mall_hex_encode(pool + pool_off, nbytes, out);
    pool_off += nbytes;
}


static char *
read_file(const char *path, size_t *len)
{
    FILE   *f;
    char   *buf;
    long    n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        return NULL;
    }

    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        fclose(f);
        return NULL;
    }

    fclose(f);
    buf[n] = '\0';
    *len = (size_t) n;
    return buf;
}


/* ---- request building ------------------------------------------------- */

static void
tmpl_build(void)
{
    char    host_buf[300];
    size_t  cap, n;
    char   *p, *q;
    int     i;

    if (opt.body_file != NULL) {
        tpl.body = read_file(opt.body_file, &tpl.body_len);
        if (tpl.body == NULL) {
            die("cannot read --body-file");
        }
    } else {
        tpl.body = "";
        tpl.body_len = 0;
    }

    tpl.head = strcmp(opt.method, "HEAD") == 0;
    tpl.dynamic = opt.sign || opt.unique_header != NULL;

    if (opt.host_header == NULL) {
        snprintf(host_buf, sizeof(host_buf), "%s:%d", opt.host, opt.port);
        opt.host_header = strdup(host_buf);
    }

    cap = strlen(opt.method) + strlen(opt.path) + strlen(opt.host_header)
          + 128;
    for (i = 0; i < opt.nheaders; i++) {
        cap += strlen(opt.headers[i]) + 2;
    }
    if (opt.token != NULL) {
        cap += strlen(opt.token) + 32;
    }

    tpl.prefix = malloc(cap);
    if (tpl.prefix == NULL) {
        die("out of memory");
    }

    p = tpl.prefix;
    p += sprintf(p, "%s %s HTTP/1.1\r\nHost: %s\r\n", opt.method, opt.path,
                 opt.host_header);
    for (i = 0; i < opt.nheaders; i++) {
        p += sprintf(p, "%s\r\n", opt.headers[i]);
    }
    if (opt.token != NULL) {
        p += sprintf(p, "Authorization: Bearer %s\r\n", opt.token);
    }
    if (opt.body_file != NULL) {
        p += sprintf(p, "Content-Length: %zu\r\n", tpl.body_len);
    }
    tpl.prefix_len = (size_t) (p - tpl.prefix);

    /* dynamic headers: timestamp, nonce, signature, unique id */
    tpl.max_len = tpl.prefix_len + tpl.body_len + 256
                  + (opt.unique_header ? strlen(opt.unique_header) + 40 : 0);

    if (!tpl.dynamic) {
        tpl.fixed = malloc(tpl.prefix_len + tpl.body_len + 2);
        if (tpl.fixed == NULL) {
            die("out of memory");
        }
        memcpy(tpl.fixed, tpl.prefix, tpl.prefix_len);
        memcpy(tpl.fixed + tpl.prefix_len, "\r\n", 2);
        memcpy(tpl.fixed + tpl.prefix_len + 2, tpl.body, tpl.body_len);
        tpl.fixed_len = tpl.prefix_len + 2 + tpl.body_len;
    }

    if (!opt.sign) {
        return;
    }

    /* The signature covers path and canonical query; both never change. */
    mall_sha256_hex(tpl.body, tpl.body_len, tpl.body_hex);

    q = strchr(opt.path, '?');
    n = q ? (size_t) (q - opt.path) : strlen(opt.path);
    tpl.path_only = strndup(opt.path, n);
    tpl.path_only_len = n;

    if (q != NULL) {
        size_t              qlen = strlen(q + 1);
        mall_sign_param_t   params[MALL_SIGN_MAX_PARAMS];
        char               *scratch = malloc(2 * qlen + 1);

        tpl.cquery = malloc(3 * qlen + 1);
        if (scratch == NULL || tpl.cquery == NULL) {
            die("out of memory");
        }
        tpl.cquery_len = mall_sign_canonical_query(q + 1, qlen, params,
                             MALL_SIGN_MAX_PARAMS, scratch, tpl.cquery);
        free(scratch);
        if (tpl.cquery_len < 0) {
            die("query string cannot be canonicalised for signing");
        }
    } else {
        tpl.cquery = "";
        tpl.cquery_len = 0;
    }
}


/*
 * --request-list: whole raw requests, each after a line with its length in
 * bytes, sent in turn (each once per pass over the list): for requests
 * that differ by more than a header, such as signed payment notifications
 * of distinct orders.
 */
static struct {
    char       *data;
    size_t     *off;
    size_t     *len;
    size_t      n;
    size_t      next;               /* counts on past n: repeats */
    size_t      first;              /* next at the start of this run */
} rlist;


static void
rlist_load(void)
{
    size_t  size, pos, cap, len;
    char   *end;

    rlist.data = read_file(opt.request_list, &size);
    if (rlist.data == NULL) {
        die("cannot read --request-list");
    }
    cap = 0;
    for (pos = 0; pos < size; pos += len) {
        len = strtoul(rlist.data + pos, &end, 10);
        if (end == rlist.data + pos || *end != '\n' || len == 0
            || len > size - (size_t) (end + 1 - rlist.data))
        {
            die("--request-list: bad record length");
        }
        pos = (size_t) (end + 1 - rlist.data);
        if (rlist.n == cap) {
            cap = cap ? cap * 2 : 1024;
            rlist.off = realloc(rlist.off, cap * sizeof(size_t));
            rlist.len = realloc(rlist.len, cap * sizeof(size_t));
            if (rlist.off == NULL || rlist.len == NULL) {
                die("out of memory");
            }
        }
        rlist.off[rlist.n] = pos;
        rlist.len[rlist.n++] = len;
    }
    if (rlist.n == 0) {
        die("--request-list is empty");
    }
    if (opt.list_state != NULL) {
        FILE  *f = fopen(opt.list_state, "r");

        if (f != NULL) {
            if (fscanf(f, "%zu", &rlist.next) != 1) {
                rlist.next = 0;
            }
            fclose(f);
        }
    }
    rlist.first = rlist.next;
}


/* Where the next run resumes the list. */
static void
rlist_save(void)
{
    FILE  *f;

    if (opt.list_state == NULL || rlist.n == 0) {
        return;
    }
    f = fopen(opt.list_state, "w");
    if (f == NULL || fprintf(f, "%zu\n", rlist.next) < 0) {
        die("cannot write --list-state");
    }
    fclose(f);
}


/* Writes one fresh request into c->own (signed and/or unique). */
static size_t
tmpl_render(conn_t *c)
{
    char     nonce[2 * NONCE_BYTES];
    char     canonical[4096];
    char     sig[MALL_SIGN_SIG_LEN];
    time_t   now;
    long     clen;
    char    *p;

    p = c->own;
    memcpy(p, tpl.prefix, tpl.prefix_len);
    p += tpl.prefix_len;

    if (opt.unique_header != NULL) {
        char  id[32];

        random_hex(id, sizeof(id) / 2);
        p += sprintf(p, "%s: %.*s\r\n", opt.unique_header, (int) sizeof(id),
                     id);
    }

    if (opt.sign) {
        now = time(NULL);
        if (now != ts_cached) {
            ts_cached = now;
            ts_len = (size_t) sprintf(ts_str, "%lld", (long long) now);
        }

        random_hex(nonce, NONCE_BYTES);

        clen = mall_sign_canonical(opt.method, strlen(opt.method),
                   tpl.path_only, tpl.path_only_len,
                   tpl.cquery, (size_t) tpl.cquery_len,
                   ts_str, ts_len, nonce, sizeof(nonce),
                   tpl.body_hex, canonical, sizeof(canonical));
        if (clen < 0
            || mall_sign_compute(opt.sign_key, strlen(opt.sign_key),
                                 canonical, (size_t) clen, sig) != 0)
        {
            die("signing failed");
        }

        p += sprintf(p, "X-Mall-Timestamp: %.*s\r\nX-Mall-Nonce: %.*s\r\n"
                     "X-Mall-Signature: %.*s\r\n", (int) ts_len, ts_str,
                     (int) sizeof(nonce), nonce, MALL_SIGN_SIG_LEN, sig);
    }

    memcpy(p, "\r\n", 2);
    p += 2;
    memcpy(p, tpl.body, tpl.body_len);
    p += tpl.body_len;

    return (size_t) (p - c->own);
}


/* ---- connection handling ---------------------------------------------- */

static void conn_open(conn_t *c);


static int
conn_events(conn_t *c, uint32_t events)
{
    struct epoll_event  ev;

    ev.events = events;
    ev.data.ptr = c;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}


static void
conn_close(conn_t *c)
{
    if (c->fd >= 0) {
        close(c->fd);       /* also removes it from the epoll set */
        c->fd = -1;
    }
    c->t_start = 0;
    c->want_write = 0;
}


static void
conn_reopen(conn_t *c)
{
    conn_close(c);
    if (!stop_flag) {
        st.reconnects++;
        conn_open(c);
    }
}


/* Sends what is left of the current request; arms EPOLLOUT on EAGAIN. */
static void
conn_flush(conn_t *c)
{
    ssize_t  n;

    while (c->woff < c->wlen) {
        n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n > 0) {
            c->woff += (size_t) n;
            st.bytes_out += (uint64_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            if (!c->want_write) {
                c->want_write = 1;
                conn_events(c, EPOLLIN | EPOLLOUT);
            }
            return;
        }
        st.err_write++;
        conn_reopen(c);
        return;
    }

    if (c->want_write) {
        c->want_write = 0;
        conn_events(c, EPOLLIN);
    }
}


static void
conn_send(conn_t *c)
{
    if (rlist.n > 0) {
        c->wbuf = rlist.data + rlist.off[rlist.next % rlist.n];
        c->wlen = rlist.len[rlist.next++ % rlist.n];
    } else if (tpl.dynamic) {
        c->wbuf = c->own;
        c->wlen = tmpl_render(c);
    } else {
        c->wbuf = tpl.fixed;
        c->wlen = tpl.fixed_len;
    }

    c->woff = 0;
    c->pstate = P_HEADERS;
    c->status = 0;
    c->close_after = 0;
    c->left = 0;
    c->t_start = now_ns();

    conn_flush(c);
}


static void
conn_open(conn_t *c)
{
    struct epoll_event  ev;
    int                 one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        st.err_connect++;
        return;
    }

    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    c->rlen = 0;
    c->connecting = 1;
    c->want_write = 1;

    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        st.err_connect++;
        close(c->fd);
        c->fd = -1;
        return;
    }

    if (connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0
        && errno != EINPROGRESS)
    {
        st.err_connect++;
        conn_close(c);
    }
}


/* Case-insensitive header-name match at p (line start); returns the value. */
static const char *
header_value(const char *p, const char *end, const char *name, size_t nlen)
{
    if ((size_t) (end - p) <= nlen || p[nlen] != ':'
        || strncasecmp(p, name, nlen) != 0)
    {
        return NULL;
    }

    p += nlen + 1;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p;
}


/*
 * Parses the status line and headers in buf[0..len) (which ends with the
 * empty line) and sets the body state. Returns 0, or -1 on garbage.
 */
static int
parse_head(conn_t *c, const char *buf, size_t len)
{
    const char  *p, *end, *eol, *v;
    int64_t      clen = -1;
    int          chunked = 0;

    end = buf + len;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ') {
        return -1;
    }

    c->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (c->status < 100 || c->status >= MAX_STATUS) {
        return -1;
    }
    if (buf[7] == '0') {
        c->close_after = 1;         /* HTTP/1.0 unless keep-alive is said */
    }

    p = memchr(buf, '\n', len);
    for (p = p + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL || eol == p || (eol == p + 1 && *p == '\r')) {
            break;
        }

        if ((v = header_value(p, eol, "content-length", 14)) != NULL) {
            char  *e;

            clen = strtoll(v, &e, 10);
            if (e == v || clen < 0) {
                return -1;
            }
        } else if ((v = header_value(p, eol, "transfer-encoding", 17))
                   != NULL)
        {
            chunked = memmem(v, (size_t) (eol - v), "chunked", 7) != NULL;
        } else if ((v = header_value(p, eol, "connection", 10)) != NULL) {
            if (strncasecmp(v, "close", 5) == 0) {
                c->close_after = 1;
            } else if (strncasecmp(v, "keep-alive", 10) == 0) {
                c->close_after = 0;
            }
        }
    }

    if (tpl.head || c->status == 204 || c->status == 304
        || c->status < 200)
    {
        c->pstate = P_HEADERS;      /* no body: done */
        c->left = 0;
        return 1;
    }

    if (chunked) {
        c->pstate = P_CHUNK_SIZE;
    } else if (clen >= 0) {
        c->pstate = P_BODY;
        c->left = (uint64_t) clen;
        if (clen == 0) {
            return 1;
        }
    } else {
        c->pstate = P_BODY_EOF;
        c->close_after = 1;
    }

    return 0;
}


/*
 * Consumes c->rbuf. Returns 1 when a whole response has been read, 0 when
 * more bytes are needed, -1 on a protocol error. Body bytes are dropped as
 * they are counted, so the buffer only ever holds headers or chunk lines.
 */
static int
parse(conn_t *c)
{
    char    *p, *end, *nl;
    size_t   used = 0;
    int      rc = 0;

    p = c->rbuf;
    end = c->rbuf + c->rlen;

    while (p < end && rc == 0) {
        switch (c->pstate) {

        case P_HEADERS:
            nl = memmem(p, (size_t) (end - p), "\r\n\r\n", 4);
            if (nl == NULL) {
                goto more;
            }
            rc = parse_head(c, p, (size_t) (nl + 4 - p));
            if (rc < 0) {
                return -1;
            }
            p = nl + 4;
            break;

        case P_BODY:
            if ((uint64_t) (end - p) >= c->left) {
                p += c->left;
                c->left = 0;
                rc = 1;
            } else {
                c->left -= (uint64_t) (end - p);
                p = end;
            }
            break;

        case P_BODY_EOF:
            p = end;
            break;

        case P_CHUNK_SIZE:
            nl = memchr(p, '\n', (size_t) (end - p));
            if (nl == NULL) {
                goto more;
            }
            {
                char      *e;
                uint64_t   size = strtoull(p, &e, 16);

                if (e == p) {
                    return -1;
                }
                p = nl + 1;
                if (size == 0) {
                    c->pstate = P_TRAILERS;
                } else {
                    c->pstate = P_CHUNK_DATA;
                    c->left = size;
                }
            }
            break;

        case P_CHUNK_DATA:
            if ((uint64_t) (end - p) >= c->left) {
                p += c->left;
                c->left = 0;
                c->pstate = P_CHUNK_CRLF;
            } else {
                c->left -= (uint64_t) (end - p);
                p = end;
            }
            break;

        case P_CHUNK_CRLF:
            nl = memchr(p, '\n', (size_t) (end - p));
            if (nl == NULL) {
                goto more;
            }
            p = nl + 1;
            c->pstate = P_CHUNK_SIZE;
            break;

        case P_TRAILERS:
            nl = memchr(p, '\n', (size_t) (end - p));
            if (nl == NULL) {
                goto more;
            }
            if (nl == p || (nl == p + 1 && *p == '\r')) {
                rc = 1;                 /* empty line ends the message */
            }
            p = nl + 1;
            break;
        }
    }

more:

    used = (size_t) (p - c->rbuf);
    if (rc == 1 && used != c->rlen) {
        return -1;                      /* bytes nobody asked for */
    }
    if (used > 0) {
        memmove(c->rbuf, p, c->rlen - used);
        c->rlen -= used;
    }
    if (rc == 0 && c->rlen == RBUF_SIZE) {
        return -1;                      /* a header or line too long */
    }

    return rc;
}


static void
response_done(conn_t *c, uint64_t now)
{
    hist_record(&st.hist, now - c->t_start);
    st.completed++;
    st.status[c->status]++;
    if (opt.expect_status != 0 && c->status != opt.expect_status) {
        st.unexpected++;
    }
    c->t_start = 0;

    if (c->close_after) {
        conn_reopen(c);
        return;
    }

    if (!stop_flag) {
        conn_send(c);
    }
}


static void
conn_read(conn_t *c)
{
    ssize_t  n;
    int      rc;

    for ( ;; ) {
        n = read(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);

        if (n > 0) {
            st.bytes_in += (uint64_t) n;
            if (c->t_start == 0) {
                st.err_parse++;         /* data with no request in flight */
                conn_reopen(c);
                return;
            }
            c->rlen += (size_t) n;
            rc = parse(c);
            if (rc < 0) {
                st.err_parse++;
                conn_reopen(c);
                return;
            }
            if (rc == 1) {
                response_done(c, now_ns());
                return;                 /* the next response is not here */
            }
            continue;
        }

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }

        /* EOF or error */
        if (c->t_start != 0 && c->pstate == P_BODY_EOF) {
            response_done(c, now_ns());     /* close-delimited body */
            return;
        }
        if (c->t_start != 0 || n < 0) {
            st.err_read++;
        }
        conn_reopen(c);
        return;
    }
}


static void
conn_event(conn_t *c, uint32_t events)
{
    if (c->connecting) {
        int        err = 0;
        socklen_t  len = sizeof(err);

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            st.err_connect++;
            conn_close(c);
            return;
        }
        c->connecting = 0;
        c->want_write = 0;
        conn_events(c, EPOLLIN);
        if (!stop_flag) {
            conn_send(c);
        }
        return;
    }

    if ((events & EPOLLOUT) && c->want_write) {
        conn_flush(c);
        if (c->fd < 0) {
            return;
        }
    }

    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        conn_read(c);
    }
}


/* ---- main --------------------------------------------------------------- */

static void
on_signal(int sig)
{
    (void) sig;
    stop_flag = 1;
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: mall-load -p PORT [options]\n"
        "  -a, --host ADDR          server address (127.0.0.1)\n"
        "  -p, --port PORT          server port\n"
        "  -c, --conns N            connections, one request in flight each"
        " (64)\n"
        "  -d, --duration SEC       run for SEC seconds (default 5)\n"
        "  -n, --requests N         or stop after N responses\n"
        "  -m, --method M           GET\n"
        "  -u, --path PATH          path and query (/)\n"
        "  -H, --header 'K: V'      extra header (repeatable)\n"
        "      --host-header H      Host header (ADDR:PORT)\n"
        "  -b, --body-file F        request body\n"
        "      --token T            Authorization: Bearer T\n"
        "      --sign               add X-Mall-Timestamp/Nonce/Signature\n"
        "      --sign-key K         sign_key for --sign\n"
        "      --unique-header NAME a fresh random value per request\n"
        "      --request-list F     send the raw requests of F in turn (each"
        " after a\n"
        "                           line with its length; the template is"
        " unused)\n"
        "      --list-state F       resume the list where the last run with"
        " F stopped\n"
        "      --expect-status N    count other statuses as unexpected\n"
        "      --timeout MS         per-request timeout (5000)\n"
        "      --label NAME         echoed in the JSON result\n");
    exit(2);
}


static void
parse_args(int argc, char **argv)
{
    static const struct option  longopts[] = {
        { "host",          required_argument, NULL, 'a' },
        { "port",          required_argument, NULL, 'p' },
        { "conns",         required_argument, NULL, 'c' },
        { "duration",      required_argument, NULL, 'd' },
        { "requests",      required_argument, NULL, 'n' },
        { "method",        required_argument, NULL, 'm' },
        { "path",          required_argument, NULL, 'u' },
        { "header",        required_argument, NULL, 'H' },
        { "body-file",     required_argument, NULL, 'b' },
        { "host-header",   required_argument, NULL, 1 },
        { "token",         required_argument, NULL, 2 },
        { "sign",          no_argument,       NULL, 3 },
        { "sign-key",      required_argument, NULL, 4 },
        { "unique-header", required_argument, NULL, 5 },
        { "expect-status", required_argument, NULL, 6 },
        { "timeout",       required_argument, NULL, 7 },
        { "label",         required_argument, NULL, 8 },
        { "request-list",  required_argument, NULL, 9 },
        { "list-state",    required_argument, NULL, 10 },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int  ch;

    opt.host = "127.0.0.1";
    opt.conns = 64;
    opt.duration = 5;
    opt.method = "GET";
    opt.path = "/";
    opt.timeout_ms = 5000;
    opt.label = "";

    while ((ch = getopt_long(argc, argv, "a:p:c:d:n:m:u:H:b:h", longopts,
                             NULL)) != -1)
    {
        switch (ch) {
        case 'a': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'c': opt.conns = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); opt.count = 0; break;
        case 'n':
            opt.count = strtoull(optarg, NULL, 10);
            opt.duration = 0;
            break;
        case 'm': opt.method = optarg; break;
        case 'u': opt.path = optarg; break;
        case 'H':
            if (opt.nheaders == MAX_HEADERS) {
                die("too many headers");
            }
            opt.headers[opt.nheaders++] = optarg;
            break;
        case 'b': opt.body_file = optarg; break;
        case 1: opt.host_header = optarg; break;
        case 2: opt.token = optarg; break;
        case 3: opt.sign = 1; break;
        case 4: opt.sign_key = optarg; break;
        case 5: opt.unique_header = optarg; break;
        case 6: opt.expect_status = atoi(optarg); break;
        case 7: opt.timeout_ms = atoi(optarg); break;
        case 8: opt.label = optarg; break;
        case 9: opt.request_list = optarg; break;
        case 10: opt.list_state = optarg; break;
        default: usage();
        }
    }

    if (optind != argc || opt.port <= 0 || opt.port > 65535
        || opt.conns <= 0 || (opt.duration <= 0 && opt.count == 0))
    {
        usage();
    }
    if (opt.sign && opt.sign_key == NULL) {
        die("--sign needs --sign-key");
    }
}


/* Expires requests that have waited longer than the timeout. */
static void
check_timeouts(conn_t *conns, uint64_t now)
{
    uint64_t  limit = (uint64_t) opt.timeout_ms * 1000000ull;
    int       i;

    for (i = 0; i < opt.conns; i++) {
        if (conns[i].fd >= 0 && conns[i].t_start != 0
            && now - conns[i].t_start > limit)
        {
            st.err_timeout++;
            conn_reopen(&conns[i]);
        }
    }
}


static void
print_json(double elapsed)
{
    int  i, first = 1;

    printf("{\"label\":\"%s\",\"conns\":%d,\"duration_s\":%.3f,"
           "\"requests\":%" PRIu64 ",\"rps\":%.1f,\"unexpected\":%" PRIu64,
           opt.label, opt.conns, elapsed, st.completed,
           elapsed > 0 ? (double) st.completed / elapsed : 0.0,
           st.unexpected);
    if (rlist.n > 0) {
        /* requests sent again once every one of the list had gone once */
        size_t  end = rlist.next, lo = rlist.first > rlist.n ? rlist.first
                                                              : rlist.n;

        printf(",\"list_repeats\":%zu", end > lo ? end - lo : 0);
    }
    printf(",\"status\":{");

    for (i = 0; i < MAX_STATUS; i++) {
        if (st.status[i] != 0) {
            printf("%s\"%d\":%" PRIu64, first ? "" : ",", i, st.status[i]);
            first = 0;
        }
    }

    printf("},\"errors\":{\"connect\":%" PRIu64 ",\"read\":%" PRIu64
           ",\"write\":%" PRIu64 ",\"parse\":%" PRIu64 ",\"timeout\":%"
           PRIu64 "},\"reconnects\":%" PRIu64 ",\"bytes_in\":%" PRIu64
           ",\"bytes_out\":%" PRIu64 ",\"latency_us\":{\"mean\":%.1f,"
           "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
           "\"max\":%.1f}}\n",
           st.err_connect, st.err_read, st.err_write, st.err_parse,
           st.err_timeout, st.reconnects, st.bytes_in, st.bytes_out,
           st.hist.total ? st.hist.sum / (double) st.hist.total / 1e3 : 0.0,
           hist_percentile(&st.hist, 50) / 1e3,
           hist_percentile(&st.hist, 90) / 1e3,
           hist_percentile(&st.hist, 99) / 1e3,
           hist_percentile(&st.hist, 99.9) / 1e3,
           st.hist.max / 1e3);
}


int
main(int argc, char **argv)
{
    struct epoll_event  events[256];
    conn_t             *conns;
    uint64_t            start, deadline, now, last_check;
    int                 i, n;

    parse_args(argc, argv);

    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) opt.port);
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
        die("--host must be an IPv4 address");
    }

    tmpl_build();
    if (opt.request_list != NULL) {
        rlist_load();
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        die("epoll_create1 failed");
    }

    conns = calloc((size_t) opt.conns, sizeof(conn_t));
    if (conns == NULL) {
        die("out of memory");
    }

    start = now_ns();
    deadline = opt.duration > 0
               ? start + (uint64_t) (opt.duration * 1e9) : UINT64_MAX;

    for (i = 0; i < opt.conns; i++) {
        conns[i].fd = -1;
        if (tpl.dynamic) {
            conns[i].own = malloc(tpl.max_len);
            if (conns[i].own == NULL) {
                die("out of memory");
            }
        }
        conn_open(&conns[i]);
    }

    last_check = start;

    for ( ;; ) {
        n = epoll_wait(epfd, events, 256, 10);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait failed");
        }

        for (i = 0; i < n; i++) {
            conn_event(events[i].data.ptr, events[i].events);
        }

        now = now_ns();
        if (now >= deadline
            || (opt.count != 0 && st.completed >= opt.count))
        {
            stop_flag = 1;
        }
        if (stop_flag) {
            break;
        }

        if (now - last_check > 100000000ull) {
            last_check = now;
            check_timeouts(conns, now);

            /* retry connections that failed to connect, ten times a second */
            for (i = 0; i < opt.conns; i++) {
                if (conns[i].fd < 0) {
                    conn_open(&conns[i]);
                }
            }
        }
    }

    /* Requests still in flight at the deadline are not counted. */
    print_json((double) (now - start) / 1e9);
    fflush(stdout);
    rlist_save();

    for (i = 0; i < opt.conns; i++) {
        conn_close(&conns[i]);
        free(conns[i].own);
    }
    free(conns);

    return st.completed > 0 ? 0 : 1;
}
