/*
 * Outbound HTTP over libcurl multi + libevent (see mall_http_client.h).
 *
 * The usual curl/libevent glue: CURLMOPT_SOCKETFUNCTION keeps one event
 * per socket curl wants watched, CURLMOPT_TIMERFUNCTION one timer; both
 * call curl_multi_socket_action, after which finished transfers are
 * collected (curl_multi_info_read) and their fibers woken.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "mall_buf.h"
#include "mall_fiber.h"
#include "mall_http_client.h"
#include "mall_log.h"

/* An answer being received: at most max bytes. */
typedef struct {
    mall_buf_t  buf;
    size_t      max;
    int         overflow;
} http_buf_t;

/* One transfer in flight (on the waiting fiber's stack). */
typedef struct {
    mall_fiber_t   *fiber;
    CURLcode        result;
    int             done;
    http_buf_t      body, head;
} http_xfer_t;

/* The event watching one socket for curl. */
typedef struct {
    struct event   *ev;
} http_sock_t;

static struct {
    struct event_base  *base;
    CURLM              *multi;
    struct event       *timer;
    int                 curl_ready;
} hc;


static int
http_curl_global(void)
{
    if (!hc.curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            return MALL_ERR;
        }
        hc.curl_ready = 1;
    }
    return MALL_OK;
}


/* ---- buffers ---------------------------------------------------------- */

static size_t
http_buf_add(http_buf_t *b, const char *data, size_t n)
{
    if (n > b->max - b->buf.len) {
        b->overflow = 1;
        return 0;                        /* aborts the transfer */
    }
    mall_buf_add(&b->buf, data, n);
    if (b->buf.oom) {
        b->overflow = 1;
        return 0;
    }
    return n;
}


static size_t
http_body_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_xfer_t  *x = userdata;

    return http_buf_add(&x->body, ptr, size * nmemb);
}


static size_t
http_header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_xfer_t  *x = userdata;
    size_t        n = size * nmemb;

    /* a new status line (after a 1xx): keep only the final headers */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        x->head.buf.len = 0;
    }
    return http_buf_add(&x->head, ptr, n) == n ? n : 0;
}


/* ---- the multi handle on the loop -------------------------------------- */

static void
http_collect(void)
{
    http_xfer_t  *x;
    CURLMsg      *msg;
    int           left;

    while ((msg = curl_multi_info_read(hc.multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &x);
        if (x != NULL) {
            x->result = msg->data.result;
            x->done = 1;
            mall_fiber_wake(x->fiber);
        }
    }
}


static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
    int  running, flags;

    (void) arg;
    flags = ((what & EV_READ) ? CURL_CSELECT_IN : 0)
            | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(hc.multi, fd, flags, &running);
    http_collect();
}


static void
http_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    int  running;

    (void) fd;
    (void) what;
    (void) arg;
    curl_multi_socket_action(hc.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_collect();
}


static int
http_socket_fn(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
    http_sock_t  *hs = socketp;
    short         kind;

    (void) easy;
    (void) userp;

    if (what == CURL_POLL_REMOVE) {
        if (hs != NULL) {
            event_free(hs->ev);
            free(hs);
            curl_multi_assign(hc.multi, s, NULL);
        }
        return 0;
    }
    if (hs == NULL) {
        hs = calloc(1, sizeof(*hs));
        if (hs == NULL) {
            return -1;
        }
        curl_multi_assign(hc.multi, s, hs);
    } else {
        event_free(hs->ev);
    }
    kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0)
           | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    hs->ev = event_new(hc.base, s, kind, http_event_cb, NULL);
    if (hs->ev == NULL || event_add(hs->ev, NULL) != 0) {
        return -1;
    }
    return 0;
}


static int
http_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    struct timeval  tv;

    (void) multi;
    (void) userp;
    if (timeout_ms < 0) {
        evtimer_del(hc.timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(hc.timer, &tv);
    return 0;
}


int
mall_http_client_init(struct event_base *base)
{
    if (http_curl_global() != MALL_OK) {
        return MALL_ERR;
    }
    hc.base = base;
    hc.multi = curl_multi_init();
    hc.timer = evtimer_new(base, http_timer_cb, NULL);
    if (hc.multi == NULL || hc.timer == NULL) {
        return MALL_ERR;
    }
    curl_multi_setopt(hc.multi, CURLMOPT_SOCKETFUNCTION, http_socket_fn);
    curl_multi_setopt(hc.multi, CURLMOPT_TIMERFUNCTION, http_timer_fn);
    return MALL_OK;
}


void
mall_http_client_shutdown(void)
{
    if (hc.multi != NULL) {
        curl_multi_cleanup(hc.multi);
        hc.multi = NULL;
    }
    if (hc.timer != NULL) {
        event_free(hc.timer);
        hc.timer = NULL;
    }
    hc.base = NULL;
}


/* ---- one exchange ----------------------------------------------------- */

static struct curl_slist *
http_headers(const mall_http_request_t *req)
{
    struct curl_slist  *list = NULL, *l;
    size_t              i;

    /* no "Expect: 100-continue" round trip before a body */
    list = curl_slist_append(list, "Expect:");
    for (i = 0; list != NULL && req->headers != NULL
                && req->headers[i] != NULL; i++)
    {
        l = curl_slist_append(list, req->headers[i]);
        if (l == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }
        list = l;
    }
    return list;
}


static CURL *
http_easy(const mall_http_request_t *req, http_xfer_t *x,
    struct curl_slist *hdrs)
{
    CURL  *c;

    c = curl_easy_init();
    if (c == NULL) {
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mall-worker");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) req->body_len);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    return c;
}


/* Runs the transfer: parked on the loop, or blocking without one. */
static CURLcode
http_perform(CURL *c, http_xfer_t *x)
{
    if (hc.multi == NULL) {
        return curl_easy_perform(c);
    }
    x->fiber = mall_fiber_self();
    if (x->fiber == NULL) {
        mall_log(MALL_LOG_ERROR, "http", "fetch outside a fiber refused");
        return CURLE_FAILED_INIT;
    }
    if (curl_multi_add_handle(hc.multi, c) != CURLM_OK) {
        return CURLE_OUT_OF_MEMORY;
    }
    while (!x->done) {
        mall_fiber_park();
    }
    curl_multi_remove_handle(hc.multi, c);
    return x->result;
}


int
mall_http_fetch(const mall_http_request_t *req, mall_http_response_t *resp,
    mall_err_t *err)
{
    struct curl_slist  *hdrs;
    http_xfer_t         x;
    CURLcode            cc;
    CURL               *c;
    int                 rc;

    memset(resp, 0, sizeof(*resp));
    memset(&x, 0, sizeof(x));
    x.body.max = req->max_body;
    x.head.max = 64 * 1024;
    if (http_curl_global() != MALL_OK) {
        return mall_err_set(err, 0, "curl_global_init failed");
    }

    rc = MALL_ERR;
    c = NULL;
    hdrs = http_headers(req);
    if (hdrs == NULL || (c = http_easy(req, &x, hdrs)) == NULL) {
        mall_err_set(err, 0, "out of memory");
        goto done;
    }

    cc = http_perform(c, &x);
    if (cc != CURLE_OK) {
        mall_err_set(err, 0, "%s%s", curl_easy_strerror(cc),
                     x.body.overflow ? " (answer too large)" : "");
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = x.body.buf.p != NULL ? x.body.buf.p : calloc(1, 1);
    resp->body_len = x.body.buf.len;
    resp->headers = x.head.buf.p != NULL ? x.head.buf.p : calloc(1, 1);
    resp->headers_len = x.head.buf.len;
    x.body.buf.p = x.head.buf.p = NULL;
    if (resp->body == NULL || resp->headers == NULL) {
        mall_http_response_free(resp);
        mall_err_set(err, 0, "out of memory");
        goto done;
    }
    rc = MALL_OK;

done:
    mall_buf_free(&x.body.buf);
    mall_buf_free(&x.head.buf);
    if (c != NULL) {
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(hdrs);
    return rc;
}


void
mall_http_response_free(mall_http_response_t *resp)
{
    free(resp->body);
    free(resp->headers);
    memset(resp, 0, sizeof(*resp));
}


int
mall_http_response_header(const mall_http_response_t *resp,
    const char *name, char *out, size_t outsz)
{
    const char  *p, *end, *eol, *v, *found, *found_end;
    size_t       nlen = strlen(name);

    found = found_end = NULL;
    p = resp->headers;
    end = p + resp->headers_len;
    while (p < end) {
        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL) {
            eol = end;
        }
        if ((size_t) (eol - p) > nlen && p[nlen] == ':'
            && strncasecmp(p, name, nlen) == 0)
        {
            v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) {
                v++;
            }
            found = v;
            found_end = eol;
            while (found_end > found
                   && (found_end[-1] == '\r' || found_end[-1] == ' '))
            {
                found_end--;
            }
        }
        p = eol + 1;
    }
    if (found == NULL || (size_t) (found_end - found) >= outsz) {
        return MALL_ERR;
    }
    memcpy(out, found, (size_t) (found_end - found));
    out[found_end - found] = '\0';
    return MALL_OK;
}
