/*
 * GET /api/v1/search?q=: relevance-ranked keyword search over the index of
 * search_index.h, with the list's filters, sorts and pages.
 *
 * Each query term's postings are read in one pipelined round trip. A
 * Latin word that has no postings is retried, in two more round trips,
 * as the dictionary words at edit distance 1 (SMISMEMBER of all
 * candidates at once), each posting keeping its best weight. A product's
 * relevance is the sum of its term weights times the share of query terms
 * it matched, so a product matching every term outranks one matching a
 * single heavy term; ties go to the better seller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "mall_log.h"
#include "mall_reply.h"
#include "search.h"
#include "search_index.h"
#include "search_text.h"

#define SEARCH_QUERY_TERMS  64
#define SEARCH_FIX_MAX      SEARCH_EDITS_MAX(SEARCH_TERM_MAX)

typedef struct {
    int64_t  id;
    int64_t  weight;
    int      term;
} search_hit_t;

typedef struct {
    search_hit_t  *v;
    size_t         n;
    size_t         cap;
} search_hits_t;

const mall_route_t  mall_search_routes[] = {
    { "GET", "/api/v1/search", search_get, 0 },
    { NULL, NULL, NULL, 0 }
};


static int
hits_add(search_hits_t *h, int64_t id, int64_t weight, int term)
{
    search_hit_t  *v;

    if (h->n == h->cap) {
        v = realloc(h->v, (h->cap ? h->cap * 2 : 256) * sizeof(*v));
        if (v == NULL) {
            return MALL_ERR;
        }
        h->v = v;
        h->cap = h->cap ? h->cap * 2 : 256;
    }
    h->v[h->n].id = id;
    h->v[h->n].weight = weight;
    h->v[h->n].term = term;
    h->n++;
    return MALL_OK;
}


/* Adds the postings of a ZRANGE WITHSCORES reply; returns how many. */
static size_t
hits_load(search_hits_t *h, const redisReply *r, int term, int *oom)
{
    int64_t  id, w;
    size_t   i, n;

    n = 0;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return 0;
    }
    for (i = 0; i + 1 < r->elements; i += 2) {
        if (catalog_reply_int(r->element[i], &id) != MALL_OK
            || catalog_reply_int(r->element[i + 1], &w) != MALL_OK)
        {
            continue;
        }
        if (hits_add(h, id, w, term) != MALL_OK) {
            *oom = 1;
            return n;
        }
        n++;
    }
    return n;
}


static int
hit_cmp(const void *a, const void *b)
{
    const search_hit_t  *x = a, *y = b;

    if (x->id != y->id) {
        return x->id < y->id ? -1 : 1;
    }
    return x->term - y->term;
}


/*
 * Fetches the postings of terms[0..n) (n <= SEARCH_QUERY_TERMS), each
 * "ZRANGE key 0 -1 WITHSCORES", in one round trip into reps[0..n) (the
 * caller frees them). See mall_redis_pipeline.
 */
static int
search_postings(mall_ctx_t *ctx, const char *const *terms, size_t n,
    redisReply **reps, mall_err_t *err)
{
    mall_redis_cmd_t  cmds[SEARCH_QUERY_TERMS];
    const char       *argv[SEARCH_QUERY_TERMS][5];
    char              keys[SEARCH_QUERY_TERMS][80];
    size_t            i;

    if (n == 0) {
        return MALL_OK;
    }
    for (i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), SEARCH_KEY_TERM, terms[i]);
        argv[i][0] = "ZRANGE";
        argv[i][1] = keys[i];
        argv[i][2] = "0";
        argv[i][3] = "-1";
        argv[i][4] = "WITHSCORES";
        cmds[i].argc = 5;
        cmds[i].argv = argv[i];
        cmds[i].argvlen = NULL;
    }
    return mall_redis_pipeline(ctx->redis, n, cmds, reps, err);
}


/*
 * Typo correction of term t (a Latin word without postings): finds the
 * dictionary words at edit distance 1 and adds their postings as term t.
 */
static int
search_fix_word(mall_ctx_t *ctx, const search_token_t *t, int term,
    search_hits_t *h, mall_err_t *err)
{
    char              (*cands)[SEARCH_TERM_MAX];
    const char        **argv;
    char                stems[8][SEARCH_TERM_MAX];
    const char         *terms[8];
    redisReply         *rep, *reps[8];
    size_t              n, i, k, nfix;
    int                 rc, oom;

    if (strlen(t->word) < SEARCH_WORD_MIN_FIX) {
        return MALL_OK;
    }
    /* on the heap: a few thousand candidates (and a fiber's stack is
     * small) */
    cands = malloc(SEARCH_FIX_MAX * sizeof(*cands));
    argv = malloc((SEARCH_FIX_MAX + 2) * sizeof(*argv));
    rep = NULL;
    rc = MALL_OK;
    if (cands == NULL || argv == NULL) {
        rc = mall_err_set(err, 500, "out of memory");
        goto done;
    }
    n = search_edits1(t->word, cands, SEARCH_FIX_MAX);
    if (n == 0) {
        goto done;
    }
    argv[0] = "SMISMEMBER";
    argv[1] = SEARCH_KEY_WORDS;
    for (i = 0; i < n; i++) {
        argv[i + 2] = cands[i];
    }
    rc = mall_redis_command(ctx->redis, &rep, err, (int) n + 2, argv, NULL);
    if (rc != MALL_OK) {
        goto done;
    }

    /* the first few distinct stems of the words found */
    nfix = 0;
    for (i = 0; i < rep->elements && i < n && nfix < 8; i++) {
        if (rep->element[i]->type != REDIS_REPLY_INTEGER
            || rep->element[i]->integer != 1)
        {
            continue;
        }
        memcpy(stems[nfix], cands[i], SEARCH_TERM_MAX);
        search_stem(stems[nfix]);
        for (k = 0; k < nfix; k++) {
            if (strcmp(stems[k], stems[nfix]) == 0) {
                break;
            }
        }
        if (k == nfix) {
            nfix++;
        }
    }
    if (nfix == 0) {
        goto done;
    }

    for (i = 0; i < nfix; i++) {
        terms[i] = stems[i];
    }
    rc = search_postings(ctx, terms, nfix, reps, err);
    if (rc != MALL_OK) {
        goto done;
    }
    oom = 0;
    for (i = 0; i < nfix; i++) {
        hits_load(h, reps[i], term, &oom);
    }
    mall_redis_free_replies(reps, nfix);
    if (oom) {
        rc = mall_err_set(err, 500, "out of memory");
    }

done:
    if (rep != NULL) {
        freeReplyObject(rep);
    }
    free(cands);
    free(argv);
    return rc;
}


/*
 * Folds hits (any order) into one (id, relevance) per product: per term
 * the best weight, summed, times matched terms / nterms (x100 to stay
 * integral). Returns the number of products written to ids/scores.
 */
static size_t
search_score(search_hits_t *h, size_t nterms, int64_t *ids, int64_t *scores)
{
    size_t   i, j, n, matched;
    int64_t  sum, best;

    if (h->n > 0) {
        qsort(h->v, h->n, sizeof(*h->v), hit_cmp);
    }
    n = 0;
    for (i = 0; i < h->n; i = j) {
        sum = 0;
        matched = 0;
        for (j = i; j < h->n && h->v[j].id == h->v[i].id; ) {
            int  term = h->v[j].term;

            best = 0;
            while (j < h->n && h->v[j].id == h->v[i].id
                   && h->v[j].term == term)
            {
                best = h->v[j].weight > best ? h->v[j].weight : best;
                j++;
            }
            sum += best;
            matched++;
        }
        ids[n] = h->v[i].id;
        scores[n] = sum * 100 * (int64_t) matched / (int64_t) nterms;
        n++;
    }
    return n;
}


/* What search_get keeps across its round trips (too big for a fiber's
 * stack frame). */
typedef struct {
    search_token_t  toks[SEARCH_QUERY_TERMS];
    mall_query_t    q2;
} search_state_t;


int
search_get(mall_ctx_t *ctx)
{
    search_state_t         *st;
    search_token_t         *toks;
    catalog_list_params_t   p;
    catalog_match_t         m;
    search_hits_t           hits;
    redisReply             *reps[SEARCH_QUERY_TERMS];
    const char             *terms[SEARCH_QUERY_TERMS], *q, *sort;
    int64_t                *ids, *scores;
    mall_err_t              err;
    size_t                  ntok, nterms, i, k, qlen;
    long                    chars;
    int                     rc, oom, relevance;

    memset(&hits, 0, sizeof(hits));
    memset(reps, 0, sizeof(reps));
    ids = scores = NULL;
    nterms = 0;
    err.msg[0] = '\0';

    q = mall_query_get(&ctx->query, "q");
    qlen = q != NULL ? strlen(q) : 0;
    while (qlen > 0 && (*q == ' ' || *q == '\t')) {
        q++;
        qlen--;
    }
    while (qlen > 0 && (q[qlen - 1] == ' ' || q[qlen - 1] == '\t')) {
        qlen--;
    }
    if (qlen == 0) {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "q is required");
    }
    chars = search_utf8_chars(q, qlen);
    if (chars < 0) {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "q must be UTF-8 text");
    }
    if (chars > SEARCH_QUERY_MAX) {
        return mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                "q must be at most %d characters",
                                SEARCH_QUERY_MAX);
    }

    /* sort=relevance (the default) is ours; the rest is the list's */
    sort = mall_query_get(&ctx->query, "sort");
    relevance = sort == NULL || sort[0] == '\0'
                || strcmp(sort, "relevance") == 0;
    st = malloc(sizeof(*st));
    if (st == NULL) {
        return MALL_ERR;
    }
    toks = st->toks;
    st->q2 = ctx->query;
    if (relevance) {
        for (i = 0, k = 0; i < st->q2.n; i++) {
            if (strcmp(st->q2.params[i].name, "sort") != 0) {
                st->q2.params[k++] = st->q2.params[i];
            }
        }
        st->q2.n = k;
    }
    if (catalog_list_params_parse(&st->q2, &p, &err) != MALL_OK) {
        if (strncmp(err.msg, "sort ", 5) == 0) {
            rc = mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                                  "sort must be one of relevance, sales, "
                                  "price_asc, price_desc, new");
        } else {
            rc = mall_reply_error(ctx, 400, "VALIDATION_FAILED", "%s",
                                  err.msg);
        }
        goto done;
    }

    if (search_tokenize(q, qlen, SEARCH_MODE_QUERY, toks, SEARCH_QUERY_TERMS,
                        &ntok) != MALL_OK)
    {
        rc = mall_reply_error(ctx, 400, "VALIDATION_FAILED",
                              "q must be UTF-8 text");
        goto done;
    }

    /* distinct terms, in query order */
    for (i = 0; i < ntok; i++) {
        for (k = 0; k < nterms; k++) {
            if (strcmp(toks[k].term, toks[i].term) == 0) {
                break;
            }
        }
        if (k == nterms) {
            toks[nterms++] = toks[i];
        }
    }

    for (i = 0; i < nterms; i++) {
        terms[i] = toks[i].term;
    }
    rc = search_postings(ctx, terms, nterms, reps, &err);
    if (rc != MALL_OK) {
        goto done;
    }

    oom = 0;
    for (i = 0; i < nterms; i++) {
        if (reps[i]->type == REDIS_REPLY_ERROR) {
            rc = mall_err_set(&err, 500, "redis: %s", reps[i]->str);
            goto done;
        }
        if (hits_load(&hits, reps[i], (int) i, &oom) == 0 && !oom
            && toks[i].alpha)
        {
            rc = search_fix_word(ctx, &toks[i], (int) i, &hits, &err);
            if (rc != MALL_OK) {
                goto done;
            }
        }
        if (oom) {
            rc = mall_err_set(&err, 500, "out of memory");
            goto done;
        }
    }

    ids = malloc((hits.n + 1) * sizeof(int64_t));
    scores = malloc((hits.n + 1) * sizeof(int64_t));
    if (ids == NULL || scores == NULL) {
        rc = mall_err_set(&err, 500, "out of memory");
        goto done;
    }

    m.n = nterms > 0 ? search_score(&hits, nterms, ids, scores) : 0;
    m.ids = ids;
    m.scores = scores;
    m.relevance = relevance;
    m.q = NULL;

    /* echo the trimmed query */
    {
        char  qbuf[SEARCH_QUERY_MAX * 4 + 1];

        memcpy(qbuf, q, qlen);
        qbuf[qlen] = '\0';
        m.q = qbuf;
        rc = catalog_list_run(ctx, &p, &m);
    }

done:
    if (rc == MALL_ERR && !ctx->replied) {
        mall_log_req(MALL_LOG_ERROR, "search", ctx->request_id,
                     ctx->ident.user, "search: %s",
                     err.msg[0] ? err.msg : "out of memory");
    }
    mall_redis_free_replies(reps, nterms);
    free(hits.v);
    free(ids);
    free(scores);
    free(st);
    return rc;
}
