/*
 * Route matching (see mall_router.h). Linear over the table: the table is
 * small and matching is a few string compares per route.
 */
#include <string.h>

#include "mall_router.h"


/*
 * Matches path against one pattern, segment by segment. Fills params on a
 * match; returns 1 on a match, 0 otherwise.
 */
static int
router_match_pattern(const char *pattern, const char *path,
    mall_route_params_t *params)
{
    const char  *p, *s, *pend, *send;
    size_t       plen, slen;

    params->n = 0;
    p = pattern;
    s = path;

    for ( ;; ) {
        if (*p != '/' || *s != '/') {
            return 0;
        }
        p++;
        s++;

        pend = strchr(p, '/');
        if (pend == NULL) {
            pend = p + strlen(p);
        }
        send = strchr(s, '/');
        if (send == NULL) {
            send = s + strlen(s);
        }
        plen = (size_t) (pend - p);
        slen = (size_t) (send - s);

        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || slen >= MALL_ROUTE_PARAM_VALUE
                || plen - 2 >= MALL_ROUTE_PARAM_NAME
                || params->n == MALL_ROUTE_MAX_PARAMS)
            {
                return 0;
            }
            memcpy(params->p[params->n].name, p + 1, plen - 2);
            params->p[params->n].name[plen - 2] = '\0';
            memcpy(params->p[params->n].value, s, slen);
            params->p[params->n].value[slen] = '\0';
            params->n++;

        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }

        p = pend;
        s = send;
        if (*p == '\0' || *s == '\0') {
            return *p == '\0' && *s == '\0';
        }
    }
}


/* Appends method to a comma-separated allow list unless already there. */
static void
router_allow_add(char *allow, size_t allowsz, const char *method)
{
    size_t       len, mlen;
    const char  *hit;

    len = strlen(allow);
    mlen = strlen(method);

    for (hit = strstr(allow, method); hit != NULL;
         hit = strstr(hit + 1, method))
    {
        if ((hit == allow || hit[-1] == ' ')
            && (hit[mlen] == ',' || hit[mlen] == '\0'))
        {
            return;
        }
    }

    if (len + mlen + 3 > allowsz) {
        return;
    }
    if (len > 0) {
        memcpy(allow + len, ", ", 2);
        len += 2;
    }
    memcpy(allow + len, method, mlen + 1);
}


mall_route_rc_e
mall_router_match(const mall_route_t *routes, size_t n, const char *method,
    const char *path, mall_route_params_t *params,
    const mall_route_t **found, char *allow, size_t allowsz)
{
    mall_route_params_t  tmp;
    size_t               i;
    int                  path_known;

    path_known = 0;
    if (allowsz > 0) {
        allow[0] = '\0';
    }

    for (i = 0; i < n && routes[i].method != NULL; i++) {
        if (!router_match_pattern(routes[i].pattern, path, &tmp)) {
            continue;
        }
        if (strcmp(routes[i].method, method) == 0) {
            *params = tmp;
            *found = &routes[i];
            return MALL_ROUTE_FOUND;
        }
        path_known = 1;
        if (allowsz > 0) {
            router_allow_add(allow, allowsz, routes[i].method);
        }
    }

    return path_known ? MALL_ROUTE_METHOD_NOT_ALLOWED : MALL_ROUTE_NOT_FOUND;
}


const char *
mall_route_param(const mall_route_params_t *params, const char *name)
{
    size_t  i;

    for (i = 0; i < params->n; i++) {
        if (strcmp(params->p[i].name, name) == 0) {
            return params->p[i].value;
        }
    }
    return NULL;
}
