/*
 * TEST-ONLY keys of the fuzz targets, generated for them and trusted
 * nowhere (no config, no deployment, no other test uses them): the fuzzers
 * need real keys to reach signature checks, and the seed corpora hold
 * tokens signed with them.
 */
#ifndef FUZZ_KEYS_H
#define FUZZ_KEYS_H

/* P-256 private key, kid k1 (fuzz_jwt, fuzz_conf). */
static const char  test_only_es256_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgxRlpQHC+Ar4INlPX\n"
    "UOogoTzuq+rfSoxPSRFkCHEbKzGhRANCAAT5DR+bba7kCZSG1fp7TbgzG66lfTTD\n"
    "ydVks40VkGiOqlY2FfMIE8M7ms+n5cJOf0Y1IYM4VFVRlw21I+MNxEY/\n"
    "-----END PRIVATE KEY-----\n";

/* HS256 secret, kid h1 (32 bytes). */
static const char  test_only_hs256[] = "fuzz-hs256-test-only-secret-0001";

/* Edge -> worker HMAC key, kid e1 (32 bytes). */
static const char  test_only_edge_key[] = "edge-key-test-only-0123456789abc";

#endif
