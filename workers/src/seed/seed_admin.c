/*
 * Dev admin bootstrap for mall-seed (see seed_admin.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin_auth.h"
#include "auth_password.h"
#include "seed_admin.h"


int
seed_admin_bootstrap(mall_redis_t *r, const char *password_file,
    int *configured, int *created, mall_err_t *err)
{
    char         buf[AUTH_PASSWORD_MAX + 2];
    const char  *env;
    FILE        *f;
    size_t       len;
    int          rc;

    *configured = 0;
    *created = 0;

    env = getenv("MALL_ADMIN_PASSWORD");
    if (env != NULL && env[0] != '\0') {
        len = strlen(env);
        if (len > AUTH_PASSWORD_MAX) {
            return mall_err_set(err, 0, "MALL_ADMIN_PASSWORD is too long");
        }
        memcpy(buf, env, len + 1);

    } else if (password_file != NULL && password_file[0] != '\0') {
        f = fopen(password_file, "re");
        if (f == NULL) {
            return mall_err_set(err, 0, "cannot open \"%s\"", password_file);
        }
        if (fgets(buf, sizeof(buf), f) == NULL) {
            buf[0] = '\0';
        }
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        if (buf[0] == '\0') {
            return mall_err_set(err, 0, "\"%s\" holds no password",
                                password_file);
        }

    } else {
        return MALL_OK;
    }

    *configured = 1;
    rc = admin_account_create(r, SEED_ADMIN_USER, "admin", buf, created,
                              err);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}
