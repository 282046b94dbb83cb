/*
 * WAF regression driver: runs every case of the .tsv files given against
 * lib/ directly, as the edge would feed it, and prints "N passed, N failed".
 *
 * A case is one line:  EXPECT <TAB> TAG <TAB> WHERE <TAB> PAYLOAD
 *   EXPECT  block | pass
 *   TAG     a tag one of the hits must carry when blocked (or "-")
 *   WHERE   arg:NAME  json (PAYLOAD is the body)  json:a.b (PAYLOAD is the
 *           string value at that path)  form (body)  form:NAME  header:NAME
 *           cookie:NAME  path  body  file:NAME (multipart filename)
 *           multipart:BOUNDARY (body)  flag:NAME (an edge fact)
 *   PAYLOAD \t \n \r \\ \xHH escapes
 * Every case also gets a shopper's ordinary request around it (method,
 * path, Host, User-Agent, Accept), so those must not score either.
 * Usage: waf_cases RULES_DIR CASES.tsv...
 */
#include "mall_waf.h"
#include "waf_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unescape(char *s)
{
    char *r = s, *w = s;
    while (*r) {
        if (*r == '\\' && r[1]) {
            r++;
            switch (*r) {
            case 't': *w++ = '\t'; r++; break;
            case 'n': *w++ = '\n'; r++; break;
            case 'r': *w++ = '\r'; r++; break;
            case 'x': {
                unsigned v = 0;
                sscanf(r + 1, "%2x", &v);
                *w++ = (char)v;
                r += 3;
                break;
            }
            default: *w++ = *r++; break;
            }
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static int has_tag(const mall_waf_rules_t *rs, const mall_waf_result_t *res,
    const char *tag)
{
    size_t i, tl = strlen(tag);
    if (strcmp(tag, "-") == 0)
        return 1;
    for (i = 0; i < res->nhits; i++) {
        const char *t = mall_waf_rule_tags(rs, res->hits[i].rule_id);
        while (t && *t) {
            size_t n = strcspn(t, ",");
            if (n == tl && memcmp(t, tag, n) == 0)
                return 1;
            t += n + (t[n] == ',');
        }
    }
    return 0;
}

static void show(const mall_waf_rules_t *rs, const mall_waf_result_t *res)
{
    size_t i;
    for (i = 0; i < res->nhits; i++)
        fprintf(stderr, "    hit %u (%s) on %s:%s \"%s\"\n",
                res->hits[i].rule_id,
                mall_waf_rule_tags(rs, res->hits[i].rule_id),
                mall_waf_target_name(res->hits[i].target), res->hits[i].name,
                res->hits[i].excerpt);
}

int main(int argc, char **argv)
{
    char err[512], line[65536], empty[1] = "";
    mall_waf_rules_t *rs;
    mall_waf_policy_t *pol;
    void *mem;
    size_t sz, pass = 0, fail = 0, blocks = 0, passes = 0;
    int i, round;
    void *cache;
    static const uint8_t cache_key[16] = "waf-cases-key-16";  /* test only */

    if (argc < 3) {
        fprintf(stderr, "usage: waf_cases RULES_DIR CASES.tsv...\n");
        return 2;
    }
    rs = waf_feed_compile_dir(argv[1], err, sizeof(err));
    if (!rs) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    pol = mall_waf_policy_new(rs, NULL, 0, err, sizeof(err));
    sz = mall_waf_scan_size(rs, 65536);
    mem = malloc(sz);
    if (!pol || !mem)
        return 1;
    cache = malloc(mall_waf_cache_size(4096));
    if (!cache || !mall_waf_cache_init(cache, mall_waf_cache_size(4096),
                                       cache_key))
        return 1;
    /* twice: the second round with the clean-value cache the first filled
     * from the benign requests must give every verdict again */
    for (round = 0; round < 2; round++)
    for (i = 2; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        unsigned ln = 0;
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        while (fgets(line, sizeof(line), f)) {
            char *expect, *tag, *where, *payload, *save = NULL;
            mall_waf_scan_t *s;
            mall_waf_result_t res;
            size_t plen;
            int want_block, ok;
            ln++;
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '#' || line[0] == '\0')
                continue;
            expect = strtok_r(line, "\t", &save);
            tag = strtok_r(NULL, "\t", &save);
            where = strtok_r(NULL, "\t", &save);
            payload = strtok_r(NULL, "", &save);
            if (!expect || !tag || !where) {
                fprintf(stderr, "%s:%u: bad case line\n", argv[i], ln);
                fail++;
                continue;
            }
            if (!payload)
                payload = empty;
            plen = unescape(payload);
            want_block = strcmp(expect, "block") == 0;
            s = mall_waf_scan_init(mem, sz, rs, pol);
            mall_waf_scan_use_cache(s, cache);
            waf_feed_baseline(s);
            if (waf_feed_case(s, where, (const uint8_t *)payload, plen) != 0) {
                fprintf(stderr, "%s:%u: unknown WHERE %s\n", argv[i], ln,
                        where);
                fail++;
                continue;
            }
            mall_waf_scan_result(s, &res);
            ok = res.blocked == want_block
                && (!want_block || has_tag(rs, &res, tag));
            if (round == 0)
                want_block ? blocks++ : passes++;
            if (ok) {
                pass++;
                continue;
            }
            fail++;
            fprintf(stderr, "FAIL %s:%u: expected %s [%s] %s, got score %d"
                    "%s\n", argv[i], ln, expect, tag, where, res.score,
                    round ? " (warm cache)" : "");
            show(rs, &res);
        }
        fclose(f);
    }
    printf("waf cases: %zu attack, %zu benign, each with a cold and a warm "
           "clean-value cache\n", blocks, passes);
    printf("%zu passed, %zu failed\n", pass, fail);
    mall_waf_policy_free(pol);
    mall_waf_free(rs);
    free(mem);
    free(cache);
    return fail ? 1 : 0;
}
