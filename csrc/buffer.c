/*
 * buffer.c - a growable byte buffer that never raises.
 */
#include <stdlib.h>
#include <string.h>

#include "enom.h"

void enom_buf_init(enom_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

int enom_buf_reserve(enom_buf *b, size_t n)
{
    size_t need;
    if (n > (size_t)-1 - b->len - 1)
        return ENOM_BUF_NOMEM;
    need = b->len + n;
    if (b->limit != 0 && need > b->limit)
        return ENOM_BUF_LIMIT;
    if (need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *d;
        while (cap < need + 1)
            cap = cap > ((size_t)-1) / 2 ? need + 1 : cap * 2;
        d = realloc(b->data, cap);
        if (d == NULL)
            return ENOM_BUF_NOMEM;
        b->data = d;
        b->cap = cap;
    }
    return ENOM_BUF_OK;
}

int enom_buf_append(enom_buf *b, const char *p, size_t n)
{
    int rc = enom_buf_reserve(b, n);
    if (rc != ENOM_BUF_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ENOM_BUF_OK;
}

void enom_buf_reset(enom_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void enom_buf_free(enom_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
