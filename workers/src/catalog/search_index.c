/*
 * Search index writes (see search_index.h).
 */
#include <stdio.h>
#include <string.h>

#include "search_index.h"

#define INDEX_WORDS_MAX  512


int
search_index_remove(mall_batch_t *b, int64_t id, const redisReply *old_terms)
{
    char    key[SEARCH_TERM_MAX + 32], sid[24];
    size_t  i;

    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    if (old_terms != NULL && old_terms->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < old_terms->elements; i++) {
            if (old_terms->element[i]->type != REDIS_REPLY_STRING
                || old_terms->element[i]->len >= SEARCH_TERM_MAX)
            {
                continue;
            }
            snprintf(key, sizeof(key), SEARCH_KEY_TERM,
                     old_terms->element[i]->str);
            mall_batch_addl(b, 3, "ZREM", key, sid);
        }
    }
    snprintf(key, sizeof(key), SEARCH_KEY_DOC, (long long) id);
    return mall_batch_addl(b, 2, "DEL", key);
}


/* Appends SADD mall:search:words for the Latin words of text. */
static void
index_words(mall_batch_t *b, const char *text)
{
    static search_token_t  toks[INDEX_WORDS_MAX];
    size_t                 n, i;

    if (text == NULL
        || search_tokenize(text, strlen(text), SEARCH_MODE_QUERY, toks,
                           INDEX_WORDS_MAX, &n) != MALL_OK)
    {
        return;
    }
    for (i = 0; i < n; i++) {
        if (toks[i].alpha && strlen(toks[i].word) >= SEARCH_WORD_MIN_FIX) {
            mall_batch_addl(b, 3, "SADD", SEARCH_KEY_WORDS, toks[i].word);
        }
    }
}


int
search_index_add(mall_batch_t *b, int64_t id, const search_doc_t *d)
{
    static search_weight_t  w[SEARCH_DOC_TERMS_MAX];
    char                    key[SEARCH_TERM_MAX + 32], dkey[48], sid[24];
    char                    score[16];
    size_t                  n, i;

    if (search_doc_terms(d, w, SEARCH_DOC_TERMS_MAX, &n) != MALL_OK) {
        return MALL_ERR;
    }
    snprintf(sid, sizeof(sid), "%lld", (long long) id);
    snprintf(dkey, sizeof(dkey), SEARCH_KEY_DOC, (long long) id);
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), SEARCH_KEY_TERM, w[i].term);
        snprintf(score, sizeof(score), "%d", w[i].weight);
        mall_batch_addl(b, 4, "ZADD", key, score, sid);
        mall_batch_addl(b, 3, "SADD", dkey, w[i].term);
    }
    index_words(b, d->name_en);
    index_words(b, d->name_zh);
    index_words(b, d->brand);
    for (i = 0; i < d->ncategories; i++) {
        index_words(b, d->categories[i]);
    }
    index_words(b, d->description);
    return b->oom ? MALL_ERR : MALL_OK;
}


int
search_index_clear(mall_redis_t *r, mall_err_t *err)
{
    redisReply  *rep, *keys;
    char         cursor[32];
    size_t       i;
    int          rc;

    snprintf(cursor, sizeof(cursor), "0");
    do {
        rc = mall_cmd(r, &rep, err, 6, "SCAN", cursor, "MATCH",
                      "mall:search:*", "COUNT", "1000");
        if (rc != MALL_OK) {
            return rc;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2
            || rep->element[0]->type != REDIS_REPLY_STRING)
        {
            freeReplyObject(rep);
            return mall_err_set(err, 500, "unexpected SCAN reply");
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        keys = rep->element[1];
        for (i = 0; i < keys->elements; i++) {
            redisReply  *d;

            rc = mall_cmd(r, &d, err, 2, "UNLINK", keys->element[i]->str);
            if (rc != MALL_OK) {
                freeReplyObject(rep);
                return rc;
            }
            freeReplyObject(d);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return MALL_OK;
}
