/*
 * Search text processing: tokenizer (CJK bigrams/unigrams, Latin words),
 * stemming, typo candidates at edit distance 1, product term weights.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "search_text.h"

static search_token_t  toks[256];


static size_t
tokenize(const char *s, search_mode_e mode)
{
    size_t  n;

    assert_int_equal(search_tokenize(s, strlen(s), mode, toks, 256, &n),
                     MALL_OK);
    return n;
}


static int
has_term(size_t n, const char *t)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(toks[i].term, t) == 0) {
            return 1;
        }
    }
    return 0;
}


static void
test_cjk_bigrams(void **state)
{
    size_t  n;

    (void) state;
    n = tokenize("手机壳", SEARCH_MODE_QUERY);
    assert_int_equal(n, 2);
    assert_string_equal(toks[0].term, "手机");
    assert_false(toks[0].head);
    assert_string_equal(toks[1].term, "机壳");
    assert_true(toks[1].head);

    n = tokenize("游戏手机", SEARCH_MODE_QUERY);
    assert_string_equal(toks[n - 1].term, "手机");
    assert_true(toks[n - 1].head);

    /* a one-character query is a unigram; indexing adds unigrams */
    n = tokenize("壳", SEARCH_MODE_QUERY);
    assert_int_equal(n, 1);
    assert_true(toks[0].unigram);
    n = tokenize("手机壳", SEARCH_MODE_INDEX);
    assert_int_equal(n, 5);
    assert_true(has_term(n, "壳") && has_term(n, "手") && has_term(n, "手机"));
}


static void
test_latin_words_and_mixed(void **state)
{
    size_t  n;

    (void) state;
    n = tokenize("HUAWEI Mate 60 Pro 5G 手机", SEARCH_MODE_QUERY);
    assert_true(has_term(n, "huawei"));
    assert_true(has_term(n, "mat"));       /* mate -> mat (final e) */
    assert_true(has_term(n, "60"));
    assert_true(has_term(n, "5g"));
    assert_true(has_term(n, "手机"));
    n = tokenize("phone case", SEARCH_MODE_QUERY);
    assert_int_equal(n, 2);
    assert_string_equal(toks[0].word, "phone");
    assert_string_equal(toks[0].term, "phon");
    assert_false(toks[0].head);
    assert_true(toks[1].head);
}


static void
test_invalid_utf8(void **state)
{
    size_t  n;

    (void) state;
    assert_int_equal(search_tokenize("\xe6\x89", 2, SEARCH_MODE_QUERY, toks,
                                     256, &n), MALL_ERR);
    assert_int_equal(search_tokenize("\xc0\xaf", 2, SEARCH_MODE_QUERY, toks,
                                     256, &n), MALL_ERR);
    assert_int_equal(search_utf8_chars("手机", strlen("手机")), 2);
    assert_int_equal(search_utf8_chars("\xff", 1), -1);
}


static void
stem_is(const char *in, const char *out)
{
    char  w[SEARCH_TERM_MAX];

    snprintf(w, sizeof(w), "%s", in);
    search_stem(w);
    assert_string_equal(w, out);
}


static void
test_stemming(void **state)
{
    (void) state;
    stem_is("cases", "cas");
    stem_is("case", "cas");
    stem_is("phones", "phon");
    stem_is("phone", "phon");
    stem_is("berries", "berry");
    stem_is("boxes", "box");
    stem_is("dresses", "dress");
    stem_is("charging", "charg");
    stem_is("charger", "charger");
    stem_is("running", "run");
    stem_is("boiled", "boil");
    stem_is("gaming", "gam");
    stem_is("game", "gam");
    stem_is("bus", "bus");
    stem_is("glass", "glass");
    stem_is("tea", "tea");
}


static int
has_cand(char (*c)[SEARCH_TERM_MAX], size_t n, const char *w)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(c[i], w) == 0) {
            return 1;
        }
    }
    return 0;
}


static void
test_edits1(void **state)
{
    static char  c[SEARCH_EDITS_MAX(8)][SEARCH_TERM_MAX];
    size_t       n, i, j;

    (void) state;
    n = search_edits1("phnoe", c, SEARCH_EDITS_MAX(8));
    assert_true(has_cand(c, n, "phone"));     /* transposition */
    assert_true(has_cand(c, n, "phnoes"));    /* insertion */
    assert_true(has_cand(c, n, "phoe"));      /* deletion */
    assert_true(has_cand(c, n, "shnoe"));     /* substitution */
    assert_false(has_cand(c, n, "phnoe"));
    assert_false(has_cand(c, n, "phones"));   /* distance 2 */
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            assert_string_not_equal(c[i], c[j]);
        }
    }
    /* bounded by the caller's room */
    assert_int_equal(search_edits1("phnoe", c, 3), 3);
}


static int
weight_of(const search_weight_t *w, size_t n, const char *t)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(w[i].term, t) == 0) {
            return w[i].weight;
        }
    }
    return 0;
}


static void
test_doc_weights_rank_heads(void **state)
{
    static search_weight_t  w[SEARCH_DOC_TERMS_MAX];
    search_doc_t            phone, cover;
    size_t                  n;
    int                     wp, wc;

    (void) state;
    memset(&phone, 0, sizeof(phone));
    phone.name_zh = "小米 Redmi K70 游戏手机";
    phone.name_en = "Xiaomi Redmi K70 gaming phone";
    phone.brand = "Xiaomi";
    phone.categories[0] = "手机";
    phone.categories[1] = "Smartphones";
    phone.ncategories = 2;
    phone.description = "游戏手机";

    cover = phone;
    cover.name_zh = "ESR 亿色 iPhone 15 硅胶防摔手机壳";
    cover.name_en = "ESR iPhone 15 silicone phone case";
    cover.categories[0] = "手机壳";
    cover.categories[1] = "Phone cases";

    assert_int_equal(search_doc_terms(&phone, w, SEARCH_DOC_TERMS_MAX, &n),
                     MALL_OK);
    wp = weight_of(w, n, "手机");
    assert_int_equal(wp, 10 + 5 + 4 + 2 + 1);
    assert_int_equal(weight_of(w, n, "xiaomi"), 10 + 6);
    assert_int_equal(search_doc_terms(&cover, w, SEARCH_DOC_TERMS_MAX, &n),
                     MALL_OK);
    wc = weight_of(w, n, "手机");
    assert_true(wp > wc);
    /* "phone case": the case names both words, its head is "case" */
    assert_true(weight_of(w, n, "phon") + weight_of(w, n, "cas") > wp);
    /* sorted, distinct */
    for (size_t i = 1; i < n; i++) {
        assert_true(strcmp(w[i - 1].term, w[i].term) < 0);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cjk_bigrams),
        cmocka_unit_test(test_latin_words_and_mixed),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_stemming),
        cmocka_unit_test(test_edits1),
        cmocka_unit_test(test_doc_weights_rank_heads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
