/*
 * Dev-only bootstrap of the merchant admin account: mall-seed creates
 * "admin" (role admin) once, with the password from $MALL_ADMIN_PASSWORD
 * or else the first line of admin_bootstrap_password_file. Production
 * deployments set neither and create accounts deliberately.
 */
#ifndef SEED_ADMIN_H
#define SEED_ADMIN_H

#include "mall_common.h"
#include "mall_redis.h"

#define SEED_ADMIN_USER  "admin"

/*
 * Creates the account when a bootstrap password is configured and the
 * account does not exist. *created says whether it did; *configured
 * whether any password source was set. MALL_OK/ERR/RETRY.
 */
int seed_admin_bootstrap(mall_redis_t *r, const char *password_file,
    int *configured, int *created, mall_err_t *err);

#endif
