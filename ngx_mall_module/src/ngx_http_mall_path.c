
/*
 * API paths must mean one thing. nginx picks the location on the
 * normalised URI ("%2F" decoded, "." and ".." resolved) while the workers
 * route on the raw target the edge signs and forwards, so
 * "/api/v1/cart/items/..%2F..%2Fproducts" would be checked as the catalog
 * and served as the cart. On every location the module guards (token,
 * signature or per-user limits) a raw path holding an encoded '/', '.' or
 * '\' or a dot segment is refused with 400: what remains normalises to
 * itself, so location and route agree.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_mall_module.h"


static ngx_uint_t ngx_http_mall_path_dot_segment(u_char *p, u_char *last);


/* 1 when the raw path of r is one the workers would route differently. */

ngx_uint_t
ngx_http_mall_path_ambiguous(ngx_http_request_t *r)
{
    u_char  *p, *last, c;

    p = r->unparsed_uri.data;
    last = r->args_start ? r->args_start - 1
                         : r->unparsed_uri.data + r->unparsed_uri.len;

    if (p == NULL || last < p) {
        return 0;
    }

    for ( /* void */ ; p < last; p++) {

        if (*p == '%' && last - p > 2) {
            c = ngx_tolower(p[2]);

            if (p[1] == '2' && (c == 'f' || c == 'e')) {
                return 1;
            }

            if (p[1] == '5' && c == 'c') {
                return 1;
            }

            continue;
        }

        if (*p == '\\') {
            return 1;
        }

        if (*p == '/' && ngx_http_mall_path_dot_segment(p + 1, last)) {
            return 1;
        }
    }

    return 0;
}


/* "." or ".." up to the next '/' or the end of the path. */

static ngx_uint_t
ngx_http_mall_path_dot_segment(u_char *p, u_char *last)
{
    if (p < last && *p == '.') {
        p++;

        if (p < last && *p == '.') {
            p++;
        }

        return p == last || *p == '/';
    }

    return 0;
}
