/*
 * Admin accounts (see admin_auth.c for the routes and Redis keys).
 */
#ifndef ADMIN_AUTH_H
#define ADMIN_AUTH_H

#include "mall_common.h"
#include "mall_redis.h"

#define ADMIN_USERNAME_MAX  64

/* [A-Za-z0-9._-]{1,64} */
int admin_username_valid(const char *s);

/* "admin" or "operator" */
int admin_role_valid(const char *s);

/*
 * Creates mall:admin:{username} with role and a PBKDF2 hash of password
 * unless the account exists (then nothing changes and *created = 0).
 * Blocks for one PBKDF2. MALL_OK, MALL_ERR, MALL_RETRY.
 */
int admin_account_create(mall_redis_t *r, const char *username,
    const char *role, const char *password, int *created, mall_err_t *err);

#endif
