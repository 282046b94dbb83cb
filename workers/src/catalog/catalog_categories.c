/*
 * GET /api/v1/categories: the whole category tree,
 * {"categories":[{"id","name","name_en","children":[...]}]}, siblings
 * ordered by their sort value, then id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_keys.h"
#include "mall_json.h"
#include "mall_log.h"
#include "mall_reply.h"

#define CAT_MAX  10000

typedef struct {
    int64_t   id;
    int64_t   parent_id;
    int64_t   sort;
    cJSON    *node;         /* owned until attached */
    cJSON    *children;     /* inside node */
    int       attached;
} cat_node_t;


static int
cat_cmp(const void *a, const void *b)
{
    const cat_node_t  *x = a, *y = b;

    if (x->sort != y->sort) {
        return x->sort < y->sort ? -1 : 1;
    }
    return (x->id > y->id) - (x->id < y->id);
}


/* Builds one node's JSON from an HMGET reply; MALL_OK or MALL_ERR. */
static int
cat_node_build(cat_node_t *n, const redisReply *r)
{
    /* fields: id parent_id name_zh name_en sort */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5
        || catalog_reply_int(r->element[0], &n->id) != MALL_OK
        || catalog_reply_int(r->element[1], &n->parent_id) != MALL_OK
        || catalog_reply_int(r->element[4], &n->sort) != MALL_OK
        || r->element[2]->type != REDIS_REPLY_STRING
        || r->element[3]->type != REDIS_REPLY_STRING)
    {
        return MALL_ERR;
    }

    n->node = cJSON_CreateObject();
    if (n->node == NULL
        || mall_json_add_int(n->node, "id", n->id) != MALL_OK
        || mall_json_add_str(n->node, "name", r->element[2]->str) != MALL_OK
        || mall_json_add_str(n->node, "name_en", r->element[3]->str)
           != MALL_OK)
    {
        return MALL_ERR;
    }
    n->children = cJSON_AddArrayToObject(n->node, "children");
    return n->children != NULL ? MALL_OK : MALL_ERR;
}


/*
 * 1 when following parent ids from node i reaches a root (parent 0) in at
 * most nn steps; a cycle or a missing parent gives 0, so corrupt data can
 * never make the JSON tree cyclic.
 */
static int
cat_rooted(const cat_node_t *nodes, size_t nn, size_t i)
{
    size_t   steps, j;
    int64_t  parent;

    parent = nodes[i].parent_id;
    for (steps = 0; steps <= nn; steps++) {
        if (parent == 0) {
            return 1;
        }
        for (j = 0; j < nn; j++) {
            if (nodes[j].id == parent) {
                break;
            }
        }
        if (j == nn) {
            return 0;
        }
        parent = nodes[j].parent_id;
    }
    return 0;
}


int
catalog_categories_get(mall_ctx_t *ctx)
{
    static const char  *fields[] = {
        "HMGET", NULL, "id", "parent_id", "name_zh", "name_en", "sort"
    };
    const char         *ids_argv[] = { "ZRANGE", CATALOG_KEY_CATS, "0", "-1" };
    redisReply         *ids, **reps;
    mall_redis_cmd_t   *cmds;
    cat_node_t         *nodes;
    char              (*keys)[48];
    const char        **argvs;
    cJSON              *root, *list, *parent;
    mall_err_t          err;
    size_t              i, j, n, nn;
    int                 rc;

    ids = NULL;
    reps = NULL;
    cmds = NULL;
    nodes = NULL;
    keys = NULL;
    argvs = NULL;
    root = NULL;
    n = 0;
    nn = 0;
    err.msg[0] = '\0';

    rc = mall_redis_command(ctx->redis, &ids, &err, 4, ids_argv, NULL);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;
    if (ids->type != REDIS_REPLY_ARRAY || ids->elements > CAT_MAX) {
        goto done;
    }
    n = ids->elements;

    reps = calloc(n + 1, sizeof(*reps));
    cmds = calloc(n + 1, sizeof(*cmds));
    nodes = calloc(n + 1, sizeof(*nodes));
    keys = calloc(n + 1, sizeof(*keys));
    argvs = calloc((n + 1) * MALL_ARRAY_LEN(fields), sizeof(*argvs));
    if (reps == NULL || cmds == NULL || nodes == NULL || keys == NULL
        || argvs == NULL)
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        if (ids->element[i]->type != REDIS_REPLY_STRING) {
            goto done;
        }
        snprintf(keys[i], sizeof(keys[i]), "mall:cat:%s",
                 ids->element[i]->str);
        memcpy(&argvs[i * MALL_ARRAY_LEN(fields)], fields, sizeof(fields));
        argvs[i * MALL_ARRAY_LEN(fields) + 1] = keys[i];
        cmds[i].argc = (int) MALL_ARRAY_LEN(fields);
        cmds[i].argv = &argvs[i * MALL_ARRAY_LEN(fields)];
        cmds[i].argvlen = NULL;
    }

    rc = mall_redis_pipeline(ctx->redis, n, cmds, reps, &err);
    if (rc != MALL_OK) {
        goto done;
    }
    rc = MALL_ERR;

    for (i = 0; i < n; i++) {
        if (cat_node_build(&nodes[nn], reps[i]) != MALL_OK) {
            /* a half-written category is skipped, not fatal */
            cJSON_Delete(nodes[nn].node);
            memset(&nodes[nn], 0, sizeof(nodes[nn]));
            mall_log_req(MALL_LOG_WARN, "catalog", ctx->request_id,
                         ctx->ident.user, "category %s is incomplete",
                         ids->element[i]->str);
            continue;
        }
        nn++;
    }

    qsort(nodes, nn, sizeof(*nodes), cat_cmp);

    root = cJSON_CreateObject();
    list = root != NULL ? cJSON_AddArrayToObject(root, "categories") : NULL;
    if (list == NULL) {
        goto done;
    }

    /* attach in sorted order, so every children array ends up sorted */
    for (i = 0; i < nn; i++) {
        parent = NULL;
        if (!cat_rooted(nodes, nn, i)) {
            continue;
        }
        if (nodes[i].parent_id == 0) {
            parent = list;
        } else {
            for (j = 0; j < nn; j++) {
                if (nodes[j].id == nodes[i].parent_id && j != i) {
                    parent = nodes[j].children;
                    break;
                }
            }
        }
        if (parent == NULL) {
            continue;
        }
        if (!cJSON_AddItemToArray(parent, nodes[i].node)) {
            goto done;
        }
        nodes[i].attached = 1;
    }

    for (i = 0; i < nn; i++) {
        if (!nodes[i].attached) {
            mall_log_req(MALL_LOG_WARN, "catalog", ctx->request_id,
                         ctx->ident.user, "category %lld has no parent "
                         "%lld", (long long) nodes[i].id,
                         (long long) nodes[i].parent_id);
        }
    }

    catalog_cache_headers(ctx, "categories");
    rc = mall_reply_json(ctx, 200, root);

done:
    if (rc == MALL_ERR && !ctx->replied) {
        mall_log_req(MALL_LOG_ERROR, "catalog", ctx->request_id,
                     ctx->ident.user, "categories: %s",
                     err.msg[0] ? err.msg : "bad data");
    }
    /* unattached nodes are owned here; attached ones belong to root */
    for (i = 0; nodes != NULL && i < nn; i++) {
        if (!nodes[i].attached) {
            cJSON_Delete(nodes[i].node);
        }
    }
    cJSON_Delete(root);
    if (reps != NULL) {
        mall_redis_free_replies(reps, n);
    }
    if (ids != NULL) {
        freeReplyObject(ids);
    }
    free(reps);
    free(cmds);
    free(nodes);
    free(keys);
    free(argvs);
    return rc;
}
