/*
 * parse_kv.c - eNom's Text and HTML response formats.
 *
 * Text: one field a line, "Key=Value" split on the first '=' (values may
 * hold '='), or "Key: Value" / "Key:Value" as some of eNom's pages print
 * it. Whichever separator comes first on the line wins, but a ':' counts
 * only when what precedes it is a key, so "2:14:59 AM" and "https://..."
 * stay in values. Lines starting with ';' are comments.
 *
 * HTML: the same ';' lines (ending in <br>), <HTML><BODY> wrappers and one
 * "<STRONG>Key: </ STRONG>value<br>" a field, also written "</STRONG>",
 * "Key= " and "<BR>" or "<br />"; values carry HTML entities and may hold
 * raw markup (a list such as "<DomainNames><ID>1</ID></DomainNames>"), so
 * a value runs to the line break tag or the next <STRONG>, not to the
 * first '<'.
 *
 * Both: a key repeated without an index (GetOrderList gives every order
 * as OrderID=, OrderDate=, ... again) keeps every value in order, as a
 * repeated XML leaf does (enom_result_put). LF or CRLF, blank lines
 * skipped, a last line without a newline accepted; keys and values trimmed of surrounding spaces and tabs. Keys
 * must look like keys (a letter or '_' first, no markup characters, single
 * inner spaces only: eNom writes "Aux BillingFName"), so an error page or
 * other garbage yields "no fields found" instead of a table of noise.
 * Nothing here allocates outside Lua, so a Lua error (out of memory) at
 * any point leaks nothing.
 */
#include <string.h>

#include "parse.h"
#include "parse_result.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **p, const char **e)
{
    while (*p < *e && is_space(**p))
        (*p)++;
    while (*e > *p && (is_space((*e)[-1]) || (*e)[-1] == '\r'))
        (*e)--;
}

/* Bytes a key may hold: 1 anywhere, 2 first (letters, '_'), 3 a space
 * (inside only, never two in a row); 0 never (controls, markup, '=', ':'). */
static unsigned char key_class[256];

static void init_key_class(void)
{
    int c;
    for (c = 0x21; c < 0x7f; c++)
        key_class[c] = 1;
    for (c = 0x80; c < 0x100; c++)
        key_class[c] = 1;
    for (c = 'A'; c <= 'Z'; c++)
        key_class[c] = key_class[c + ('a' - 'A')] = 2;
    key_class['_'] = 2;
    key_class[' '] = 3;
    key_class['<'] = key_class['>'] = key_class['"'] = key_class['\''] = 0;
    key_class['&'] = key_class['='] = key_class[':'] = 0;
}

static int valid_key(const char *k, size_t n)
{
    size_t i;
    if (key_class['A'] == 0)
        init_key_class(); /* idempotent: racing threads write the same bytes */
    if (n == 0 || key_class[(unsigned char)k[0]] != 2)
        return 0;
    for (i = 1; i < n; i++) {
        unsigned char cl = key_class[(unsigned char)k[i]];
        if (cl == 0 || (cl == 3 && (i + 1 == n || k[i + 1] == ' ')))
            return 0;
    }
    return 1;
}

static const char *skip_bom(const char *p, const char *end)
{
    if (end - p >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB
        && (unsigned char)p[2] == 0xBF)
        return p + 3;
    return p;
}

int enom_parse_text(lua_State *L, const char *body, size_t len)
{
    enom_result r;
    const char *p = body, *end = body + len;
    enom_result_open(L, &r, 0);
    p = skip_bom(p, end);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *q, *sep = NULL, *kb, *ke, *vb, *ve;
        const char *next = nl ? nl + 1 : end;
        trim(&p, &le);
        if (p == le || *p == ';') {
            p = next;
            continue;
        }
        for (q = p; q < le; q++) {
            if (*q == '=') {
                sep = q;
                break;
            }
            if (*q == ':') {
                const char *kb0 = p, *ke0 = q;
                trim(&kb0, &ke0);
                if (valid_key(kb0, (size_t)(ke0 - kb0))) {
                    sep = q;
                    break;
                }
            }
        }
        if (sep == NULL) {
            p = next;
            continue;
        }
        kb = p;
        ke = sep;
        trim(&kb, &ke);
        vb = sep + 1;
        ve = le;
        trim(&vb, &ve);
        if (valid_key(kb, (size_t)(ke - kb)))
            enom_result_kv(L, &r, kb, (size_t)(ke - kb), vb, (size_t)(ve - vb));
        p = next;
    }
    if (r.nfound == 0) {
        lua_settop(L, r.t - 1);
        return enom_parse_fail(L, "no fields found");
    }
    enom_result_close(L, &r);
    return 1;
}

/* ---- HTML ---- */

/* First case-insensitive occurrence in [p, e) of lit, a lower-case tag
 * literal (it starts with '<'), or NULL. */
static const char *ifind(const char *p, const char *e, const char *lit, size_t litlen)
{
    for (; (size_t)(e - p) >= litlen; p++) {
        const char *hit = memchr(p, '<', (size_t)(e - p) - litlen + 1);
        if (hit == NULL)
            return NULL;
        p = hit;
        if (enom_ieq(p, litlen, lit))
            return p;
    }
    return NULL;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the entity at p ('&') into out; returns the bytes consumed from
 * p and sets *outlen, or returns 0 when it is not one we decode. Every
 * entity we decode is longer than its expansion, so decoding never grows
 * a value. */
static size_t decode_entity(const char *p, const char *e, char *out, size_t *outlen)
{
    static const struct { const char *name; size_t len; char c; } named[] = {
        { "&amp;", 5, '&' }, { "&lt;", 4, '<' }, { "&gt;", 4, '>' },
        { "&quot;", 6, '"' }, { "&apos;", 6, '\'' },
    };
    size_t i;
    for (i = 0; i < sizeof named / sizeof named[0]; i++) {
        if ((size_t)(e - p) >= named[i].len && memcmp(p, named[i].name, named[i].len) == 0) {
            out[0] = named[i].c;
            *outlen = 1;
            return named[i].len;
        }
    }
    if (e - p >= 4 && p[1] == '#') {
        const char *q = p + 2;
        unsigned long cp = 0;
        int hex = 0, digits = 0;
        if (*q == 'x' || *q == 'X') {
            hex = 1;
            q++;
        }
        for (; q < e && digits < 8; q++, digits++) {
            char c = *q;
            if (c >= '0' && c <= '9')
                cp = cp * (hex ? 16 : 10) + (unsigned long)(c - '0');
            else if (hex && c >= 'a' && c <= 'f')
                cp = cp * 16 + (unsigned long)(c - 'a' + 10);
            else if (hex && c >= 'A' && c <= 'F')
                cp = cp * 16 + (unsigned long)(c - 'A' + 10);
            else
                break;
        }
        if (digits == 0 || q >= e || *q != ';' || cp == 0 || cp > 0x10FFFF
            || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        *outlen = put_utf8(out, cp);
        return (size_t)(q + 1 - p);
    }
    return 0;
}

/* Decodes [p, e) into out (room for e - p bytes); returns the length. */
static size_t decode_into(const char *p, const char *e, char *out)
{
    char *o = out;
    while (p < e) {
        if (*p == '&') {
            size_t n, used = decode_entity(p, e, o, &n);
            if (used > 0) {
                o += n;
                p += used;
                continue;
            }
        }
        *o++ = *p++;
    }
    return (size_t)(o - out);
}

/* Is p (at '<') a line break tag: <br>, <br/>, <br /> in any case? */
static int is_br(const char *p, const char *e)
{
    const char *q = p + 3;
    if (e - p < 4 || !enom_ieq(p, 3, "<br"))
        return 0;
    while (q < e && is_space(*q))
        q++;
    if (q < e && *q == '/')
        q++;
    return q < e && *q == '>';
}

/* Where a value starting at vb ends: at a line break tag, at the next
 * field's <STRONG>, or at the end of the line. Raw markup in between is
 * part of the value. */
static const char *value_end(const char *vb, const char *le)
{
    const char *q = vb;
    while (q < le) {
        q = memchr(q, '<', (size_t)(le - q));
        if (q == NULL)
            return le;
        if (is_br(q, le) || ((size_t)(le - q) >= 8 && enom_ieq(q, 8, "<strong>")))
            return q;
        q++;
    }
    return le;
}

int enom_parse_html(lua_State *L, const char *body, size_t len)
{
    enom_result r;
    const char *p = body, *end = body + len;
    char *scratch = NULL;
    int below = 0;
    /* Decoded values go to one scratch block as long as the body, made only
     * when the body has an '&', below the result table so the result's
     * slots stay where enom_result_open put them. */
    if (memchr(body, '&', len) != NULL) {
        luaL_checkstack(L, 4, "enom.core.parse");
        scratch = lua_newuserdata(L, len);
        below = 1;
    }
    enom_result_open(L, &r, 0);
    p = skip_bom(p, end);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        trim(&p, &le);
        if (p == le || *p == ';') {
            p = next;
            continue;
        }
        while (p < le) {
            const char *kb, *ke, *vb, *ve, *q;
            const char *s = ifind(p, le, "<strong>", 8);
            if (s == NULL)
                break;
            kb = s + 8;
            /* "</ STRONG>" as eNom writes it, or "</STRONG>". */
            q = ifind(kb, le, "</", 2);
            if (q == NULL)
                break;
            ke = q;
            q += 2;
            while (q < le && is_space(*q))
                q++;
            if ((size_t)(le - q) < 7 || !enom_ieq(q, 6, "strong")) {
                p = ke + 2;
                continue;
            }
            q += 6;
            while (q < le && is_space(*q))
                q++;
            if (q == le || *q != '>') {
                p = ke + 2;
                continue;
            }
            vb = q + 1;
            ve = value_end(vb, le);
            p = ve;
            trim(&kb, &ke);
            if (ke > kb && (ke[-1] == ':' || ke[-1] == '='))
                ke--;
            trim(&kb, &ke);
            trim(&vb, &ve);
            if (!valid_key(kb, (size_t)(ke - kb)))
                continue;
            if (scratch != NULL && memchr(vb, '&', (size_t)(ve - vb)) != NULL) {
                size_t n = decode_into(vb, ve, scratch);
                enom_result_kv(L, &r, kb, (size_t)(ke - kb), scratch, n);
            } else {
                enom_result_kv(L, &r, kb, (size_t)(ke - kb), vb, (size_t)(ve - vb));
            }
        }
        p = next;
    }
    if (r.nfound == 0) {
        lua_settop(L, r.t - 1 - below);
        return enom_parse_fail(L, "no fields found");
    }
    enom_result_close(L, &r);
    if (below)
        lua_remove(L, -2); /* scratch */
    return 1;
}
