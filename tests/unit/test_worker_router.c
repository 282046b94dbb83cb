/*
 * Router matching: literals, {id} parameters, 404 vs 405 with Allow, and
 * the real route table of the worker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mall_router.h"

static int h_list(struct mall_ctx_s *ctx) { (void) ctx; return 1; }
static int h_get(struct mall_ctx_s *ctx) { (void) ctx; return 2; }
static int h_post(struct mall_ctx_s *ctx) { (void) ctx; return 3; }
static int h_cancel(struct mall_ctx_s *ctx) { (void) ctx; return 4; }
static int h_health(struct mall_ctx_s *ctx) { (void) ctx; return 5; }

static const mall_route_t  routes[] = {
    { "GET", "/healthz", h_health, MALL_ROUTE_NO_EDGE_SIG },
    { "GET", "/api/v1/orders", h_list, 0 },
    { "POST", "/api/v1/orders", h_post, 0 },
    { "GET", "/api/v1/orders/{id}", h_get, 0 },
    { "POST", "/api/v1/orders/{id}/cancel", h_cancel, 0 },
    { "PATCH", "/api/v1/cart/items/{sku}/{n}", h_get, 0 },
    { NULL, NULL, NULL, 0 }
};

#define NROUTES  (sizeof(routes) / sizeof(routes[0]))


static mall_route_rc_e
match(const char *method, const char *path, const mall_route_t **r,
    mall_route_params_t *p, char *allow)
{
    return mall_router_match(routes, NROUTES, method, path, p, r, allow,
                             64);
}


static void
test_literal_and_params(void **state)
{
    const mall_route_t   *r;
    mall_route_params_t   p;
    char                  allow[64];

    (void) state;
    assert_int_equal(match("GET", "/healthz", &r, &p, allow),
                     MALL_ROUTE_FOUND);
    assert_ptr_equal(r->handler, h_health);
    assert_true(r->flags & MALL_ROUTE_NO_EDGE_SIG);
    assert_int_equal(p.n, 0);

    assert_int_equal(match("POST", "/api/v1/orders", &r, &p, allow),
                     MALL_ROUTE_FOUND);
    assert_ptr_equal(r->handler, h_post);

    assert_int_equal(match("GET", "/api/v1/orders/O123", &r, &p, allow),
                     MALL_ROUTE_FOUND);
    assert_ptr_equal(r->handler, h_get);
    assert_string_equal(mall_route_param(&p, "id"), "O123");
    assert_null(mall_route_param(&p, "other"));

    assert_int_equal(match("POST", "/api/v1/orders/77/cancel", &r, &p,
                           allow), MALL_ROUTE_FOUND);
    assert_ptr_equal(r->handler, h_cancel);
    assert_string_equal(mall_route_param(&p, "id"), "77");

    assert_int_equal(match("PATCH", "/api/v1/cart/items/5/9", &r, &p,
                           allow), MALL_ROUTE_FOUND);
    assert_int_equal(p.n, 2);
    assert_string_equal(mall_route_param(&p, "sku"), "5");
    assert_string_equal(mall_route_param(&p, "n"), "9");
}


static void
test_not_found(void **state)
{
    const mall_route_t   *r;
    mall_route_params_t   p;
    char                  allow[64];

    (void) state;
    assert_int_equal(match("GET", "/", &r, &p, allow), MALL_ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/api/v1/order", &r, &p, allow),
                     MALL_ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/api/v1/orders/", &r, &p, allow),
                     MALL_ROUTE_NOT_FOUND);     /* empty {id} */
    assert_int_equal(match("GET", "/api/v1/orders/1/2", &r, &p, allow),
                     MALL_ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/healthz/", &r, &p, allow),
                     MALL_ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "/healthzz", &r, &p, allow),
                     MALL_ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "//healthz", &r, &p, allow),
                     MALL_ROUTE_NOT_FOUND);
    assert_int_equal(match("GET", "", &r, &p, allow), MALL_ROUTE_NOT_FOUND);
}


static void
test_method_not_allowed(void **state)
{
    const mall_route_t   *r;
    mall_route_params_t   p;
    char                  allow[64];

    (void) state;
    assert_int_equal(match("DELETE", "/api/v1/orders", &r, &p, allow),
                     MALL_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, POST");

    assert_int_equal(match("GET", "/api/v1/orders/9/cancel", &r, &p, allow),
                     MALL_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "POST");

    assert_int_equal(match("POST", "/healthz", &r, &p, allow),
                     MALL_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET");
}


static void
test_long_segment_refused(void **state)
{
    const mall_route_t   *r;
    mall_route_params_t   p;
    char                  allow[64], path[400];

    (void) state;
    strcpy(path, "/api/v1/orders/");
    memset(path + strlen(path), 'x', 200);
    path[15 + 200] = '\0';
    assert_int_equal(match("GET", path, &r, &p, allow),
                     MALL_ROUTE_NOT_FOUND);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_literal_and_params),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_long_segment_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
