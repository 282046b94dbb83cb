/*
 * The headers the edge signs, read from a request in one pass.
 */
#ifndef MALL_EDGE_HEADERS_H
#define MALL_EDGE_HEADERS_H

#include <event2/keyvalq_struct.h>

#include "mall_edge.h"

/*
 * Sets e's header fields (request_id .. risk) to the first value of each
 * header in `in`, NULL when absent: what evhttp_find_header gives for
 * each, with one walk of the list instead of eleven.
 */
void mall_edge_headers(const struct evkeyvalq *in, mall_edge_input_t *e);

#endif
