/*
 * mall-mmdb-asn OUT.mmdb CSV...: build a MaxMind DB (format 2.0) ASN
 * database from ip-location-db's asn CSV files (npm @ip-location-db/asn:
 * "first,last,asn,organization" per line, IPv4 or IPv6, ranges that do not
 * overlap), with the record layout of MaxMind's GeoLite2-ASN:
 *
 *   { "autonomous_system_number": uint32,
 *     "autonomous_system_organization": string }
 *
 * so `mall_geoip_asn` reads it exactly as it would read GeoLite2-ASN.
 * One IPv6 tree; IPv4 lives at ::/96, where libmaxminddb looks IPv4
 * addresses up. Where ranges overlap, the one read first wins. Records are 32 bits; equal (asn, organization) pairs share
 * one data entry. Spec: https://maxmind.github.io/MaxMind-DB/
 *
 * Exit 0, or 1 with "file:line: why" on stderr.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ORG_MAX      255
#define EMPTY        UINT32_MAX     /* record with no data (yet) */
#define DATA_FLAG    0x80000000u    /* record holds a data offset */
#define SEEN_SLOTS   (1u << 20)     /* distinct (asn, org) pairs, ~100k */

typedef struct { uint32_t rec[2]; } node_t;

typedef struct {                    /* a data entry already written */
    uint32_t  asn, off;
    char     *org;                  /* NULL: free slot */
} seen_t;

typedef struct {
    node_t   *nodes;
    size_t    n, cap;
    uint8_t  *data;                 /* data section */
    size_t    dlen, dcap;
    seen_t   *seen;                 /* SEEN_SLOTS, open addressing */
    size_t    nseen;
    size_t    overlaps;             /* prefixes partly taken already */
} db_t;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    while (*cap < need)
        *cap = *cap ? *cap * 2 : 1024;
    p = realloc(p, *cap * elem);
    if (p == NULL) {
        perror("mall-mmdb-asn");
        exit(1);
    }
    return p;
}

static uint32_t new_node(db_t *db)
{
    db->nodes = grow(db->nodes, &db->cap, db->n + 1, sizeof(node_t));
    db->nodes[db->n].rec[0] = db->nodes[db->n].rec[1] = EMPTY;
    return (uint32_t) db->n++;
}

/* ---- data section (MaxMind DB data types) ---------------------------- */

static void put(db_t *db, const void *p, size_t len)
{
    db->data = grow(db->data, &db->dcap, db->dlen + len, 1);
    memcpy(db->data + db->dlen, p, len);
    db->dlen += len;
}

/* control byte(s) of a type (1..7 direct, 8.. extended) and a size */
static void put_ctrl(db_t *db, unsigned type, size_t size)
{
    uint8_t b[5];
    size_t n = 1;
    unsigned t = type <= 7 ? type : 0;

    if (size < 29) {
        b[0] = (uint8_t) (t << 5 | size);
    } else if (size < 285) {
        b[0] = (uint8_t) (t << 5 | 29);
        b[n++] = (uint8_t) (size - 29);
    } else {
        size -= 285;
        b[0] = (uint8_t) (t << 5 | 30);
        b[n++] = (uint8_t) (size >> 8);
        b[n++] = (uint8_t) size;
    }
    if (type > 7) {   /* the extended type byte follows the first one */
        memmove(b + 2, b + 1, n - 1);
        b[1] = (uint8_t) (type - 7);
        n++;
    }
    put(db, b, n);
}

static void put_string(db_t *db, const char *s)
{
    size_t len = strlen(s);
    put_ctrl(db, 2, len);
    put(db, s, len);
}

static void put_uint(db_t *db, unsigned type, uint64_t v)
{
    uint8_t b[8];
    size_t n = 0;
    int i;

    for (i = 7; i >= 0; i--) {
        uint8_t x = (uint8_t) (v >> (i * 8));
        if (n || x)
            b[n++] = x;
    }
    put_ctrl(db, type, n);
    put(db, b, n);
}

/* the offset of the data entry of (asn, org), written when new */
static uint32_t asn_entry(db_t *db, uint32_t asn, const char *org)
{
    uint32_t h = asn * 2654435761u;
    const char *c;
    seen_t *e;

    for (c = org; *c; c++)
        h = (h ^ (uint8_t) *c) * 16777619u;
    for (e = &db->seen[h & (SEEN_SLOTS - 1)]; e->org;
         e = e == &db->seen[SEEN_SLOTS - 1] ? db->seen : e + 1)
        if (e->asn == asn && strcmp(e->org, org) == 0)
            return e->off;
    if (++db->nseen > SEEN_SLOTS / 2) {
        fprintf(stderr, "mall-mmdb-asn: more than %u organizations\n",
                SEEN_SLOTS / 2);
        exit(1);
    }
    e->asn = asn;
    e->off = (uint32_t) db->dlen;
    e->org = strdup(org);
    if (e->org == NULL) {
        perror("mall-mmdb-asn");
        exit(1);
    }
    put_ctrl(db, 7, 2);
    put_string(db, "autonomous_system_number");
    put_uint(db, 6, asn);
    put_string(db, "autonomous_system_organization");
    put_string(db, org);
    return e->off;
}

/* ---- search tree ------------------------------------------------------ */

/* Gives every empty record under node the data off (depth-first). */
static void fill_empty(db_t *db, uint32_t node, uint32_t off)
{
    int k;
    for (k = 0; k < 2; k++) {
        uint32_t r = db->nodes[node].rec[k];
        if (r == EMPTY)
            db->nodes[node].rec[k] = DATA_FLAG | off;
        else if (!(r & DATA_FLAG))
            fill_empty(db, r, off);
    }
}

/*
 * Gives the prefix addr/bits (bits of 128) the data off. The source has
 * a few overlapping ranges: the range read first keeps the addresses it
 * has (the new one fills only what is still empty); 1 when it overlapped.
 */
static int insert(db_t *db, const uint8_t addr[16], unsigned bits,
                  uint32_t off)
{
    uint32_t node = 0;
    unsigned i;

    for (i = 0; i < bits; i++) {
        unsigned bit = addr[i / 8] >> (7 - i % 8) & 1;
        uint32_t r = db->nodes[node].rec[bit];

        if (r != EMPTY && r & DATA_FLAG)
            return 1;                 /* inside an earlier range */
        if (i == bits - 1) {
            if (r == EMPTY) {
                db->nodes[node].rec[bit] = DATA_FLAG | off;
                return 0;
            }
            fill_empty(db, r, off);   /* holds earlier, smaller ranges */
            return 1;
        }
        if (r == EMPTY) {
            r = new_node(db);
            db->nodes[node].rec[bit] = r;
        }
        node = r;
    }
    return 0;
}

static int addr_cmp(const uint8_t a[16], const uint8_t b[16])
{
    return memcmp(a, b, 16);
}

/* a + 1; 1 on wrap-around */
static int addr_inc(uint8_t a[16])
{
    int i;
    for (i = 15; i >= 0; i--)
        if (++a[i] != 0)
            return 0;
    return 1;
}

/* Splits [lo, hi] into the largest aligned prefixes and inserts each. */
static void insert_range(db_t *db, uint8_t lo[16], const uint8_t hi[16],
                        unsigned min_bits, uint32_t off)
{
    for (;;) {
        unsigned bits = 128, i;
        uint8_t end[16];

        /* widen while lo stays aligned and the block stays within hi */
        while (bits > min_bits) {
            unsigned b = bits - 1;        /* the bit that would be freed */
            if (lo[b / 8] >> (7 - b % 8) & 1)
                break;
            memcpy(end, lo, 16);
            for (i = b; i < 128; i++)
                end[i / 8] |= (uint8_t) (1 << (7 - i % 8));
            if (addr_cmp(end, hi) > 0)
                break;
            bits = b;
        }
        db->overlaps += (size_t) insert(db, lo, bits, off);
        memcpy(end, lo, 16);
        for (i = bits; i < 128; i++)
            end[i / 8] |= (uint8_t) (1 << (7 - i % 8));
        if (addr_cmp(end, hi) >= 0)
            return;
        memcpy(lo, end, 16);
        if (addr_inc(lo))
            return;
    }
}

/* "1.2.3.4" or "2001:db8::" as 16 bytes (IPv4 at ::/96); 32 or 128 */
static int parse_addr(const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (strchr(s, ':'))
        return inet_pton(AF_INET6, s, out) == 1 ? 128 : -1;
    return inet_pton(AF_INET, s, out + 12) == 1 ? 32 : -1;
}

/* the organization field: plain, or quoted with "" for a quote */
static int parse_org(const char *s, char *out)
{
    size_t n = 0;

    if (*s != '"') {
        n = strcspn(s, "\r\n");
        if (n > ORG_MAX)
            n = ORG_MAX;
        memcpy(out, s, n);
        out[n] = '\0';
        return 0;
    }
    for (s++; *s; s++) {
        if (*s == '"') {
            if (s[1] != '"')
                break;
            s++;
        }
        if (n < ORG_MAX)
            out[n++] = *s;
    }
    out[n] = '\0';
    return *s == '"' ? 0 : -1;
}

static int load_csv(db_t *db, const char *path)
{
    char line[1024], org[ORG_MAX + 1];
    unsigned long lineno = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char *first = line, *last, *asn, *rest, *end;
        uint8_t lo[16], hi[16];
        unsigned long v;
        int bits;

        lineno++;
        last = strchr(first, ',');
        asn = last ? strchr(last + 1, ',') : NULL;
        rest = asn ? strchr(asn + 1, ',') : NULL;
        if (rest == NULL)
            goto bad;
        *last++ = *asn++ = *rest++ = '\0';
        bits = parse_addr(first, lo);
        if (bits < 0 || parse_addr(last, hi) != bits
            || addr_cmp(lo, hi) > 0)
            goto bad;
        errno = 0;
        v = strtoul(asn, &end, 10);
        if (errno || *end || end == asn || v > UINT32_MAX
            || parse_org(rest, org) != 0)
            goto bad;
        insert_range(db, lo, hi, 128 - (unsigned) bits,
                     asn_entry(db, (uint32_t) v, org));
        continue;
    bad:
        fprintf(stderr, "%s:%lu: not \"first,last,asn,organization\"\n",
                path, lineno);
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* ---- output ------------------------------------------------------------ */

static void put_metadata(db_t *db)
{
    put(db, "\xAB\xCD\xEFMaxMind.com", 14);
    put_ctrl(db, 7, 9);
    put_string(db, "binary_format_major_version");
    put_uint(db, 5, 2);
    put_string(db, "binary_format_minor_version");
    put_uint(db, 5, 0);
    put_string(db, "build_epoch");
    put_uint(db, 9, (uint64_t) time(NULL));
    put_string(db, "database_type");
    put_string(db, "GeoLite2-ASN");
    put_string(db, "description");
    put_ctrl(db, 7, 1);
    put_string(db, "en");
    put_string(db, "ASN database built by mall-mmdb-asn from "
                   "ip-location-db (CC0 / PDDL)");
    put_string(db, "ip_version");
    put_uint(db, 5, 6);
    put_string(db, "languages");
    put_ctrl(db, 11, 1);
    put_string(db, "en");
    put_string(db, "node_count");
    put_uint(db, 6, db->n);
    put_string(db, "record_size");
    put_uint(db, 5, 32);
}

static int write_db(db_t *db, const char *out)
{
    uint32_t empty = (uint32_t) db->n;   /* "no data" in the file */
    size_t i, tail;
    FILE *f;
    char tmp[4096];

    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    f = fopen(tmp, "wb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
        return -1;
    }
    for (i = 0; i < db->n; i++) {
        uint8_t b[8];
        int k;
        for (k = 0; k < 2; k++) {
            uint32_t r = db->nodes[i].rec[k];
            r = r == EMPTY ? empty
              : r & DATA_FLAG ? (r & ~DATA_FLAG) + (uint32_t) db->n + 16
              : r;
            b[k * 4] = (uint8_t) (r >> 24);
            b[k * 4 + 1] = (uint8_t) (r >> 16);
            b[k * 4 + 2] = (uint8_t) (r >> 8);
            b[k * 4 + 3] = (uint8_t) r;
        }
        fwrite(b, 1, 8, f);
    }
    fwrite("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 1, 16, f);
    tail = db->dlen;
    put_metadata(db);
    fwrite(db->data, 1, db->dlen, f);
    db->dlen = tail;
    if (fclose(f) != 0 || rename(tmp, out) != 0) {
        fprintf(stderr, "%s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    db_t db = { 0 };
    int i;

    if (argc < 3) {
        fprintf(stderr, "usage: mall-mmdb-asn OUT.mmdb CSV...\n");
        return 2;
    }
    db.seen = calloc(SEEN_SLOTS, sizeof(seen_t));
    if (db.seen == NULL) {
        perror("mall-mmdb-asn");
        return 1;
    }
    new_node(&db);                        /* the root */
    for (i = 2; i < argc; i++)
        if (load_csv(&db, argv[i]) != 0)
            return 1;
    if (db.n > DATA_FLAG - 1 || db.dlen + db.n + 16 > DATA_FLAG - 1) {
        fprintf(stderr, "mall-mmdb-asn: too big for 32-bit records\n");
        return 1;
    }
    if (write_db(&db, argv[1]) != 0)
        return 1;
    printf("%zu nodes, %zu bytes of data, %zu overlapping prefixes "
           "(the earlier range kept them)\n", db.n, db.dlen, db.overlaps);
    return 0;
}
