/*
 * Worker metrics in shared memory (mall_metrics.c): slots written by
 * separate processes sum up, histograms are cumulative with +Inf = count,
 * statuses and refusal reasons fall into their fixed tables, the config's
 * SHA-256 is the file's, and /status's children list follows the slots.
 */
#define _DEFAULT_SOURCE              /* mkstemp, strtok_r, fdopen */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "mall_metrics.h"

static const mall_route_t  routes[] = {
    { "GET", "/api/v1/products/{id}", NULL, 0 },
    { "POST", "/api/v1/orders", NULL, MALL_ROUTE_ORDER_CREATE },
    { NULL, NULL, NULL, 0 }
};

static char  conf_path[64];
static char  text[1 << 16];


static void
render(void)
{
    struct evbuffer  *b = evbuffer_new();
    size_t            n;

    assert_int_equal(mall_metrics_render(b, routes, 2), MALL_OK);
    n = evbuffer_get_length(b);
    assert_true(n < sizeof(text));
    evbuffer_remove(b, text, n);
    text[n] = '\0';
    evbuffer_free(b);
}


/* The value of the sample line that starts with series + " ". */
static double
value(const char *series)
{
    char        want[512];
    const char *p;

    snprintf(want, sizeof(want), "\n%s ", series);
    p = strstr(text, want);
    if (p == NULL) {
        return -1;
    }
    return strtod(p + strlen(want), NULL);
}


static int
setup(void **state)
{
    FILE  *f;
    int    fd;

    (void) state;
    snprintf(conf_path, sizeof(conf_path), "/tmp/mall-metrics-XXXXXX");
    fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("abc", f);
    fclose(f);
    assert_int_equal(mall_metrics_init("/usr/local/bin/mall-worker",
                                       conf_path), MALL_OK);
    return 0;
}


static int
teardown(void **state)
{
    (void) state;
    unlink(conf_path);
    return 0;
}


static void
count_children(void *arg, pid_t pid, int in_flight, uint64_t requests)
{
    int  *n = arg;

    (void) in_flight;
    assert_true(pid > 0);
    (void) requests;
    (*n)++;
}


static void
test_slots_of_several_processes_sum(void **state)
{
    mall_metrics_info_t  info;
    pid_t                pid;
    int                  st, i, n;

    (void) state;
    mall_metrics_info(&info);
    /* SHA-256("abc") */
    assert_string_equal(info.conf_sha256, "ba7816bf8f01cfea414140de5dae2223"
                        "b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(info.binary, "/usr/local/bin/mall-worker");
    assert_int_equal(info.delay_lag_ms, -1);

    mall_metrics_slot_start(0, getpid());
    mall_metrics_child(0);
    mall_metrics_request(0, 200, 500);          /* 0.5 ms */
    mall_metrics_request(0, 200, 30000);        /* 30 ms */
    mall_metrics_request(1, 201, 2000);
    mall_metrics_order_created();
    mall_metrics_inflight(3);

    for (i = 1; i <= 2; i++) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            mall_metrics_child(i);
            mall_metrics_request(0, 200, 9000000);   /* beyond 5 s */
            mall_metrics_request(-1, 404, 100);       /* unmatched */
            mall_metrics_request(1, 418, 100);        /* "other" */
            mall_metrics_order_refused("OUT_OF_STOCK");
            mall_metrics_order_refused("COUPON_SOLD_OUT");
            mall_metrics_order_refused("SOMETHING_NEW");
            mall_metrics_redis_batch(700);
            mall_metrics_redis_error(MM_REDIS_TIMEOUT);
            mall_metrics_verification(5);
            mall_metrics_payment(MM_PAY_DUPLICATE);
            mall_metrics_shed();
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_int_equal(st, 0);
    }
    mall_metrics_delay_lag(2500);

    render();
    assert_true(value("mall_worker_requests_total{method=\"GET\","
                      "route=\"/api/v1/products/{id}\",status=\"200\"}")
                == 4);
    assert_true(value("mall_worker_requests_total{method=\"-\","
                      "route=\"unmatched\",status=\"404\"}") == 2);
    assert_true(value("mall_worker_requests_total{method=\"POST\","
                      "route=\"/api/v1/orders\",status=\"other\"}") == 2);
    /* cumulative buckets: 0.5 ms, 30 ms, then two beyond the last */
    assert_true(value("mall_worker_request_duration_seconds_bucket{method="
                      "\"GET\",route=\"/api/v1/products/{id}\",le=\"0.001\"}")
                == 1);
    assert_true(value("mall_worker_request_duration_seconds_bucket{method="
                      "\"GET\",route=\"/api/v1/products/{id}\",le=\"0.05\"}")
                == 2);
    assert_true(value("mall_worker_request_duration_seconds_bucket{method="
                      "\"GET\",route=\"/api/v1/products/{id}\",le=\"5\"}")
                == 2);
    assert_true(value("mall_worker_request_duration_seconds_bucket{method="
                      "\"GET\",route=\"/api/v1/products/{id}\",le=\"+Inf\"}")
                == 4);
    assert_true(value("mall_worker_request_duration_seconds_count{method="
                      "\"GET\",route=\"/api/v1/products/{id}\"}") == 4);
    assert_true(value("mall_worker_orders_created_total") == 1);
    assert_true(value("mall_worker_orders_refused_total{reason="
                      "\"OUT_OF_STOCK\"}") == 2);
    assert_true(value("mall_worker_orders_refused_total{reason=\"COUPON\"}")
                == 2);
    assert_true(value("mall_worker_orders_refused_total{reason=\"other\"}")
                == 2);
    assert_true(value("mall_worker_redis_rtt_seconds_bucket{le=\"0.0005\"}")
                == 0);
    assert_true(value("mall_worker_redis_rtt_seconds_bucket{le=\"0.001\"}")
                == 2);
    assert_true(value("mall_worker_redis_errors_total{kind=\"timeout\"}")
                == 2);
    assert_true(value("mall_worker_pay_notify_verifications_total{result="
                      "\"bad_signature\"}") == 2);
    assert_true(value("mall_worker_payments_total{result=\"duplicate\"}")
                == 2);
    assert_true(value("mall_worker_shed_total") == 2);
    assert_true(value("mall_worker_delay_queue_lag_seconds") == 2.5);
    /* slot 0's gauge; the forked ones set theirs to 0 at start */
    assert_true(value("mall_worker_in_flight_requests") == 3);
    assert_non_null(strstr(text, "# TYPE mall_worker_request_duration_seconds"
                           " histogram\n"));

    /* the master marks the exited children's slots: no longer listed */
    for (i = 1; i <= 2; i++) {
        mall_metrics_slot_end(i);
    }
    n = 0;
    mall_metrics_children(count_children, &n);
    assert_int_equal(n, 1);
    mall_metrics_slot_end(0);
    n = 0;
    mall_metrics_children(count_children, &n);
    assert_int_equal(n, 0);

    /* a slot's counters stay when its child is gone */
    render();
    assert_true(value("mall_worker_orders_created_total") == 1);
    assert_true(value("mall_worker_in_flight_requests") == 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_slots_of_several_processes_sum,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
