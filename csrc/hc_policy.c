/* hc_policy.c -- the policy registry, the shared hc_pol lifecycle and the doubly linked list
 * that INSERTION, LRU and FIFO share (they differ only in which events move an entry). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hc_alloc.h"
#include "hc_policy.h"

const hc_policy_ops *const hc_policy_registry[HC_POLICY_COUNT_] = {
    &hc_policy_insertion, /* HC_POLICY_INSERTION */
    &hc_policy_lru,       /* HC_POLICY_LRU */
    &hc_policy_lfu,       /* HC_POLICY_LFU */
    &hc_policy_fifo,      /* HC_POLICY_FIFO */
    &hc_policy_random,    /* HC_POLICY_RANDOM */
    &hc_policy_s3fifo,    /* HC_POLICY_S3FIFO */
    &hc_policy_tinylfu,   /* HC_POLICY_TINYLFU */
};

void hc_policy_init(hc_pol *p, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->head = p->tail = HC_NIL;
    p->node_free = HC_NIL;
    p->rng = seed;
    p->max_size = p->max_bytes = HC_UNBOUNDED;
    pol_q_init(&p->s3.small);
    pol_q_init(&p->s3.main);
    hc_ghost_init(&p->s3.ghost, 0);
    pol_q_init(&p->tl.window);
    pol_q_init(&p->tl.probation);
    pol_q_init(&p->tl.protect);
    hc_sketch_init(&p->tl.sketch);
    hc_ghost_init(&p->tl.ghost, 0);
}

void hc_policy_bind(hc_pol *p, uint64_t *const *size_ref, uint64_t *const *bytes_ref,
                    uint64_t max_size, uint64_t max_bytes)
{
    p->size_ref = size_ref;
    p->bytes_ref = bytes_ref;
    p->max_size = max_size;
    p->max_bytes = max_bytes;
}

void hc_policy_free(hc_pol *p)
{
    uint64_t rng = p->rng, max_size = p->max_size, max_bytes = p->max_bytes;
    uint64_t *const *size_ref = p->size_ref, *const *bytes_ref = p->bytes_ref;
    hc_mfree(p->node);
    hc_mfree(p->dense);
    hc_ghost_free(&p->s3.ghost);
    hc_sketch_free(&p->tl.sketch);
    hc_ghost_free(&p->tl.ghost);
    hc_policy_init(p, rng);
    hc_policy_bind(p, size_ref, bytes_ref, max_size, max_bytes);
}

int hc_policy_clone(hc_pol *dst, const hc_pol *src)
{
    *dst = *src;
    dst->node = NULL;
    dst->dense = NULL;
    dst->s3.ghost.slot = NULL;
    dst->tl.sketch.table = NULL;
    dst->tl.ghost.slot = NULL;
    if (src->node) {
        size_t nb = (size_t)src->node_cap * sizeof(hc_lfu_node);
        dst->node = (hc_lfu_node *)hc_malloc(nb);
        if (!dst->node)
            goto oom;
        memcpy(dst->node, src->node, nb);
    }
    if (src->dense) {
        size_t nb = (size_t)src->dense_cap * sizeof(uint32_t);
        dst->dense = (uint32_t *)hc_malloc(nb);
        if (!dst->dense)
            goto oom;
        memcpy(dst->dense, src->dense, nb);
    }
    if (hc_ghost_clone(&dst->s3.ghost, &src->s3.ghost) < 0 ||
        hc_sketch_clone(&dst->tl.sketch, &src->tl.sketch) < 0 ||
        hc_ghost_clone(&dst->tl.ghost, &src->tl.ghost) < 0)
        goto oom;
    return 0;
oom:
    hc_policy_free(dst);
    return -1;
}

size_t hc_policy_bytes(const hc_pol *p)
{
    return (p->node ? (size_t)p->node_cap * sizeof(hc_lfu_node) : 0) +
           (p->dense ? (size_t)p->dense_cap * sizeof(uint32_t) : 0) + hc_ghost_bytes(&p->s3.ghost) +
           hc_sketch_bytes(&p->tl.sketch) + hc_ghost_bytes(&p->tl.ghost);
}

int hc_policy_fail(char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    if (msg && msglen) {
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- the shared list: head = next victim, tail = newest ---- */

int hc_policy_list_reserve(hc_pol *p, uint32_t n)
{
    (void)p;
    (void)n;
    return 0;
}

void hc_policy_list_insert(hc_pol *p, hc_entry *e, uint32_t s)
{
    pol_list_append(p, e, s);
    p->n++;
}

void hc_policy_list_touch(hc_pol *p, hc_entry *e, uint32_t s)
{
    pol_list_move_to_newest(p, e, s);
}

void hc_policy_list_nothing(hc_pol *p, hc_entry *e, uint32_t s)
{
    (void)p;
    (void)e;
    (void)s;
}

void hc_policy_list_remove(hc_pol *p, hc_entry *e, uint32_t s)
{
    pol_list_extract(p, e, s);
    p->n--;
}

uint32_t hc_policy_list_victim(hc_pol *p, hc_entry *e, uint32_t keep)
{
    uint32_t s = p->head;
    if (s != HC_NIL && s == keep)
        s = e[s].pol_next;
    return s;
}

void hc_policy_list_clear(hc_pol *p)
{
    hc_policy_free(p);
}

size_t hc_policy_list_order(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux)
{
    size_t k = 0;
    uint32_t s;
    for (s = p->head; s != HC_NIL; s = e[s].pol_next) {
        out[k] = s;
        if (aux)
            aux[k] = 0;
        k++;
    }
    return k;
}

int hc_policy_list_restore(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux,
                           size_t n)
{
    size_t i;
    (void)aux;
    p->head = p->tail = HC_NIL;
    p->n = 0;
    for (i = 0; i < n; i++)
        hc_policy_list_insert(p, e, slots[i]);
    return 0;
}

int hc_policy_list_check(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                         size_t msglen)
{
    uint32_t s, prev = HC_NIL;
    size_t k = 0;
    for (s = p->head; s != HC_NIL; prev = s, s = e[s].pol_next) {
        if (s >= cap)
            return hc_policy_fail(msg, msglen, "policy list: slot %lu out of range", (unsigned long)s);
        if (!(e[s].flags & HC_F_LIVE))
            return hc_policy_fail(msg, msglen, "policy list: slot %lu not live", (unsigned long)s);
        if (e[s].pol_prev != prev)
            return hc_policy_fail(msg, msglen, "policy list: slot %lu has a wrong prev link",
                                  (unsigned long)s);
        if (++k > live)
            return hc_policy_fail(msg, msglen, "policy list: longer than the %lu live entries",
                                  (unsigned long)live);
    }
    if (p->tail != prev)
        return hc_policy_fail(msg, msglen, "policy list: tail is not the last entry");
    if (k != live || p->n != live)
        return hc_policy_fail(msg, msglen, "policy list: holds %lu (n=%lu), %lu live",
                              (unsigned long)k, (unsigned long)p->n, (unsigned long)live);
    return 0;
}

uint32_t hc_policy_list_peek(const hc_pol *p, const hc_entry *e)
{
    (void)e;
    return p->head;
}

void hc_policy_list_replace(hc_pol *p, hc_entry *e, uint32_t s, uint64_t hash, uint64_t w_old,
                            uint32_t n)
{
    (void)hash;
    (void)w_old;
    (void)n;
    pol_list_replace(p, e, s);
}

/* ---- hc_queue checking, shared by the multi-queue policies ---- */

int hc_policy_queue_check(const hc_pol *p, const hc_queue *q, const hc_entry *e, uint32_t cap,
                          uint32_t tag_mask, uint32_t tag, const char *name, size_t *seen,
                          char *msg, size_t msglen)
{
    uint32_t s, prev = HC_NIL, k = 0;
    uint64_t weight = 0;
    for (s = q->head; s != HC_NIL; prev = s, s = e[s].pol_next) {
        if (s >= cap || !(e[s].flags & HC_F_LIVE))
            return hc_policy_fail(msg, msglen, "%s: slot %lu is not live", name, (unsigned long)s);
        if (e[s].pol_prev != prev)
            return hc_policy_fail(msg, msglen, "%s: slot %lu has a wrong prev link", name,
                                  (unsigned long)s);
        if ((e[s].pol_aux & tag_mask) != tag)
            return hc_policy_fail(msg, msglen, "%s: slot %lu is tagged %lu", name, (unsigned long)s,
                                  (unsigned long)(e[s].pol_aux & tag_mask));
        if (++k > cap)
            return hc_policy_fail(msg, msglen, "%s: the queue cycles", name);
        weight += pol_weight(p, s);
    }
    if (q->tail != prev)
        return hc_policy_fail(msg, msglen, "%s: tail is not the last entry", name);
    if (k != q->n)
        return hc_policy_fail(msg, msglen, "%s: %lu linked, n = %lu", name, (unsigned long)k,
                              (unsigned long)q->n);
    if (weight != q->weight)
        return hc_policy_fail(msg, msglen, "%s: weights sum to %llu, counter %llu", name,
                              (unsigned long long)weight, (unsigned long long)q->weight);
    *seen += k;
    return 0;
}
