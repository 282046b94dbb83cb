/*
 * mall-seed: loads the demo catalog into Redis (idempotent: a re-run
 * replaces the catalog, nothing is duplicated).
 *
 *   mall-seed -c <mall-worker.conf> [-d <catalog.json>]
 *   mall-seed --redis host:port   [-d <catalog.json>]
 *
 * The data file defaults to $MALL_ROOT/conf/demo/catalog.json, else
 * conf/demo/catalog.json under the current directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "mall_conf.h"
#include "mall_log.h"
#include "mall_redis.h"
#include "seed_admin.h"
#include "seed_catalog.h"

#define SEED_FILE_MAX  (64 * 1024 * 1024)


static void
usage(void)
{
    fprintf(stderr, "usage: mall-seed (-c <conf> | --redis host:port) "
            "[-d <catalog.json>]\n");
}


/* Reads a whole file into a malloc'ed buffer; NULL with err filled. */
static char *
read_file(const char *path, size_t *len, mall_err_t *err)
{
    FILE    *f;
    char    *buf;
    size_t   n;

    f = fopen(path, "re");
    if (f == NULL) {
        mall_err_set(err, 0, "cannot open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(SEED_FILE_MAX);
    if (buf == NULL) {
        fclose(f);
        mall_err_set(err, 0, "out of memory");
        return NULL;
    }
    n = fread(buf, 1, SEED_FILE_MAX, f);
    if (ferror(f) || n == SEED_FILE_MAX) {
        mall_err_set(err, 0, "cannot read \"%s\" (or larger than 64 MB)",
                     path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}


int
main(int argc, char **argv)
{
    static const struct option  longopts[] = {
        { "redis", required_argument, NULL, 'r' },
        { "conf", required_argument, NULL, 'c' },
        { "data", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    static mall_conf_t  conf;
    const char         *conf_path, *redis_addr, *data, *root;
    char                host[256], def_data[1024], pwfile[512];
    char               *text;
    cJSON              *doc;
    mall_redis_t        r;
    mall_err_t          err;
    seed_stats_t        st;
    size_t              len;
    int                 opt, port, timeout_ms, rc, configured, created;

    conf_path = redis_addr = data = NULL;
    while ((opt = getopt_long(argc, argv, "c:d:r:h", longopts, NULL)) != -1)
    {
        switch (opt) {
        case 'c': conf_path = optarg; break;
        case 'd': data = optarg; break;
        case 'r': redis_addr = optarg; break;
        default:
            usage();
            return opt == 'h' ? 0 : EX_USAGE;
        }
    }
    if ((conf_path == NULL) == (redis_addr == NULL) || optind != argc) {
        usage();
        return EX_USAGE;
    }

    timeout_ms = 5000;
    pwfile[0] = '\0';
    mall_conf_init(&conf);      /* the defaults, without a file */
    if (conf_path != NULL) {
        if (mall_conf_load(conf_path, &conf, &err) != MALL_OK) {
            fprintf(stderr, "mall-seed: %s: %s\n", conf_path, err.msg);
            return EX_CONFIG;
        }
        snprintf(host, sizeof(host), "%s", conf.redis_host);
        port = conf.redis_port;
        snprintf(pwfile, sizeof(pwfile), "%s",
                 conf.auth.admin_bootstrap_password_file);
        mall_conf_wipe(&conf);

    } else if (mall_conf_parse_hostport(redis_addr, host, sizeof(host), &port,
                                        &err) != MALL_OK)
    {
        fprintf(stderr, "mall-seed: --redis: %s\n", err.msg);
        return EX_USAGE;
    }

    if (data == NULL) {
        root = getenv("MALL_ROOT");
        snprintf(def_data, sizeof(def_data), "%s%sconf/demo/catalog.json",
                 root != NULL ? root : "", root != NULL ? "/" : "");
        data = def_data;
    }

    text = read_file(data, &len, &err);
    if (text == NULL) {
        fprintf(stderr, "mall-seed: %s\n", err.msg);
        return EX_NOINPUT;
    }
    doc = cJSON_ParseWithLength(text, len);
    free(text);
    if (doc == NULL) {
        fprintf(stderr, "mall-seed: %s: not valid JSON\n", data);
        return EX_DATAERR;
    }

    mall_log_level = MALL_LOG_WARN;
    mall_redis_init(&r, host, port, timeout_ms);
    rc = seed_catalog_load(&r, doc, &conf, &st, &err);
    cJSON_Delete(doc);

    if (rc != MALL_OK) {
        mall_redis_close(&r);
        fprintf(stderr, "mall-seed: %s\n", err.msg);
        return rc == MALL_RETRY ? EX_UNAVAILABLE : EX_DATAERR;
    }

    /* dev only: the merchant admin of the demo stack (seed_admin.h) */
    rc = seed_admin_bootstrap(&r, pwfile, &configured, &created, &err);
    mall_redis_close(&r);
    if (rc != MALL_OK) {
        fprintf(stderr, "mall-seed: admin bootstrap: %s\n", err.msg);
        return rc == MALL_RETRY ? EX_UNAVAILABLE : EX_DATAERR;
    }
    if (configured) {
        printf("mall-seed: admin account \"%s\" %s (dev bootstrap)\n",
               SEED_ADMIN_USER, created ? "created" : "already exists");
    }

    printf("mall-seed: loaded %zu categories, %zu products, %zu skus into "
           "%s:%d (replaced %zu products)\n", st.categories, st.products,
           st.skus, host, port, st.removed);
    return 0;
}
