/*
 * Unit tests of lib/mall_waf_transform.c: each transformation on its own
 * (waf_tf_apply), the chain the shipped rules use (waf_tf_chain), and the
 * contract every scan relies on: no transformation makes a value longer.
 */
#include "mall_waf_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* in -> transformed copy (NUL-terminated), its length in *outlen */
static const char *
tf_n(int tf, const char *in, size_t inlen, size_t *outlen)
{
    static uint8_t  buf[4096];
    size_t          n;

    assert_true(inlen < sizeof(buf));
    memcpy(buf, in, inlen);
    n = waf_tf_apply(tf, buf, inlen);
    assert_true(n <= inlen);
    buf[n] = '\0';
    if (outlen != NULL) {
        *outlen = n;
    }
    return (const char *) buf;
}


static const char *
tf(int t, const char *in)
{
    return tf_n(t, in, strlen(in), NULL);
}


static void
test_names(void **state)
{
    static const char *const  names[] = {
        "urldecode", "htmldecode", "jsondecode", "lowercase", "compress_ws",
        "sqlcomments", "fullwidth", "base64", "removenull",
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int  t = waf_tf_lookup(names[i], strlen(names[i]));

        assert_true(t >= 0);
        assert_string_equal(waf_tf_name(t), names[i]);
    }
    assert_int_equal(waf_tf_lookup("urldecod", 8), -1);
    assert_int_equal(waf_tf_lookup("urldecodex", 10), -1);
    assert_int_equal(waf_tf_lookup("none", 4), -1);
    assert_string_equal(waf_tf_name(-1), "?");
    assert_string_equal(waf_tf_name(TF_COUNT), "?");
}


static void
test_urldecode(void **state)
{
    (void) state;
    assert_string_equal(tf(TF_URLDECODE, "1%27%20OR%201%3D1--"),
                        "1' OR 1=1--");
    assert_string_equal(tf(TF_URLDECODE, "a+b+c"), "a b c");
    /* lower and upper hex digits */
    assert_string_equal(tf(TF_URLDECODE, "%3c%3C%2f"), "<</");
    /* double and triple encoding: repeated to a fixed point */
    assert_string_equal(tf(TF_URLDECODE, "%2527"), "'");
    assert_string_equal(tf(TF_URLDECODE, "%252527"), "'");
    assert_string_equal(tf(TF_URLDECODE, "..%252f..%252fetc%252fpasswd"),
                        "../../etc/passwd");
    /* %uXXXX (IIS) to UTF-8 */
    assert_string_equal(tf(TF_URLDECODE, "%u003cscript%u003E"), "<script>");
    assert_string_equal(tf(TF_URLDECODE, "%u4e2d"), "\xe4\xb8\xad");
    assert_string_equal(tf(TF_URLDECODE, "%uff1c"), "\xef\xbc\x9c");
    /* a lone surrogate is not UTF-8: '?' */
    assert_string_equal(tf(TF_URLDECODE, "%uD800x"), "?x");
    /* bad or cut escapes stay as they are */
    assert_string_equal(tf(TF_URLDECODE, "100%"), "100%");
    assert_string_equal(tf(TF_URLDECODE, "%zz%4"), "%zz%4");
    assert_string_equal(tf(TF_URLDECODE, "50%off"), "50%off");
    assert_string_equal(tf(TF_URLDECODE, "%u12"), "%u12");
    /* nothing to do */
    assert_string_equal(tf(TF_URLDECODE, "plain text"), "plain text");
    assert_string_equal(tf(TF_URLDECODE, ""), "");
}


static void
test_urldecode_nul(void **state)
{
    size_t       n;
    const char  *out;

    (void) state;
    out = tf_n(TF_URLDECODE, "a%00b", 5, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "a\0b", 3);
}


static void
test_htmldecode(void **state)
{
    (void) state;
    /* named */
    assert_string_equal(tf(TF_HTMLDECODE, "&lt;script&gt;"), "<script>");
    assert_string_equal(tf(TF_HTMLDECODE, "&quot;&apos;&amp;"), "\"'&");
    assert_string_equal(tf(TF_HTMLDECODE, "javascript&colon;alert&lpar;1"
                                          "&rpar;"), "javascript:alert(1)");
    assert_string_equal(tf(TF_HTMLDECODE, "&LT;b&GT;"), "<b>");
    /* decimal and hex */
    assert_string_equal(tf(TF_HTMLDECODE, "&#60;&#62;"), "<>");
    assert_string_equal(tf(TF_HTMLDECODE, "&#x3c;&#X3E;"), "<>");
    assert_string_equal(tf(TF_HTMLDECODE, "jav&#x09;ascript"),
                        "jav\tascript");
    assert_string_equal(tf(TF_HTMLDECODE, "&#20013;"), "\xe4\xb8\xad");
    /* leading zeros */
    assert_string_equal(tf(TF_HTMLDECODE, "&#0000000060;"), "<");
    assert_string_equal(tf(TF_HTMLDECODE, "&#x000000000003c;"), "<");
    {
        size_t       n;
        const char  *out = tf_n(TF_HTMLDECODE, "&#00;x", 6, &n);

        assert_int_equal(n, 2);
        assert_memory_equal(out, "\0x", 2);
    }
    /* more than 8 significant digits: no code point */
    assert_string_equal(tf(TF_HTMLDECODE, "&#1000000060;x"), "?x");
    /* no semicolon, as browsers accept */
    assert_string_equal(tf(TF_HTMLDECODE, "&#60script"), "<script");
    assert_string_equal(tf(TF_HTMLDECODE, "&#x3cscript"), "<script");
    assert_string_equal(tf(TF_HTMLDECODE, "&quotx"), "\"x");
    /* short names only with ';' ("&ltd" is a word, not "<d") */
    assert_string_equal(tf(TF_HTMLDECODE, "Smith&ltd"), "Smith&ltd");
    /* double: &amp;lt; */
    assert_string_equal(tf(TF_HTMLDECODE, "&amp;lt;img&amp;gt;"), "<img>");
    assert_string_equal(tf(TF_HTMLDECODE, "&amp;#60;"), "<");
    /* unknown or bare '&' stay */
    assert_string_equal(tf(TF_HTMLDECODE, "&foo; Anna & Tom &#;"),
                        "&foo; Anna & Tom &#;");
    assert_string_equal(tf(TF_HTMLDECODE, "&"), "&");
    assert_string_equal(tf(TF_HTMLDECODE, "no entities"), "no entities");
}


static void
test_jsondecode(void **state)
{
    (void) state;
    assert_string_equal(tf(TF_JSONDECODE, "\\u003cscript\\u003E"),
                        "<script>");
    assert_string_equal(tf(TF_JSONDECODE, "\\u4E2D\\u6587"),
                        "\xe4\xb8\xad\xe6\x96\x87");
    /* a surrogate pair is one code point (U+1F600, 4 bytes of UTF-8) */
    assert_string_equal(tf(TF_JSONDECODE, "\\ud83d\\ude00!"),
                        "\xf0\x9f\x98\x80!");
    /* lone surrogates: '?' */
    assert_string_equal(tf(TF_JSONDECODE, "\\ud83dx"), "?x");
    assert_string_equal(tf(TF_JSONDECODE, "\\ude00"), "?");
    assert_string_equal(tf(TF_JSONDECODE, "\\ud83d\\u0041"), "?A");
    /* the short escapes */
    assert_string_equal(tf(TF_JSONDECODE, "a\\nb\\tc\\rd\\/e\\\\f\\\"g"),
                        "a\nb\tc\rd/e\\f\"g");
    /* unknown escapes and a cut \u stay */
    assert_string_equal(tf(TF_JSONDECODE, "\\x41\\u12"), "\\x41\\u12");
    assert_string_equal(tf(TF_JSONDECODE, "end\\"), "end\\");
    assert_string_equal(tf(TF_JSONDECODE, "plain"), "plain");
}


static void
test_jsondecode_nul(void **state)
{
    size_t       n;
    const char  *out;

    (void) state;
    out = tf_n(TF_JSONDECODE, "a\\u0000b", 8, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "a\0b", 3);
}


static void
test_lowercase(void **state)
{
    (void) state;
    assert_string_equal(tf(TF_LOWERCASE, "SeLeCt * FROM Users"),
                        "select * from users");
    /* bytes over 0x7f untouched (UTF-8 stays UTF-8) */
    assert_string_equal(tf(TF_LOWERCASE, "\xc3\x84X\xe4\xb8\xad"),
                        "\xc3\x84x\xe4\xb8\xad");
    assert_string_equal(tf(TF_LOWERCASE, "@[`{"), "@[`{");
}


static void
test_compress_ws(void **state)
{
    (void) state;
    assert_string_equal(tf(TF_COMPRESS_WS, "union   select"), "union select");
    assert_string_equal(tf(TF_COMPRESS_WS, "a\tb\vc\fd"), "a b c d");
    assert_string_equal(tf(TF_COMPRESS_WS, "a \t  b"), "a b");
    /* a run holding a line break becomes one \n */
    assert_string_equal(tf(TF_COMPRESS_WS, "a\r\nb"), "a\nb");
    assert_string_equal(tf(TF_COMPRESS_WS, "a \r\n b"), "a\nb");
    assert_string_equal(tf(TF_COMPRESS_WS, "a\t\rb"), "a\nb");
    assert_string_equal(tf(TF_COMPRESS_WS, "x\n\n\ny"), "x\ny");
    assert_string_equal(tf(TF_COMPRESS_WS, "v\r\nSet-Cookie: a=1"),
                        "v\nSet-Cookie: a=1");
    /* ends */
    assert_string_equal(tf(TF_COMPRESS_WS, "  a  "), " a ");
    assert_string_equal(tf(TF_COMPRESS_WS, "\n"), "\n");
    /* already compressed */
    assert_string_equal(tf(TF_COMPRESS_WS, "a b c"), "a b c");
    assert_string_equal(tf(TF_COMPRESS_WS, ""), "");
}


static void
test_sqlcomments(void **state)
{
    (void) state;
    assert_string_equal(tf(TF_SQLCOMMENTS, "1'/**/or/**/'1'='1"),
                        "1' or '1'='1");
    assert_string_equal(tf(TF_SQLCOMMENTS, "un/* x */ion"), "un ion");
    /* MySQL executable comments keep their content */
    assert_string_equal(tf(TF_SQLCOMMENTS, "union/*!50000select*/ 1"),
                        "union select  1");
    assert_string_equal(tf(TF_SQLCOMMENTS, "/*!select*/1"), " select 1");
    /* an unterminated comment runs to the end */
    assert_string_equal(tf(TF_SQLCOMMENTS, "1 /* rest"), "1  ");
    /* stray closer */
    assert_string_equal(tf(TF_SQLCOMMENTS, "a*/b"), "a b");
    /* '*' alone is data */
    assert_string_equal(tf(TF_SQLCOMMENTS, "2*3 = 6 *stars*"),
                        "2*3 = 6 *stars*");
    assert_string_equal(tf(TF_SQLCOMMENTS, "1/2 price"), "1/2 price");
}


static void
test_fullwidth(void **state)
{
    (void) state;
    /* U+FF1C script U+FF1E */
    assert_string_equal(tf(TF_FULLWIDTH, "\xef\xbc\x9cscript\xef\xbc\x9e"),
                        "<script>");
    /* U+FF21.. letters, U+FF41.. lowercase, U+FF5E '~', U+FF01 '!' */
    assert_string_equal(tf(TF_FULLWIDTH, "\xef\xbc\xa1\xef\xbd\x81"
                                         "\xef\xbd\x9e\xef\xbc\x81"),
                        "Aa~!");
    /* U+3000 ideographic space */
    assert_string_equal(tf(TF_FULLWIDTH, "a\xe3\x80\x80" "b"), "a b");
    /* other CJK text stays (U+4E2D U+6587, U+3001 '、', U+FF5F) */
    assert_string_equal(tf(TF_FULLWIDTH, "\xe4\xb8\xad\xe6\x96\x87"
                                         "\xe3\x80\x81\xef\xbd\x9f"),
                        "\xe4\xb8\xad\xe6\x96\x87\xe3\x80\x81\xef\xbd\x9f");
    /* a cut sequence stays */
    assert_string_equal(tf(TF_FULLWIDTH, "x\xef\xbc"), "x\xef\xbc");
}


static void
test_base64(void **state)
{
    (void) state;
    assert_string_equal(tf(TF_BASE64, "PHNjcmlwdD4="), "<script>");
    assert_string_equal(tf(TF_BASE64, "YWxlcnQoMSk="), "alert(1)");
    /* unpadded, and the URL alphabet */
    assert_string_equal(tf(TF_BASE64, "YWxlcnQoMSk"), "alert(1)");
    assert_string_equal(tf(TF_BASE64, "Pz8_Pz8-Pj4-"),
                        "\x3f\x3f\x3f\x3f\x3f>>>>");
    /* not base64: left as is */
    assert_string_equal(tf(TF_BASE64, "hello"), "hello");
    assert_string_equal(tf(TF_BASE64, "select size M"), "select size M");
    assert_string_equal(tf(TF_BASE64, "abcdefg!"), "abcdefg!");
    assert_string_equal(tf(TF_BASE64, "YWJjZGVm===="), "YWJjZGVm====");
    assert_string_equal(tf(TF_BASE64, "YWJj=ZGVm"), "YWJj=ZGVm");
}


static void
test_removenull(void **state)
{
    size_t       n;
    const char  *out;

    (void) state;
    out = tf_n(TF_REMOVENULL, "\0a\0\0b\0", 6, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "ab", 2);
    out = tf_n(TF_REMOVENULL, "\0\0", 2, &n);
    assert_int_equal(n, 0);
    assert_string_equal(tf(TF_REMOVENULL, "no nul"), "no nul");
}


/* the chain every shipped value rule uses */
static const uint8_t  std_chain[] = {
    TF_URLDECODE, TF_JSONDECODE, TF_HTMLDECODE, TF_FULLWIDTH, TF_REMOVENULL,
    TF_SQLCOMMENTS, TF_COMPRESS_WS, TF_LOWERCASE,
};


static const char *
chain(const char *in)
{
    static uint8_t  buf[1024];
    size_t          n = strlen(in);

    memcpy(buf, in, n);
    n = waf_tf_chain(std_chain, sizeof(std_chain), buf, n,
                     waf_tf_classify(buf, n));
    assert_true(n <= strlen(in));
    buf[n] = '\0';
    return (const char *) buf;
}


static void
test_chain(void **state)
{
    (void) state;
    assert_string_equal(chain("%3CSCRIPT%3E"), "<script>");
    assert_string_equal(chain("1'/**/OR/**/'1'%3D'1"), "1' or '1'='1");
    /* each decoder's output is seen by the ones after it */
    assert_string_equal(chain("%26lt%3Bimg%26gt%3B"), "<img>");
    assert_string_equal(chain("\\u003cSvg\\u003e"), "<svg>");
    assert_string_equal(chain("\xef\xbc\x9cSCRIPT\xef\xbc\x9e"), "<script>");
    assert_string_equal(chain("UNION%0D%0A%09SELECT"), "union\nselect");
    assert_string_equal(chain("se%00lect"), "select");
    /* '+' decodes to ' ' in place (same length): the run of spaces it
     * makes is still compressed (found by fuzz_waf_transform) */
    assert_string_equal(chain("union++++select"), "union select");
    assert_string_equal(chain("1'++OR++'1'='1"), "1' or '1'='1");
    /* ordinary values pass through unchanged but lowercased */
    assert_string_equal(chain("Select Size M"), "select size m");
    assert_string_equal(chain("\xe8\xbf\x9e\xe8\xa1\xa3\xe8\xa3\x99"),
                        "\xe8\xbf\x9e\xe8\xa1\xa3\xe8\xa3\x99");
    /* an empty chain is the identity */
    {
        uint8_t  b[] = "AbC%20";

        assert_int_equal(waf_tf_chain(std_chain, 0, b, 6,
                                      waf_tf_classify(b, 6)), 6);
        assert_memory_equal(b, "AbC%20", 6);
    }
}


/* no transformation, alone or chained, makes a value longer */
static void
test_never_grows(void **state)
{
    static const char *const  samples[] = {
        "%", "%u", "%uD83D%uDE00", "&#1114111;", "&#x10FFFF;", "&#xFFFFFFFF;",
        "&#99999999999;", "\\uD83D\\uDE00", "\\uDFFF", "&amp;amp;amp;",
        "&#0;", "&#x0", "%C0%AF", "%%%%", "+++", "/*!*/", "/*", "*/",
        "\xef\xbc\x81", "\xe3\x80\x80", "====", "AAAAAAAA", "\r\n\r\n",
        "&nbsp;&newline;&tab;", "%u0000", "&#128512;", "\\u0000\\",
    };
    uint8_t   buf[512];
    uint32_t  seed = 12345;
    size_t    i, k, n, m;
    int       t;

    (void) state;
    for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        for (t = 0; t < TF_COUNT; t++) {
            n = strlen(samples[i]);
            memcpy(buf, samples[i], n);
            m = waf_tf_apply(t, buf, n);
            assert_true(m <= n);
        }
    }
    /* random values over the alphabet the decoders care about */
    for (i = 0; i < 20000; i++) {
        static const char  alpha[] = "%uU&#;xX0123456789abcdefABCDEF\\\"/*!"
                                     " \t\r\n+=\xef\xbc\xbd\xe3\x80ltgamp";
        uint8_t            tfs[WAF_MAX_CHAIN];
        size_t             ntf;

        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % 64;
        for (k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[k] = (uint8_t) alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        seed = seed * 1103515245u + 12345u;
        t = (int) ((seed >> 16) % TF_COUNT);
        m = waf_tf_apply(t, buf, n);
        assert_true(m <= n);
        /* a random chain on the result */
        seed = seed * 1103515245u + 12345u;
        ntf = (seed >> 16) % WAF_MAX_CHAIN;
        for (k = 0; k < ntf; k++) {
            seed = seed * 1103515245u + 12345u;
            tfs[k] = (uint8_t) ((seed >> 16) % TF_COUNT);
        }
        n = waf_tf_chain(tfs, ntf, buf, m, waf_tf_classify(buf, m));
        assert_true(n <= m);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_urldecode),
        cmocka_unit_test(test_urldecode_nul),
        cmocka_unit_test(test_htmldecode),
        cmocka_unit_test(test_jsondecode),
        cmocka_unit_test(test_jsondecode_nul),
        cmocka_unit_test(test_lowercase),
        cmocka_unit_test(test_compress_ws),
        cmocka_unit_test(test_sqlcomments),
        cmocka_unit_test(test_fullwidth),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_removenull),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_never_grows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
