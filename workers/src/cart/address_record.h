/*
 * One shipping address as stored (see address.c for the keys): sealed
 * whole with AES-256-GCM under aad "mall:addr:{uid}:{id}", opened, shown
 * (phone masked unless revealed), validated from a request body.
 */
#ifndef ADDRESS_RECORD_H
#define ADDRESS_RECORD_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "mall_ctx.h"
#include "storefront.h"

#define ADDR_SEALED_MAX  4096
#define ADDR_PLAIN_MAX   2048

typedef struct {
    char  hash[SF_UID_MAX + 16];
    char  ids[SF_UID_MAX + 24];
    char  def[SF_UID_MAX + 24];
} addr_keys_t;

/* The keys of uid's address book. */
void addr_keys(const char *uid, addr_keys_t *k);

/* The aad a record is sealed under: "mall:addr:{uid}:{id}". */
void addr_aad(const char *uid, int64_t id, char *aad, size_t sz);

/* Seals rec into out; MALL_OK or MALL_ERR. */
int addr_seal(mall_ctx_t *ctx, const char *uid, int64_t id, const cJSON *rec,
    char *out, size_t outsz, mall_err_t *err);

/* Opens a sealed record (caller deletes); NULL when it does not open. */
cJSON *addr_open(mall_ctx_t *ctx, const char *uid, int64_t id,
    const char *sealed, size_t len);

/* The client's view of a record (phone masked unless reveal); NULL on
 * OOM. */
cJSON *addr_view(const cJSON *rec, int64_t id, int is_default, int reveal);

/*
 * Validates the fields present in body into rec (copying them). With
 * all set every text field is required. Replies 422 and returns MALL_ERR
 * on the first bad field. *is_default is -1 when absent.
 */
int addr_validate(mall_ctx_t *ctx, const cJSON *body, cJSON *rec, int all,
    int *is_default);

#endif
