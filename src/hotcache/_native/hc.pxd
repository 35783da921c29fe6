# Declarations of csrc/hc.h used by core.pyx (mirrors the header; only what is used).
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "hc.h" nogil:
    uint32_t HC_NIL
    uint64_t HC_UNBOUNDED

    enum:
        HC_POLICY_INSERTION
        HC_POLICY_LRU
        HC_POLICY_LFU
        HC_POLICY_FIFO
        HC_POLICY_RANDOM
        HC_POLICY_S3FIFO
        HC_POLICY_TINYLFU

    enum:
        HC_CAUSE_NONE
        HC_CAUSE_SIZE
        HC_CAUSE_MEMORY
        HC_CAUSE_EXPIRED

    ctypedef struct hc_config:
        int policy
        uint64_t max_size
        uint64_t max_bytes
        uint64_t seed
        double tick

    ctypedef struct hc_stats:
        uint64_t hits, misses, inserts, updates, deletes
        uint64_t evictions_size, evictions_memory, expirations

    ctypedef struct hc_cache:
        pass

    ctypedef struct hc_entry:
        uint64_t hash
        void *key
        void *val

    ctypedef struct hc_probe:
        uint32_t frag
        size_t pos
        size_t empty

    ctypedef struct hc_evicted:
        uint32_t slot
        void *key
        void *val

    hc_cache *hc_new(const hc_config *cfg)
    void hc_free(hc_cache *c)
    hc_cache *hc_clone(const hc_cache *c)

    void hc_probe_init(const hc_cache *c, uint64_t hash, hc_probe *p)
    uint32_t hc_probe_next(const hc_cache *c, hc_probe *p)
    uint64_t hc_hash_at(const hc_cache *c, uint32_t slot)
    hc_entry *hc_entry_at(hc_cache *c, uint32_t slot)
    uint64_t hc_version(const hc_cache *c)
    void hc_touch(hc_cache *c, uint32_t slot)
    void hc_miss(hc_cache *c, uint64_t hash)
    void hc_count_miss(hc_cache *c)
    double hc_expire_at(const hc_cache *c, uint32_t slot)
    bint hc_expired(const hc_cache *c, uint32_t slot, double now)
    int hc_timed(const hc_cache *c)

    int hc_over(const hc_cache *c, uint64_t add_size, uint64_t add_bytes)
    uint32_t hc_evict(hc_cache *c, double now, int pressure, int *cause)
    uint32_t hc_evict_keep(hc_cache *c, double now, int pressure, int *cause, uint32_t keep)
    double hc_victim_expire_at(const hc_cache *c)
    int hc_prepare_update(hc_cache *c, uint64_t size, uint64_t nbytes, double expire_at)
    uint32_t hc_insert(hc_cache *c, uint64_t hash, uint64_t size, uint64_t nbytes, double expire_at)
    uint32_t hc_insert_probed(hc_cache *c, const hc_probe *p, uint64_t hash, hc_evicted *ev)
    void hc_update(hc_cache *c, uint32_t slot, uint64_t size, uint64_t nbytes, double expire_at)
    void hc_set_expire(hc_cache *c, uint32_t slot, double expire_at)
    int hc_set_bytes(hc_cache *c, uint32_t slot, uint64_t nbytes)
    void hc_remove(hc_cache *c, uint32_t slot)
    void hc_expire_slot(hc_cache *c, uint32_t slot)
    uint32_t hc_victim(hc_cache *c)
    void hc_remove_victim(hc_cache *c, uint32_t slot)
    uint32_t hc_prefetch_victim(const hc_cache *c)
    void hc_prefetch(const void *p)
    size_t hc_expire(hc_cache *c, double now, uint32_t *out, size_t max)
    size_t hc_reclaim(hc_cache *c, double now, uint32_t *out, size_t max)
    void hc_clear(hc_cache *c)
    void hc_set_limits(hc_cache *c, uint64_t max_size, uint64_t max_bytes)

    size_t hc_len(const hc_cache *c)
    uint64_t hc_size_used(const hc_cache *c)
    uint64_t hc_bytes_used(const hc_cache *c)
    uint64_t hc_max_size(const hc_cache *c)
    uint64_t hc_max_bytes(const hc_cache *c)
    uint32_t hc_capacity(const hc_cache *c)
    uint64_t hc_entry_size(const hc_cache *c, uint32_t slot)
    uint64_t hc_entry_bytes(const hc_cache *c, uint32_t slot)
    size_t hc_overhead_bytes(const hc_cache *c)
    const hc_stats *hc_stats_of(const hc_cache *c)
    void hc_stats_reset(hc_cache *c)
    void hc_stats_restore(hc_cache *c, uint64_t hits, uint64_t misses, uint64_t inserts,
                          uint64_t updates, uint64_t deletes, uint64_t evictions_size,
                          uint64_t evictions_memory, uint64_t expirations)

    uint32_t hc_order_first(const hc_cache *c)
    uint32_t hc_order_next(const hc_cache *c, uint32_t slot)
    size_t hc_policy_order(const hc_cache *c, uint32_t *out, uint64_t *aux)
    int hc_policy_restore(hc_cache *c, const uint32_t *slots, const uint64_t *aux, size_t n)
    size_t hc_policy_state_size(const hc_cache *c)
    void hc_policy_state_save(const hc_cache *c, void *buf)
    int hc_policy_state_load(hc_cache *c, const void *buf, size_t n)

    ctypedef struct hc_policy_info:
        uint64_t q_weight[3]
        uint32_t q_len[3]
        uint64_t q_max[3]
        uint64_t ghost_words
        uint64_t ghost_sample
        uint64_t sketch_capacity
        double protect_share
    void hc_policy_info_get(const hc_cache *c, hc_policy_info *out)
    uint32_t hc_policy_frequency(const hc_cache *c, uint64_t hash)

    uint64_t hc_rng_state(const hc_cache *c)
    void hc_rng_set_state(hc_cache *c, uint64_t state)

    int hc_check(const hc_cache *c, char *msg, size_t msglen)
