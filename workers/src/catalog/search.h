/*
 * Keyword search (search.c) over the index of search_index.h.
 */
#ifndef SEARCH_H
#define SEARCH_H

#include "mall_ctx.h"

/* GET /api/v1/search?q=&<list filters>&sort=relevance|sales|... */
int search_get(mall_ctx_t *ctx);

#endif
