/* hc_state.h -- little-endian byte (de)serialisation for policy-wide state (sketch, ghost,
 * region sizes) behind hc_policy_state_save()/hc_policy_state_load(): fixed widths, so a pickle
 * reads the same on every platform. A reader never reads past its end: it fails instead. */
#ifndef HC_STATE_H
#define HC_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline unsigned char *hc_put64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static inline unsigned char *hc_put32(unsigned char *p, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 4;
}

static inline unsigned char *hc_put_double(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return hc_put64(p, v);
}

/* A bounded reader: every get fails (returns -1, sets bad) once the bytes run out. */
typedef struct hc_reader {
    const unsigned char *p, *end;
    int bad;
} hc_reader;

static inline void hc_reader_init(hc_reader *r, const unsigned char *buf, size_t n)
{
    r->p = buf;
    r->end = buf + n;
    r->bad = 0;
}

static inline int hc_get64(hc_reader *r, uint64_t *v)
{
    int i;
    if (r->bad || r->end - r->p < 8) {
        r->bad = 1;
        return -1;
    }
    *v = 0;
    for (i = 0; i < 8; i++)
        *v |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    return 0;
}

static inline int hc_get32(hc_reader *r, uint32_t *v)
{
    int i;
    if (r->bad || r->end - r->p < 4) {
        r->bad = 1;
        return -1;
    }
    *v = 0;
    for (i = 0; i < 4; i++)
        *v |= (uint32_t)r->p[i] << (8 * i);
    r->p += 4;
    return 0;
}

static inline int hc_get_double(hc_reader *r, double *d)
{
    uint64_t v;
    if (hc_get64(r, &v) < 0)
        return -1;
    memcpy(d, &v, sizeof v);
    return 0;
}

#endif /* HC_STATE_H */
