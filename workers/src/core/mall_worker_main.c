/*
 * mall-worker: the backend worker daemon.
 *
 *   mall-worker -c <conf>        run (master + prefork children)
 *   mall-worker -c <conf> -t     check the config and exit 0, or 78
 *   mall-worker -c <conf> -r <date|yesterday>
 *                                reconcile one day of WeChat Pay and exit
 *                                (reconcile.h; mallctl reconcile)
 *   mall-worker -c <conf> -k     check and repair stock and holds, exit
 *                                (stock_check.h; mallctl check-stock)
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mall_conf.h"
#include "mall_log.h"
#include "mall_proc.h"
#include "reconcile.h"
#include "stock_check.h"

static mall_conf_t  conf;


static void
usage(void)
{
    fprintf(stderr, "usage: mall-worker -c <conf> [-t | -r <date> | -k]\n");
}


int
main(int argc, char **argv)
{
    const char  *path, *reconcile;
    mall_err_t   err;
    int          opt, test_only, check_stock, rc;

    path = reconcile = NULL;
    test_only = check_stock = 0;

    while ((opt = getopt(argc, argv, "c:tr:kh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test_only = 1;
            break;
        case 'r':
            reconcile = optarg;
            break;
        case 'k':
            check_stock = 1;
            break;
        default:
            usage();
            return opt == 'h' ? 0 : EX_USAGE;
        }
    }
    if (path == NULL || optind != argc) {
        usage();
        return EX_USAGE;
    }

    if (mall_conf_load(path, &conf, &err) != MALL_OK) {
        fprintf(stderr, "mall-worker: %s: %s\n", path, err.msg);
        if (test_only) {
            fprintf(stderr, "mall-worker: configuration file %s test "
                    "failed\n", path);
        }
        return EX_CONFIG;
    }

    if (test_only) {
        fprintf(stderr, "mall-worker: configuration file %s test is "
                "successful\n", path);
        mall_conf_wipe(&conf);
        return 0;
    }

    if (reconcile != NULL) {
        rc = reconcile_tool(&conf, reconcile);
        mall_conf_wipe(&conf);
        return rc;
    }

    if (check_stock) {
        rc = stock_check_tool(&conf);
        mall_conf_wipe(&conf);
        return rc;
    }

    mall_log_level = conf.log_level;
    if (mall_log_open(conf.error_log, &err) != MALL_OK) {
        fprintf(stderr, "mall-worker: error_log %s\n", err.msg);
        mall_conf_wipe(&conf);
        return EX_CONFIG;
    }

    rc = mall_master_run(path, &conf);
    mall_conf_wipe(&conf);
    return rc;
}
