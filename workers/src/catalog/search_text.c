/*
 * Search text processing (see search_text.h).
 */
#include <stdlib.h>
#include <string.h>

#include "search_text.h"

enum {
    FIELD_NAME = 0,
    FIELD_BRAND,
    FIELD_CATEGORY,
    FIELD_DESC,
    FIELD_N
};

/* [field][0 = bigram/word, 1 = unigram] and the head bonus per field */
static const int  field_weight[FIELD_N][2] = {
    { 10, 3 }, { 6, 2 }, { 4, 1 }, { 1, 1 }
};
static const int  field_head_bonus[FIELD_N] = { 5, 0, 2, 0 };

typedef struct {
    char  term[SEARCH_TERM_MAX];
    int   field;
    int   unigram;
    int   head;
} doc_entry_t;


/*
 * Decodes one UTF-8 sequence at s[0..len); returns its length and sets
 * *cp, or 0 when it is invalid (overlong, surrogate, truncated).
 */
static size_t
utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned  c;
    size_t    n, i;

    c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; c &= 0x07;
    } else {
        return 0;
    }
    if (n > len) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff))
    {
        return 0;
    }
    *cp = c;
    return n;
}


static int
is_cjk(unsigned cp)
{
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf)
           || (cp >= 0xf900 && cp <= 0xfaff)
           || (cp >= 0x20000 && cp <= 0x2ffff);
}


static int
is_alnum(unsigned cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')
           || (cp >= '0' && cp <= '9');
}


long
search_utf8_chars(const char *s, size_t len)
{
    size_t    i, k;
    unsigned  cp;
    long      n;

    n = 0;
    for (i = 0; i < len; i += k) {
        k = utf8_next((const unsigned char *) s + i, len - i, &cp);
        if (k == 0 || cp == 0) {
            return -1;
        }
        n++;
    }
    return n;
}


static int
ends_with(const char *w, size_t len, const char *suf)
{
    size_t  n = strlen(suf);

    return len >= n && memcmp(w + len - n, suf, n) == 0;
}


size_t
search_stem(char *w)
{
    size_t  len;

    len = strlen(w);
    if (len < 4) {
        return len;
    }

    /* plurals */
    if (ends_with(w, len, "sses")) {
        len -= 2;
    } else if (ends_with(w, len, "ies") && len > 4) {
        len -= 3;
        w[len++] = 'y';
    } else if (ends_with(w, len, "xes") || ends_with(w, len, "ches")
               || ends_with(w, len, "shes") || ends_with(w, len, "zes"))
    {
        len -= 2;
    } else if (w[len - 1] == 's' && !ends_with(w, len, "ss")
               && !ends_with(w, len, "us") && !ends_with(w, len, "is"))
    {
        len -= 1;
    }

    /* -ing, -ed, keeping a stem of at least 3 letters */
    if (len >= 6 && ends_with(w, len, "ing")) {
        len -= 3;
    } else if (len >= 5 && ends_with(w, len, "ed")) {
        len -= 2;
    } else {
        goto final_e;
    }
    /* running -> runn -> run (but not fall, pass, buzz) */
    if (len >= 4 && w[len - 1] == w[len - 2] && w[len - 1] != 'l'
        && w[len - 1] != 's' && w[len - 1] != 'z'
        && strchr("aeiou", w[len - 1]) == NULL)
    {
        len--;
    }

final_e:
    /* game/gaming/games -> gam, phone/phones -> phon */
    if (len > 3 && w[len - 1] == 'e') {
        len--;
    }
    w[len] = '\0';
    return len;
}


static void
emit_cjk(search_token_t *out, size_t max, size_t *n, const char *s,
    size_t len, int unigram, int head)
{
    search_token_t  *t;

    if (*n >= max || len >= SEARCH_TERM_MAX) {
        return;
    }
    t = &out[(*n)++];
    memset(t, 0, sizeof(*t));
    memcpy(t->term, s, len);
    t->unigram = unigram;
    t->head = head;
}


/*
 * Emits the tokens of one run of ideographs: starts[] holds the byte
 * offset of each of its nchars characters, end the offset after the last.
 */
static void
emit_cjk_run(const char *text, const size_t *starts, size_t nchars,
    size_t end, search_mode_e mode, search_token_t *out, size_t max,
    size_t *n)
{
    size_t  i, e;

    for (i = 0; i < nchars; i++) {
        e = i + 1 < nchars ? starts[i + 1] : end;
        if (mode == SEARCH_MODE_INDEX || nchars == 1) {
            emit_cjk(out, max, n, text + starts[i], e - starts[i], 1,
                     i + 1 == nchars);
        }
        if (i + 1 < nchars) {
            e = i + 2 < nchars ? starts[i + 2] : end;
            emit_cjk(out, max, n, text + starts[i], e - starts[i], 0,
                     i + 2 == nchars);
        }
    }
}


int
search_tokenize(const char *text, size_t len, search_mode_e mode,
    search_token_t *out, size_t max, size_t *n)
{
    const unsigned char  *s = (const unsigned char *) text;
    search_token_t       *t, *last_alpha;
    size_t                i, k, wlen, nrun, run_end;
    size_t                starts[256];
    unsigned              cp;
    int                   digits;

    *n = 0;
    nrun = 0;
    run_end = 0;
    last_alpha = NULL;

    for (i = 0; i < len; i += k) {
        k = utf8_next(s + i, len - i, &cp);
        if (k == 0) {
            return MALL_ERR;
        }

        if (is_cjk(cp)) {
            if (nrun == MALL_ARRAY_LEN(starts)) {
                emit_cjk_run(text, starts, nrun, i, mode, out, max, n);
                nrun = 0;
            }
            starts[nrun++] = i;
            run_end = i + k;
            continue;
        }
        if (nrun > 0) {
            emit_cjk_run(text, starts, nrun, run_end, mode, out, max, n);
            nrun = 0;
        }
        if (!is_alnum(cp)) {
            continue;
        }

        /* a Latin word: letters and digits */
        wlen = 0;
        digits = 0;
        while (i + wlen < len && is_alnum(s[i + wlen])) {
            digits |= s[i + wlen] >= '0' && s[i + wlen] <= '9';
            wlen++;
        }
        k = wlen;
        if (wlen >= SEARCH_TERM_MAX - 1 || *n >= max) {
            continue;
        }
        t = &out[(*n)++];
        memset(t, 0, sizeof(*t));
        for (k = 0; k < wlen; k++) {
            t->word[k] = (char) (s[i + k] >= 'A' && s[i + k] <= 'Z'
                                 ? s[i + k] + 32 : s[i + k]);
        }
        memcpy(t->term, t->word, wlen + 1);
        t->latin = 1;
        t->alpha = !digits;
        if (t->alpha) {
            search_stem(t->term);
            last_alpha = t;
        }
    }
    if (nrun > 0) {
        emit_cjk_run(text, starts, nrun, run_end, mode, out, max, n);
    }
    if (last_alpha != NULL) {
        last_alpha->head = 1;
    }
    return MALL_OK;
}


static size_t
edits_add(char (*out)[SEARCH_TERM_MAX], size_t n, size_t max,
    const char *w, const char *cand)
{
    size_t  i;

    if (n >= max || strcmp(w, cand) == 0) {
        return n;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(out[i], cand) == 0) {
            return n;
        }
    }
    memcpy(out[n], cand, strlen(cand) + 1);
    return n + 1;
}


size_t
search_edits1(const char *w, char (*out)[SEARCH_TERM_MAX], size_t max)
{
    char    buf[SEARCH_TERM_MAX + 1];
    size_t  len, i, n;
    char    c;

    len = strlen(w);
    n = 0;
    if (len == 0 || len + 2 > SEARCH_TERM_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {                         /* deletions */
        memcpy(buf, w, i);
        memcpy(buf + i, w + i + 1, len - i);
        n = edits_add(out, n, max, w, buf);
    }
    for (i = 0; i + 1 < len; i++) {                     /* transpositions */
        memcpy(buf, w, len + 1);
        buf[i] = w[i + 1];
        buf[i + 1] = w[i];
        n = edits_add(out, n, max, w, buf);
    }
    for (i = 0; i < len; i++) {                         /* substitutions */
        for (c = 'a'; c <= 'z'; c++) {
            if (c == w[i]) {
                continue;
            }
            memcpy(buf, w, len + 1);
            buf[i] = c;
            n = edits_add(out, n, max, w, buf);
        }
    }
    for (i = 0; i <= len; i++) {                        /* insertions */
        for (c = 'a'; c <= 'z'; c++) {
            memcpy(buf, w, i);
            buf[i] = c;
            memcpy(buf + i + 1, w + i, len - i + 1);
            n = edits_add(out, n, max, w, buf);
        }
    }
    return n;
}


static int
entry_cmp(const void *a, const void *b)
{
    const doc_entry_t  *x = a, *y = b;
    int                 c;

    c = strcmp(x->term, y->term);
    if (c != 0) {
        return c;
    }
    return x->field - y->field;
}


/* Tokenizes one field into entries; MALL_OK or MALL_ERR (bad UTF-8). */
static int
doc_field(const char *text, int field, doc_entry_t *e, size_t max,
    size_t *ne)
{
    static search_token_t  toks[SEARCH_DOC_TERMS_MAX];
    size_t                 nt, i;

    if (text == NULL || text[0] == '\0') {
        return MALL_OK;
    }
    if (search_tokenize(text, strlen(text), SEARCH_MODE_INDEX, toks,
                        MALL_ARRAY_LEN(toks), &nt) != MALL_OK)
    {
        return MALL_ERR;
    }
    for (i = 0; i < nt && *ne < max; i++) {
        memcpy(e[*ne].term, toks[i].term, SEARCH_TERM_MAX);
        e[*ne].field = field;
        e[*ne].unigram = toks[i].unigram;
        e[*ne].head = toks[i].head;
        (*ne)++;
    }
    return MALL_OK;
}


int
search_doc_terms(const search_doc_t *d, search_weight_t *out, size_t max,
    size_t *n)
{
    static doc_entry_t  e[SEARCH_DOC_TERMS_MAX * 2];
    size_t              ne, i, j;
    int                 w, f, head, present;
    int                 rc;

    ne = 0;
    *n = 0;
    rc = doc_field(d->name_zh, FIELD_NAME, e, MALL_ARRAY_LEN(e), &ne);
    rc |= doc_field(d->name_en, FIELD_NAME, e, MALL_ARRAY_LEN(e), &ne);
    rc |= doc_field(d->brand, FIELD_BRAND, e, MALL_ARRAY_LEN(e), &ne);
    for (i = 0; i < d->ncategories && i < SEARCH_MAX_CATS; i++) {
        rc |= doc_field(d->categories[i], FIELD_CATEGORY, e,
                        MALL_ARRAY_LEN(e), &ne);
    }
    rc |= doc_field(d->description, FIELD_DESC, e, MALL_ARRAY_LEN(e), &ne);
    if (rc != MALL_OK) {
        return MALL_ERR;
    }

    qsort(e, ne, sizeof(e[0]), entry_cmp);

    /* one group per term; within it, entries ordered by field */
    for (i = 0; i < ne; i = j) {
        w = 0;
        j = i;
        for (f = 0; f < FIELD_N; f++) {
            present = 0;
            head = 0;
            while (j < ne && e[j].field == f
                   && strcmp(e[j].term, e[i].term) == 0)
            {
                present = 1;
                head |= e[j].head;
                j++;
            }
            if (present) {
                w += field_weight[f][e[i].unigram ? 1 : 0]
                     + (head && !e[i].unigram ? field_head_bonus[f] : 0);
            }
        }
        if (*n < max) {
            memcpy(out[*n].term, e[i].term, SEARCH_TERM_MAX);
            out[*n].weight = w;
            (*n)++;
        }
    }
    return MALL_OK;
}
