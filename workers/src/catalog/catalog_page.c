/*
 * Pages of product cards (see catalog_page.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "catalog_page.h"


int64_t *
catalog_reply_ids(const redisReply *r, size_t *n)
{
    int64_t  *ids;
    size_t    i;

    *n = 0;
    ids = malloc((r->elements + 1) * sizeof(*ids));
    if (ids == NULL) {
        return NULL;
    }
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (catalog_reply_int(r->element[i], &ids[*n]) == MALL_OK) {
            (*n)++;
        }
    }
    return ids;
}


/* MGET of the cards of ids[0..n) into *rep (caller frees). */
static int
page_cards(mall_ctx_t *ctx, const int64_t *ids, size_t n, redisReply **rep,
    mall_err_t *err)
{
    const char  **argv;
    char        (*keys)[40];
    size_t        i;
    int           rc;

    argv = malloc((n + 1) * sizeof(*argv));
    keys = malloc(n * sizeof(*keys));
    if (argv == NULL || keys == NULL) {
        free(argv);
        free(keys);
        return mall_err_set(err, 500, "out of memory");
    }
    argv[0] = "MGET";
    for (i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), CATALOG_KEY_CARD_FMT,
                 (long long) ids[i]);
        argv[i + 1] = keys[i];
    }
    rc = mall_redis_command(ctx->redis, rep, err, (int) n + 1, argv, NULL);
    free(argv);
    free(keys);
    return rc;
}


int
catalog_page_json(mall_ctx_t *ctx, const int64_t *ids, size_t n,
    const catalog_page_t *pg, mall_buf_t *out, mall_err_t *err)
{
    redisReply  *cards;
    size_t       i, shown;
    int          rc;

    cards = NULL;
    if (n > 0) {
        rc = page_cards(ctx, ids, n, &cards, err);
        if (rc != MALL_OK) {
            return rc;
        }
    }
    mall_buf_str(out, "{\"items\":[");
    shown = 0;
    for (i = 0; cards != NULL && cards->type == REDIS_REPLY_ARRAY
                && i < cards->elements; i++)
    {
        if (cards->element[i]->type != REDIS_REPLY_STRING) {
            continue;                    /* gone since the index was read */
        }
        if (shown++ > 0) {
            mall_buf_add(out, ",", 1);
        }
        mall_buf_add(out, cards->element[i]->str, cards->element[i]->len);
    }
    mall_buf_printf(out, "],\"page\":%lld,\"size\":%lld,\"total\":%lld",
                    (long long) pg->page, (long long) pg->size,
                    (long long) pg->total);
    if (pg->q != NULL) {
        mall_buf_str(out, ",\"q\":");
        mall_buf_json_str(out, pg->q);
    }
    mall_buf_add(out, "}", 1);
    if (cards != NULL) {
        freeReplyObject(cards);
    }
    return out->oom ? mall_err_set(err, 500, "out of memory") : MALL_OK;
}
