/*
 * Search text processing: tokenizer, stemmer, term weights of a product
 * and typo candidates. Pure code (no I/O, no allocation), unit-tested in
 * tests/unit/test_worker_search.c; search_index.c writes what it computes
 * into Redis and search.c queries it.
 *
 * Terms:
 *   - Chinese (CJK ideographs): character bigrams of each run of
 *     ideographs; unigrams too when indexing, and in a query only for a
 *     run of one character ("壳").
 *   - Latin: runs of ASCII letters and digits, lower-cased; purely
 *     alphabetic words are stemmed (plural s/es/ies, -ing, -ed, final e),
 *     so "cases", "case" and "Case" are one term.
 *
 * Weights (per product and term, summed over fields; a field counts a term
 * once): name 10, brand 6, category 4, description 1 for bigrams and
 * words; name 3, brand 2, category 1, description 1 for unigrams. A term
 * that is the head of a name or category earns a bonus (name +5, category
 * +2): Chinese compounds and English noun phrases are head-final, so the
 * bigram that ends a run of ideographs ("游戏手机" -> 手机) or the last
 * word ("phone case" -> case) names what the thing is. That is why "手机"
 * ranks phones (head 手机) before phone cases (手机壳, head 机壳).
 */
#ifndef SEARCH_TEXT_H
#define SEARCH_TEXT_H

#include <stddef.h>

#include "mall_common.h"

#define SEARCH_TERM_MAX      48      /* bytes incl. NUL */
#define SEARCH_QUERY_MAX     64      /* characters of a query */
#define SEARCH_WORD_MIN_FIX  3       /* typo correction from this length */
#define SEARCH_EDITS_MAX(n)  (54 * ((n) + 1))   /* bound of edits1 */
#define SEARCH_DOC_TERMS_MAX 1024
#define SEARCH_MAX_CATS      8

typedef enum {
    SEARCH_MODE_INDEX = 0,      /* bigrams and unigrams */
    SEARCH_MODE_QUERY           /* bigrams; unigram for a 1-char run */
} search_mode_e;

typedef struct {
    char      term[SEARCH_TERM_MAX];   /* stemmed, lower-cased */
    char      word[SEARCH_TERM_MAX];   /* Latin: the word before stemming */
    unsigned  latin:1;                 /* ASCII word (maybe with digits) */
    unsigned  alpha:1;                 /* Latin and letters only */
    unsigned  unigram:1;               /* one CJK character */
    unsigned  head:1;                  /* ends its run / last word */
} search_token_t;

typedef struct {
    const char  *name_zh;
    const char  *name_en;
    const char  *brand;
    const char  *description;
    const char  *categories[SEARCH_MAX_CATS];   /* names, zh and en */
    size_t       ncategories;
} search_doc_t;

typedef struct {
    char  term[SEARCH_TERM_MAX];
    int   weight;
} search_weight_t;

/*
 * Splits text[0..len) into tokens (at most max; the rest is dropped).
 * Sets *n. MALL_ERR when text is not valid UTF-8.
 */
int search_tokenize(const char *text, size_t len, search_mode_e mode,
    search_token_t *out, size_t max, size_t *n);

/*
 * Stems a lower-case ASCII word in place (NUL-terminated); returns its
 * new length. Words shorter than 4 letters are left alone.
 */
size_t search_stem(char *w);

/*
 * Writes the distinct lower-case words at edit distance 1 (deletion,
 * transposition, substitution, insertion over a-z) of w into out (at most
 * max). Returns the count. w must be lower-case letters, shorter than
 * SEARCH_TERM_MAX - 1.
 */
size_t search_edits1(const char *w, char (*out)[SEARCH_TERM_MAX],
    size_t max);

/*
 * Computes the weighted terms of a product document (see the file
 * comment), sorted by term. out has room for max entries. Sets *n.
 * MALL_OK or MALL_ERR (invalid UTF-8 in a field).
 */
int search_doc_terms(const search_doc_t *d, search_weight_t *out,
    size_t max, size_t *n);

/*
 * Counts the characters (code points) of a UTF-8 string; -1 when it is not
 * valid UTF-8.
 */
long search_utf8_chars(const char *s, size_t len);

#endif
