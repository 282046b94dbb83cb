/*
 * workers/src/catalog/search_text.c: the search query (?q=, decoded) and
 * product text (merchant input) as search.c and search_index.c use them:
 * search_tokenize into 64 query tokens or 512 index words, search_edits1
 * into SEARCH_EDITS_MAX(SEARCH_TERM_MAX) candidates for each Latin word
 * (search_fix_word), search_stem, and search_doc_terms of a whole product.
 *
 * Input: a mode byte, then '\n'-separated fields: for a query the first
 * field; for a document name_zh, name_en, brand, description and up to
 * eight category names. Oracles: every term and word is NUL-terminated
 * within SEARCH_TERM_MAX; candidates are distinct, differ from the word,
 * and are one edit away in length; weights are positive and terms sorted.
 */
#include "fuzz_common.h"
#include "search_text.h"

#define QUERY_TERMS   64                       /* search.c */
#define INDEX_WORDS   512                      /* search_index.c */
#define FIX_MAX       SEARCH_EDITS_MAX(SEARCH_TERM_MAX)


static void
edits(const char *w)
{
    char    (*out)[SEARCH_TERM_MAX];
    char      stem[SEARCH_TERM_MAX];
    size_t    n, i, wl, cl;

    out = fz_alloc(FIX_MAX * sizeof(*out));
    n = search_edits1(w, out, FIX_MAX);
    FZ_ASSERT(n <= FIX_MAX);
    wl = strlen(w);
    for (i = 0; i < n; i++) {
        FZ_ASSERT(memchr(out[i], '\0', SEARCH_TERM_MAX) != NULL);
        FZ_ASSERT(strcmp(out[i], w) != 0);
        cl = strlen(out[i]);
        FZ_ASSERT(cl + 1 >= wl && cl <= wl + 1);
        if (i > 0) {
            FZ_ASSERT(strcmp(out[i], out[0]) != 0);
        }
        /* search.c stems what Redis knows of them */
        memcpy(stem, out[i], SEARCH_TERM_MAX);
        FZ_ASSERT(search_stem(stem) == strlen(stem));
    }
    free(out);
}


static void
tokens(const char *text, size_t len, search_mode_e mode, size_t max)
{
    search_token_t  *t;
    size_t           n, i;

    t = fz_alloc(max * sizeof(*t));
    if (search_tokenize(text, len, mode, t, max, &n) != MALL_OK) {
        FZ_ASSERT(search_utf8_chars(text, len) < 0
                  || memchr(text, '\0', len) != NULL);
        free(t);
        return;
    }
    FZ_ASSERT(n <= max);
    for (i = 0; i < n; i++) {
        FZ_ASSERT(memchr(t[i].term, '\0', SEARCH_TERM_MAX) != NULL);
        FZ_ASSERT(memchr(t[i].word, '\0', SEARCH_TERM_MAX) != NULL);
        FZ_ASSERT(t[i].term[0] != '\0');
        if (t[i].alpha && mode == SEARCH_MODE_QUERY && i < 2) {
            edits(t[i].word);
        }
    }
    free(t);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *f[12];
    size_t             flen[12], i, n, nf;
    fz_in_t            in;
    uint8_t            mode;
    const uint8_t     *p;
    search_doc_t       d;
    search_weight_t   *w;

    in.p = data;
    in.n = size;
    mode = fz_byte(&in);

    if (mode & 1) {
        /* a query, as search.c gets it: bytes with a length */
        flen[0] = fz_field(&in, '\n', &p);
        f[0] = fz_dup(p, flen[0]);
        tokens(f[0], flen[0], SEARCH_MODE_QUERY, QUERY_TERMS);
        tokens(f[0], flen[0], SEARCH_MODE_INDEX, INDEX_WORDS);
        search_utf8_chars(f[0], flen[0]);
        free(f[0]);
        return 0;
    }

    /* a product document: C strings from the catalog record */
    nf = 4 + (mode >> 1) % (SEARCH_MAX_CATS + 1);
    for (i = 0; i < nf; i++) {
        f[i] = fz_str_field(&in, '\n');
    }
    memset(&d, 0, sizeof(d));
    d.name_zh = f[0];
    d.name_en = f[1];
    d.brand = f[2];
    d.description = f[3];
    d.ncategories = nf - 4;
    for (i = 0; i < d.ncategories; i++) {
        d.categories[i] = f[4 + i];
    }

    w = fz_alloc(SEARCH_DOC_TERMS_MAX * sizeof(*w));
    if (search_doc_terms(&d, w, SEARCH_DOC_TERMS_MAX, &n) == MALL_OK) {
        FZ_ASSERT(n <= SEARCH_DOC_TERMS_MAX);
        for (i = 0; i < n; i++) {
            FZ_ASSERT(w[i].weight > 0);
            FZ_ASSERT(memchr(w[i].term, '\0', SEARCH_TERM_MAX) != NULL);
            FZ_ASSERT(i == 0 || strcmp(w[i - 1].term, w[i].term) < 0);
        }
    }
    free(w);

    /* search_index.c: the Latin words of every field */
    for (i = 0; i < nf; i++) {
        tokens(f[i], strlen(f[i]), SEARCH_MODE_QUERY, INDEX_WORDS);
        free(f[i]);
    }
    return 0;
}
