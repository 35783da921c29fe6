/* hc_hash.h -- the 64-bit finalizer that the ghost queue and the frequency sketch hash with.
 * The index has its own cheap mixing (hc_mix in hc.h); these structures need every bit of the
 * hash well spread (block, counter and fingerprint bits come from different parts of it).
 *
 * The pure-Python twins compute the same function on hash(key) & (2**64 - 1), so a core and its
 * twin agree counter for counter. */
#ifndef HC_HASH_H
#define HC_HASH_H

#include <stdint.h>

/* MurmurHash3's fmix64 (Appleby 2011) of hash ^ salt: a bijection with full avalanche. */
static inline uint64_t hc_fmix64(uint64_t x, uint64_t salt)
{
    x ^= salt;
    x ^= x >> 33;
    x *= UINT64_C(0xFF51AFD7ED558CCD);
    x ^= x >> 33;
    x *= UINT64_C(0xC4CEB9FE1A85EC53);
    x ^= x >> 33;
    return x;
}

/* Uniform in [0, n) from 32 random bits (Lemire 2019, without the rejection: the bias is
 * below n / 2^32 and no caller needs exactness). */
static inline uint32_t hc_reduce32(uint32_t x, uint32_t n)
{
    return (uint32_t)(((uint64_t)x * n) >> 32);
}

#endif /* HC_HASH_H */
