/*
 * The search index in Redis (terms and weights from search_text.h):
 *
 *   mall:search:term:{term}  zset  product id -> weight of the term
 *   mall:search:doc:{id}     set   the terms product {id} is indexed under
 *                                  (so a re-index removes exactly those)
 *   mall:search:words        set   lower-case Latin words seen in indexed
 *                                  text: the dictionary typo correction
 *                                  checks candidates against (only grows;
 *                                  a stale word finds no postings)
 *
 * Only products on sale are indexed. Writers append the commands to a
 * batch that also carries the rest of their edit, inside one MULTI/EXEC.
 */
#ifndef SEARCH_INDEX_H
#define SEARCH_INDEX_H

#include <stdint.h>
#include <hiredis/hiredis.h>

#include "mall_batch.h"
#include "search_text.h"

#define SEARCH_KEY_TERM   "mall:search:term:%.47s"
#define SEARCH_KEY_DOC    "mall:search:doc:%lld"
#define SEARCH_KEY_WORDS  "mall:search:words"

/*
 * Appends the removal of product id from the postings listed in
 * old_terms (the SMEMBERS reply of its doc key; may be NULL) and the
 * deletion of the doc key.
 */
int search_index_remove(mall_batch_t *b, int64_t id,
    const redisReply *old_terms);

/* Appends the postings, doc set and dictionary words of product id. */
int search_index_add(mall_batch_t *b, int64_t id, const search_doc_t *d);

/* Deletes every mall:search:* key (SCAN + DEL; seed use). Blocks. */
int search_index_clear(mall_redis_t *r, mall_err_t *err);

#endif
