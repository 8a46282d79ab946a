/*
 * parse_xml.c - eNom's XML response format, with libxml2's SAX2 parser.
 *
 * Two passes. libxml2 parses the whole body while our SAX callbacks, which
 * never touch Lua, write a compact event list (open container / leaf with
 * its text / close) to a malloc'd buffer. Then a function run under
 * lua_pcall turns the events into the result table. The parser context
 * (whose dictionary owns the element names the events point to) and the
 * buffer are freed after the pcall returns, whatever happened, and a Lua
 * error from the second pass is raised again only then.
 *
 * Safety: no network (XML_PARSE_NONET), no DTD loading, no entity
 * substitution. Entity declarations are dropped as the parser reports them
 * and entity look-ups find nothing, so "billion laughs" and external
 * entities (SYSTEM "file:///...") are undeclared references: a well-formed
 * error, never an expansion and never a file read.
 *
 * Diagnostics: every libxml2 message of a parse goes to that parse and
 * never to stderr (bodies hold passwords). The parser context's own
 * handler catches the parser's errors, but some paths report with no
 * context at all (a failed character conversion: "encoding error ...
 * bytes 0xFF 0x3C") and reach libxml2's thread-local generic and
 * structured handlers, whose default prints to stderr. Both are pointed
 * at this parse for its duration and put back afterwards; they are
 * thread-local, so another thread's parse is not disturbed.
 *
 * Text: the text and CDATA of a leaf (an element without element
 * children), with leading and trailing whitespace trimmed: eNom
 * pretty-prints its XML. An attribute is read as a leaf of the record
 * that holds its element (<domainname domainnameid="1" sld="a"/> inside
 * <dotnameforwarding> gives that record domainnameid and sld), which is
 * how eNom's Text format flattens them. Comments and processing
 * instructions are ignored. A leaf repeated in one record, or at the top
 * level (a multi-domain Check repeats <Domain>, <RRPCode>, <RRPText>),
 * keeps every text in order (enom_result_put).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "parse.h"
#include "parse_result.h"

#if LIBXML_VERSION >= 21200
typedef const xmlError *enom_xml_error;
#else
typedef xmlError *enom_xml_error;
#endif

/* libxml2 refuses documents nested deeper than 256 without XML_PARSE_HUGE;
 * this is only a backstop. */
#define MAX_DEPTH 300

/* Event: tag byte, name pointer (into the parser's dictionary), uint32
 * name length, uint32 n; for a leaf n text bytes follow, for an open n is
 * its number of leaf children. A close is the tag byte alone. */
#define EV_OPEN 'O'
#define EV_LEAF 'L'
#define EV_CLOSE 'C'
#define EV_HDR (1 + sizeof(const xmlChar *) + 2 * sizeof(uint32_t))
#define EV_N_AT (1 + sizeof(const xmlChar *) + sizeof(uint32_t))

typedef struct frame {
    const xmlChar *name;
    size_t at;        /* offset of this element's event */
    uint32_t nleaves; /* leaf children so far */
    int container;    /* has element children */
} frame;

typedef struct xml_state {
    xmlParserCtxtPtr ctxt;
    enom_buf ev;
    int depth;
    uint32_t rootleaves;
    const char *why;  /* our own reason for stopping the parser */
    int err_code;     /* first libxml2 error */
    int err_line;
    const char *in;   /* the part of the body libxml2 has not read yet */
    size_t inlen;
    char rootname[41];
    frame stack[MAX_DEPTH];
} xml_state;

static void stop(xml_state *st, const char *why)
{
    if (st->why == NULL)
        st->why = why;
    xmlStopParser(st->ctxt);
}

static void append(xml_state *st, const void *p, size_t n)
{
    if (enom_buf_append(&st->ev, p, n) != ENOM_BUF_OK)
        stop(st, "out of memory");
}

static void put_u32(xml_state *st, size_t at, uint32_t v)
{
    memcpy(st->ev.data + at, &v, sizeof v);
}

static int is_root_name(const xmlChar *name)
{
    return enom_ieq((const char *)name, strlen((const char *)name), "interface-response");
}

static void note_root_name(xml_state *st, const xmlChar *name)
{
    size_t i, n = strlen((const char *)name);
    st->rootname[0] = '\0';
    if (n >= sizeof st->rootname)
        return;
    for (i = 0; i < n; i++) {
        unsigned char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-' || c == '.' || c == ':'))
            return;
    }
    memcpy(st->rootname, name, n + 1);
}

/* An element's attributes as leaves of its parent, before the element's
 * own event. Names come from the parser's dictionary, like element names. */
static void add_attributes(xml_state *st, frame *parent, int nattr, const xmlChar **attrs)
{
    int i;
    for (i = 0; i < nattr && st->why == NULL; i++) {
        const xmlChar *name = attrs[i * 5];
        const xmlChar *value = attrs[i * 5 + 3], *end = attrs[i * 5 + 4], *p;
        uint32_t namelen, n;
        size_t at;
        char hdr[EV_HDR];
        if (attrs[i * 5 + 1] != NULL) {
            name = xmlDictQLookup(st->ctxt->dict, attrs[i * 5 + 1], name);
            if (name == NULL) {
                stop(st, "out of memory");
                return;
            }
        }
        namelen = (uint32_t)strlen((const char *)name);
        hdr[0] = EV_LEAF;
        memcpy(hdr + 1, &name, sizeof name);
        memcpy(hdr + 1 + sizeof name, &namelen, sizeof namelen);
        memset(hdr + EV_N_AT, 0, sizeof(uint32_t));
        at = st->ev.len;
        append(st, hdr, sizeof hdr);
        /* Without entity substitution libxml2 hands '&' over as "&#38;";
         * every other reference arrives decoded. */
        for (p = value; p < end && st->why == NULL;) {
            const xmlChar *amp = memchr(p, '&', (size_t)(end - p));
            const xmlChar *stop_at = amp != NULL ? amp : end;
            append(st, p, (size_t)(stop_at - p));
            if (amp == NULL)
                break;
            append(st, "&", 1);
            p = (end - amp >= 5 && memcmp(amp, "&#38;", 5) == 0) ? amp + 5 : amp + 1;
        }
        if (st->why != NULL)
            return;
        n = (uint32_t)(st->ev.len - at - EV_HDR);
        put_u32(st, at + EV_N_AT, n);
        parent->nleaves++;
        if (st->depth == 1)
            st->rootleaves++;
    }
}

static void on_start(void *ud, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nns, const xmlChar **ns, int nattr, int ndefaulted, const xmlChar **attrs)
{
    xml_state *st = ud;
    const xmlChar *name = localname;
    frame *parent, *f;
    uint32_t namelen;
    char hdr[EV_HDR];
    (void)uri, (void)nns, (void)ns, (void)ndefaulted;

    if (st->why != NULL)
        return;
    if (prefix != NULL) {
        name = xmlDictQLookup(st->ctxt->dict, prefix, localname);
        if (name == NULL) {
            stop(st, "out of memory");
            return;
        }
    }
    if (st->depth == 0) {
        if (!is_root_name(name)) {
            note_root_name(st, name);
            stop(st, "root");
            return;
        }
        st->stack[0].name = name;
        st->stack[0].container = 0;
        st->depth = 1;
        return;
    }
    if (st->depth >= MAX_DEPTH) {
        stop(st, "XML nested too deeply");
        return;
    }
    parent = &st->stack[st->depth - 1];
    if (!parent->container) {
        parent->container = 1;
        if (st->depth > 1) {
            /* The parent's provisional leaf becomes an open; its text so
             * far was whitespace between elements. */
            st->ev.data[parent->at] = EV_OPEN;
            st->ev.len = parent->at + EV_HDR;
            put_u32(st, parent->at + EV_N_AT, 0);
        }
    }
    add_attributes(st, parent, nattr, attrs);
    if (st->why != NULL)
        return;
    f = &st->stack[st->depth++];
    f->name = name;
    f->at = st->ev.len;
    f->nleaves = 0;
    f->container = 0;
    /* Every element starts as a leaf whose text is appended after it. */
    namelen = (uint32_t)strlen((const char *)name);
    hdr[0] = EV_LEAF;
    memcpy(hdr + 1, &name, sizeof name);
    memcpy(hdr + 1 + sizeof name, &namelen, sizeof namelen);
    memset(hdr + EV_N_AT, 0, sizeof(uint32_t));
    append(st, hdr, sizeof hdr);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void on_end(void *ud, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    xml_state *st = ud;
    frame *f;
    (void)localname, (void)prefix, (void)uri;

    if (st->why != NULL || st->depth == 0)
        return;
    f = &st->stack[--st->depth];
    if (st->depth == 0)
        return; /* the root */
    if (f->container) {
        char c = EV_CLOSE;
        put_u32(st, f->at + EV_N_AT, f->nleaves);
        append(st, &c, 1);
    } else {
        char *text = st->ev.data + f->at + EV_HDR;
        size_t n = st->ev.len - (f->at + EV_HDR), lead = 0;
        while (n > 0 && is_ws(text[n - 1]))
            n--;
        while (lead < n && is_ws(text[lead]))
            lead++;
        if (lead > 0)
            memmove(text, text + lead, n - lead);
        n -= lead;
        st->ev.len = f->at + EV_HDR + n;
        put_u32(st, f->at + EV_N_AT, (uint32_t)n);
        st->stack[st->depth - 1].nleaves++;
        if (st->depth == 1)
            st->rootleaves++;
    }
}

static void on_text(void *ud, const xmlChar *ch, int len)
{
    xml_state *st = ud;
    /* Only a leaf's text matters: not the root's, nor a container's. */
    if (st->why != NULL || st->depth < 2 || st->stack[st->depth - 1].container)
        return;
    append(st, ch, (size_t)len);
}

/* libxml2 reads the body in chunks into a small buffer it reuses, rather
 * than copying all of it up front. */
static int read_body(void *ud, char *buf, int len)
{
    xml_state *st = ud;
    size_t n = st->inlen < (size_t)len ? st->inlen : (size_t)len;
    memcpy(buf, st->in, n);
    st->in += n;
    st->inlen -= n;
    return (int)n;
}

static xmlEntityPtr no_entity(void *ud, const xmlChar *name)
{
    (void)ud, (void)name;
    return NULL;
}

static void drop_entity_decl(void *ud, const xmlChar *name, int type, const xmlChar *publicId,
                             const xmlChar *systemId, xmlChar *content)
{
    (void)ud, (void)name, (void)type, (void)publicId, (void)systemId, (void)content;
}

static void on_error(void *ud, enom_xml_error e)
{
    xml_state *st = ud;
    if (e == NULL || e->level < XML_ERR_ERROR || st->err_code != 0)
        return;
    st->err_code = e->code != 0 ? e->code : -1;
    st->err_line = e->line;
}

/* libxml2's generic handler: printf-style text with no error code. The
 * same problem also reaches on_error with its code, so nothing is kept. */
static void swallow_generic(void *ud, const char *msg, ...)
{
    (void)ud, (void)msg;
}

/* The thread-local handlers in force before a parse. */
typedef struct saved_handlers {
    xmlGenericErrorFunc generic;
    void *generic_ctx;
    xmlStructuredErrorFunc structured;
    void *structured_ctx;
} saved_handlers;

static void route_diagnostics(xml_state *st, saved_handlers *saved)
{
    saved->generic = xmlGenericError;
    saved->generic_ctx = xmlGenericErrorContext;
    saved->structured = xmlStructuredError;
    saved->structured_ctx = xmlStructuredErrorContext;
    xmlSetGenericErrorFunc(st, swallow_generic);
    xmlSetStructuredErrorFunc(st, on_error);
}

static void restore_diagnostics(const saved_handlers *saved)
{
    xmlSetGenericErrorFunc(saved->generic_ctx, saved->generic);
    xmlSetStructuredErrorFunc(saved->structured_ctx, saved->structured);
}

/* ---- second pass: events -> Lua table (runs under lua_pcall) ---- */

typedef struct event {
    char tag;
    const char *name;
    uint32_t namelen;
    uint32_t n;
    const char *text;
} event;

static const char *next_event(const char *p, event *e)
{
    const xmlChar *name;
    e->tag = *p;
    if (e->tag == EV_CLOSE)
        return p + 1;
    memcpy(&name, p + 1, sizeof name);
    memcpy(&e->namelen, p + 1 + sizeof name, sizeof e->namelen);
    memcpy(&e->n, p + EV_N_AT, sizeof e->n);
    e->name = (const char *)name;
    e->text = p + EV_HDR;
    return e->tag == EV_LEAF ? p + EV_HDR + e->n : p + EV_HDR;
}

/* Sets record[lower(name)] = text on the record at the top of the stack;
 * a repeated name turns the value into an array of the texts in order. */
static void record_leaf(lua_State *L, const event *e)
{
    int rec = lua_gettop(L);
    enom_push_lower(L, e->name, e->namelen); /* rec key */
    enom_result_put(L, rec, e->text, e->n);
}

/* Pushes a new record, appended to records[lower(name)]. */
static void open_record(lua_State *L, const enom_result *r, const event *e)
{
    luaL_checkstack(L, 6, "enom.core.parse: XML nested too deeply");
    enom_push_lower(L, e->name, e->namelen); /* key */
    lua_pushvalue(L, -1);
    lua_rawget(L, r->records); /* key list */
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 4, 0);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, r->records);
    }
    lua_createtable(L, 0, (int)e->n); /* key list rec */
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, (int)lua_rawlen(L, -3) + 1);
    lua_replace(L, -3);
    lua_pop(L, 1); /* rec */
}

static long name_index(const event *e)
{
    size_t bl;
    long n;
    return enom_split_index(e->name, e->namelen, &bl, &n) ? n : -1;
}

static int starts_with(const event *e, const char *lit, size_t n)
{
    return e->namelen >= n && enom_ieq(e->name, n, lit);
}

static int xml_build(lua_State *L)
{
    const xml_state *st = lua_touserdata(L, 1);
    const char *p = st->ev.data, *end = st->ev.data + st->ev.len;
    enom_result r;
    int level = 0;          /* containers open below the root */
    int errors_at = 0;      /* level of an open <errors>, or 0 */
    int responses_at = 0;   /* level of an open <responses>, or 0 */
    long cur_resp = -1;     /* index of the open <response> */
    event e;

    enom_result_open(L, &r, (int)st->rootleaves);
    while (p < end) {
        p = next_event(p, &e);
        if (e.tag == EV_CLOSE) {
            if (errors_at != 0 || responses_at != 0) {
                if (errors_at == level)
                    errors_at = 0;
                if (responses_at == level)
                    responses_at = 0;
            } else {
                lua_pop(L, 1); /* the record */
            }
            level--;
        } else if (e.tag == EV_OPEN) {
            level++;
            if (errors_at != 0)
                continue;
            if (responses_at != 0) {
                if (e.namelen == 8 && enom_ieq(e.name, 8, "response"))
                    cur_resp = r.maxresp + 1;
                continue;
            }
            if (e.namelen == 6 && enom_ieq(e.name, 6, "errors")) {
                errors_at = level;
            } else if (e.namelen == 9 && enom_ieq(e.name, 9, "responses")) {
                responses_at = level;
                cur_resp = -1;
            } else {
                open_record(L, &r, &e);
            }
        } else if (errors_at != 0) {
            enom_result_error(L, &r, name_index(&e), e.text, e.n);
        } else if (responses_at != 0) {
            long idx = name_index(&e);
            int which;
            if (starts_with(&e, "responsenumber", 14))
                which = ENOM_RESPONSE_NUMBER;
            else if (starts_with(&e, "responsestring", 14))
                which = ENOM_RESPONSE_STRING;
            else
                continue;
            enom_result_response(L, &r, idx >= 0 ? idx : cur_resp, which, e.text, e.n);
        } else if (level == 0) {
            if ((e.namelen == 6 && enom_ieq(e.name, 6, "errors"))
                || (e.namelen == 9 && enom_ieq(e.name, 9, "responses")))
                continue; /* empty <errors/> */
            enom_result_field(L, &r, e.name, e.namelen, e.text, e.n);
        } else {
            record_leaf(L, &e);
        }
    }
    enom_result_close(L, &r);
    return 1;
}

/* ---- entry point ---- */

static const char *error_reason(const xml_state *st, char *buf, size_t size)
{
    if (st->why != NULL) {
        if (strcmp(st->why, "root") != 0)
            return st->why;
        if (st->rootname[0] != '\0')
            snprintf(buf, size, "root element is <%s>, expected <interface-response>",
                     st->rootname);
        else
            snprintf(buf, size, "root element is not <interface-response>");
        return buf;
    }
    switch (st->err_code) {
    case XML_ERR_DOCUMENT_EMPTY:
        return "not an XML document";
    case XML_ERR_INVALID_CHAR:
    case XML_ERR_INVALID_ENCODING:
    case XML_ERR_UNSUPPORTED_ENCODING:
    case XML_I18N_CONV_FAILED:
    case XML_I18N_NO_HANDLER:
        if (st->err_line <= 0)
            return "badly encoded XML";
        snprintf(buf, size, "badly encoded XML at line %d", st->err_line);
        return buf;
    case XML_ERR_UNDECLARED_ENTITY:
    case XML_WAR_UNDECLARED_ENTITY:
    case XML_ERR_ENTITY_LOOP:
    case XML_ERR_ENTITY_PE_INTERNAL:
        snprintf(buf, size, "undeclared or refused entity at line %d", st->err_line);
        return buf;
    case XML_ERR_TAG_NOT_FINISHED:
    case XML_ERR_LTSLASH_REQUIRED:
    case XML_ERR_GT_REQUIRED:
        if (st->ctxt->input != NULL && st->ctxt->input->cur >= st->ctxt->input->end) {
            snprintf(buf, size, "truncated XML at line %d", st->err_line);
            return buf;
        }
        break;
    default:
        break;
    }
    snprintf(buf, size, "malformed XML at line %d", st->err_line);
    return buf;
}

int enom_parse_xml(lua_State *L, const char *body, size_t len)
{
    xmlSAXHandler sax;
    xml_state *st;
    xmlParserCtxtPtr ctxt;
    saved_handlers saved;
    int rc;

    if (len > INT_MAX) /* event lengths are 32-bit */
        return enom_parse_fail(L, "body too large");
    /* The state is large (the element stack); a userdata keeps it off the
     * C stack and is collected whatever happens. */
    st = lua_newuserdata(L, sizeof *st);
    memset(st, 0, sizeof *st);
    enom_buf_init(&st->ev, 0);
    /* Events take about as many bytes as the body: reserve that once
     * rather than grow through a dozen copies. */
    st->ev.data = malloc(len + len / 4 + 256);
    if (st->ev.data != NULL)
        st->ev.cap = len + len / 4 + 256;

    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_text;
    sax.ignorableWhitespace = on_text;
    sax.cdataBlock = on_text;
    sax.getEntity = no_entity;
    sax.getParameterEntity = no_entity;
    sax.entityDecl = drop_entity_decl;
    sax.serror = on_error;

    st->in = body;
    st->inlen = len;
    route_diagnostics(st, &saved);
    ctxt = xmlCreateIOParserCtxt(&sax, st, read_body, NULL, st, XML_CHAR_ENCODING_NONE);
    if (ctxt == NULL) {
        restore_diagnostics(&saved);
        enom_buf_free(&st->ev);
        return luaL_error(L, "enom.core.parse: cannot create an XML parser");
    }
    st->ctxt = ctxt;
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    /* Whatever the process-wide defaults say. */
    ctxt->replaceEntities = 0;
    ctxt->loadsubset = 0;
    ctxt->validate = 0;

    xmlParseDocument(ctxt);
    restore_diagnostics(&saved);

    if (st->why != NULL || !ctxt->wellFormed) {
        /* reason is static or in buf: it outlives the parser. */
        char buf[96];
        const char *reason = error_reason(st, buf, sizeof buf);
        if (ctxt->myDoc != NULL)
            xmlFreeDoc(ctxt->myDoc);
        xmlFreeParserCtxt(ctxt);
        enom_buf_free(&st->ev);
        if (strcmp(reason, "out of memory") == 0)
            return luaL_error(L, "enom.core.parse: out of memory");
        return enom_parse_fail(L, reason);
    }

    if (lua_checkstack(L, 3)) {
        lua_pushcfunction(L, xml_build);
        lua_pushlightuserdata(L, st);
        rc = lua_pcall(L, 1, 1, 0);
    } else {
        rc = -1;
    }
    if (ctxt->myDoc != NULL)
        xmlFreeDoc(ctxt->myDoc);
    xmlFreeParserCtxt(ctxt);
    enom_buf_free(&st->ev);
    if (rc == -1)
        return luaL_error(L, "enom.core.parse: stack overflow");
    if (rc != 0)
        return lua_error(L);
    return 1;
}
