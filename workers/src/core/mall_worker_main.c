/*
 * mall-worker: the backend worker daemon.
 *
 *   mall-worker -c <conf>        run (master + prefork children)
 *   mall-worker -c <conf> -t     check the config and exit 0, or 78
 *   mall-worker --check-config <conf>
 *                                check silently: exit 0, or print
 *                                "FILE:LINE: reason" and exit 1
 *   mall-worker -c <conf> -r <date|yesterday>
 *                                reconcile one day of WeChat Pay and exit
 *                                (reconcile.h; mallctl reconcile)
 *   mall-worker -c <conf> -k     check and repair stock and holds, exit
 *                                (stock_check.h; mallctl check-stock)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "mall_conf.h"
#include "mall_log.h"
#include "mall_proc.h"
#include "mall_upgrade.h"
#include "reconcile.h"
#include "stock_check.h"

static mall_conf_t  conf;


static void
usage(void)
{
    fprintf(stderr, "usage: mall-worker -c <conf> [-t | -r <date> | -k]\n"
            "       mall-worker --check-config <conf>\n");
}


/* Lines in path (the line of errors that belong to no one line). */
static int
count_lines(const char *path)
{
    FILE  *f;
    int    c, n, last;

    f = fopen(path, "re");
    if (f == NULL) {
        return 0;
    }
    n = 0;
    last = '\n';
    while ((c = getc(f)) != EOF) {
        if (c == '\n') {
            n++;
        }
        last = c;
    }
    fclose(f);
    return last != '\n' ? n + 1 : n;
}


/*
 * --check-config FILE: 0 when the config loads; else "FILE:LINE: reason"
 * on stderr and 1. Errors of no particular line (a required directive
 * missing, keys that do not fit together) point at the file's end.
 */
static int
check_config(const char *path)
{
    mall_err_t   err;
    const char  *reason;
    long         line;
    char        *end;

    if (mall_conf_load(path, &conf, &err) == MALL_OK) {
        mall_conf_wipe(&conf);
        return 0;
    }
    reason = err.msg;
    line = count_lines(path);
    if (strncmp(err.msg, "line ", 5) == 0) {
        line = strtol(err.msg + 5, &end, 10);
        if (end[0] == ':' && end[1] == ' ') {
            reason = end + 2;
        }
    }
    fprintf(stderr, "%s:%ld: %s\n", path, line, reason);
    return 1;
}


int
main(int argc, char **argv)
{
    const char  *path, *reconcile;
    mall_err_t   err;
    int          opt, test_only, check_stock, rc;

    path = reconcile = NULL;
    test_only = check_stock = 0;

    if (argc >= 2 && strcmp(argv[1], "--check-config") == 0) {
        if (argc != 3) {
            usage();
            return EX_USAGE;
        }
        return check_config(argv[2]);
    }
    mall_upgrade_set_argv(argc, argv);

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
