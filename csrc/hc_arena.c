/* hc_arena.c -- fixed-size hc_entry records by uint32 slot: free list, geometric growth,
 * lazily allocated size[]/bytes[] side arrays. See hc_arena.h for the picture. */
#include <string.h>

#include "hc_alloc.h"
#include "hc_arena.h"

/* The first chunk: HC_ARENA_CHUNK records, or fewer when the size bound says fewer suffice. */
static uint32_t initial_cap(uint64_t hint)
{
    if (hint >= HC_ARENA_CHUNK)
        return HC_ARENA_CHUNK;
    return hint < 4 ? 4u : (uint32_t)hint;
}

static uint64_t *new_side(uint32_t cap, uint64_t fill)
{
    size_t nbytes = hc_mul_size(cap, sizeof(uint64_t));
    uint64_t *p = nbytes ? (uint64_t *)hc_malloc(nbytes) : NULL;
    uint32_t i;
    if (!p)
        return NULL;
    for (i = 0; i < cap; i++)
        p[i] = fill;
    return p;
}

static void *dup_block(const void *src, size_t nbytes)
{
    void *p;
    if (!src)
        return NULL;
    p = hc_malloc(nbytes ? nbytes : 1);
    if (p)
        memcpy(p, src, nbytes);
    return p;
}

int hc_arena_init(hc_arena *a, uint64_t hint)
{
    uint32_t cap = initial_cap(hint);
    memset(a, 0, sizeof *a);
    a->e = (hc_entry *)hc_malloc(cap * sizeof(hc_entry));
    if (!a->e)
        return -1;
    a->cap = cap;
    a->free_head = HC_NIL;
    a->hint = hint;
    return 0;
}

void hc_arena_free(hc_arena *a)
{
    hc_mfree(a->e);
    hc_mfree(a->size);
    hc_mfree(a->bytes);
    memset(a, 0, sizeof *a);
}

int hc_arena_clone(hc_arena *dst, const hc_arena *src)
{
    *dst = *src;
    dst->e = (hc_entry *)dup_block(src->e, (size_t)src->cap * sizeof(hc_entry));
    dst->size = (uint64_t *)dup_block(src->size, (size_t)src->cap * sizeof(uint64_t));
    dst->bytes = (uint64_t *)dup_block(src->bytes, (size_t)src->cap * sizeof(uint64_t));
    if (!dst->e || (src->size && !dst->size) || (src->bytes && !dst->bytes)) {
        hc_arena_free(dst);
        return -1;
    }
    return 0;
}

uint32_t hc_arena_cap_for_one_more(const hc_arena *a)
{
    uint64_t n;
    if (a->free_head != HC_NIL || a->top < a->cap)
        return a->cap;
    if (a->cap >= HC_ARENA_MAX_SLOTS)
        return 0;
    n = (uint64_t)a->cap * 2u;
    /* Stop at the size bound first: with unit sizes the cache never holds more. */
    if (a->cap < a->hint && n > a->hint)
        n = a->hint;
    if (n > HC_ARENA_MAX_SLOTS)
        n = HC_ARENA_MAX_SLOTS;
    return (uint32_t)n;
}

/* realloc *p to n uint64 values; 0 or -1 (then *p is unchanged). */
static int grow_side(uint64_t **p, uint32_t n)
{
    size_t nbytes = hc_mul_size(n, sizeof(uint64_t));
    uint64_t *q;
    if (!*p)
        return 0;
    q = nbytes ? (uint64_t *)hc_realloc(*p, nbytes) : NULL;
    if (!q)
        return -1;
    *p = q;
    return 0;
}

int hc_arena_grow(hc_arena *a, uint32_t newcap)
{
    size_t nbytes = hc_mul_size(newcap, sizeof(hc_entry));
    hc_entry *e;
    if (newcap <= a->cap)
        return 0;
    if (newcap > HC_ARENA_MAX_SLOTS || nbytes == 0)
        return -1;
    e = (hc_entry *)hc_realloc(a->e, nbytes);
    if (!e)
        return -1;
    a->e = e; /* a larger block with the same contents: harmless if a side array fails below */
    if (grow_side(&a->size, newcap) < 0 || grow_side(&a->bytes, newcap) < 0)
        return -1;
    a->cap = newcap;
    return 0;
}

int hc_arena_need_sides(hc_arena *a, uint64_t size, uint64_t bytes)
{
    if (size != 1u && !a->size) {
        a->size = new_side(a->cap, 1u);
        if (!a->size)
            return -1;
    }
    if (bytes != 0u && !a->bytes) {
        a->bytes = new_side(a->cap, 0u);
        if (!a->bytes)
            return -1; /* a size[] made above holds only defaults: nothing observable changed */
    }
    return 0;
}

uint32_t hc_arena_alloc(hc_arena *a)
{
    uint32_t s;
    hc_entry *r;
    if (a->free_head != HC_NIL) {
        s = a->free_head;
        a->free_head = a->e[s].ord_next;
    } else {
        s = a->top++;
    }
    r = &a->e[s];
    memset(r, 0, sizeof *r);
    r->flags = HC_F_LIVE;
    if (a->size)
        a->size[s] = 1u;
    if (a->bytes)
        a->bytes[s] = 0u;
    a->live++;
    return s;
}

void hc_arena_release(hc_arena *a, uint32_t slot)
{
    hc_entry *r = &a->e[slot];
    r->flags = 0;
    r->ord_next = a->free_head;
    a->free_head = slot;
    a->live--;
}

void hc_arena_reset(hc_arena *a)
{
    uint32_t cap = initial_cap(a->hint);
    if (a->cap > cap) {
        hc_entry *e = (hc_entry *)hc_realloc(a->e, cap * sizeof(hc_entry));
        if (e) {
            a->e = e;
            a->cap = cap;
        }
    }
    hc_mfree(a->size);
    hc_mfree(a->bytes);
    a->size = NULL;
    a->bytes = NULL;
    a->top = 0;
    a->free_head = HC_NIL;
    a->live = 0;
}

size_t hc_arena_bytes(const hc_arena *a)
{
    size_t n = (size_t)a->cap * sizeof(hc_entry);
    if (a->size)
        n += (size_t)a->cap * sizeof(uint64_t);
    if (a->bytes)
        n += (size_t)a->cap * sizeof(uint64_t);
    return n;
}
