# The adaptive policies' extra state (S3FIFO's ghost; TINYLFU's sketch, ghost and region sizes)
# as the binding sees it: the policy-wide blob that copy/pickle carry beside the policy order,
# and the numbers _policy_info() reports. Included by core.pyx after Core; pickle.pxi and
# Core._policy_info/_policy_frequency call these. The twin's side is the policy objects
# themselves (hotcache._spec.policy_s3fifo / policy_tinylfu), pickled whole.


cdef bytes _policy_state_save(Core self):
    """The policy-wide state beyond order and aux (b"" for the classical policies); the core
    writes it little-endian, so it is platform-independent."""
    cdef size_t n = hc_policy_state_size(self.c)
    cdef char *buf
    if n == 0:
        return b""
    buf = <char *>malloc(n)
    if buf == NULL:
        raise MemoryError()
    try:
        hc_policy_state_save(self.c, buf)
        return buf[:n]
    finally:
        free(buf)


cdef int _policy_state_load(Core self, object blob) except -1:
    """Replace the policy-wide state from _policy_state_save's bytes (after the policy order was
    restored). ValueError if they are malformed for this policy (nothing changed)."""
    cdef const unsigned char[::1] view
    if not isinstance(blob, bytes):
        raise ValueError("corrupt hotcache pickle: policy state must be bytes")
    if len(<bytes>blob) == 0:
        if self._policy == HC_POLICY_S3FIFO or self._policy == HC_POLICY_TINYLFU:
            raise ValueError("corrupt hotcache pickle: missing policy state")
        return 0
    view = <bytes>blob
    if hc_policy_state_load(self.c, &view[0], <size_t>view.shape[0]) != 0:
        raise ValueError("corrupt hotcache pickle: bad policy state")
    return 0


cdef dict _policy_info(Core self):
    """What the multi-queue policies keep, by name (an empty dict for the classical ones).
    Weights are sizes (getsizeof), or byte charges when only maxmemory bounds the cache."""
    cdef hc_policy_info i
    hc_policy_info_get(self.c, &i)
    if self._policy == HC_POLICY_S3FIFO:
        return {
            "small_weight": i.q_weight[0], "main_weight": i.q_weight[1],
            "small_len": i.q_len[0], "main_len": i.q_len[1],
            "small_max": i.q_max[0], "main_max": i.q_max[1],
            "ghost_len": i.ghost_words,
        }
    if self._policy == HC_POLICY_TINYLFU:
        return {
            "window_weight": i.q_weight[0], "probation_weight": i.q_weight[1],
            "protected_weight": i.q_weight[2],
            "window_len": i.q_len[0], "probation_len": i.q_len[1], "protected_len": i.q_len[2],
            "window_max": i.q_max[0], "protected_max": i.q_max[2],
            "protected_share": i.protect_share,
            "ghost_len": i.ghost_words, "ghost_sample": i.ghost_sample,
            "sketch_capacity": i.sketch_capacity,
        }
    return {}


cdef int _policy_frequency(Core self, object key) except -1:
    """TINYLFU: the sketch's estimate of key (0..15); S3FIFO: 1 if its ghost remembers key's
    hash, else 0; 0 for the classical policies. Counts nothing."""
    return hc_policy_frequency(self.c, <uint64_t><Py_hash_t>hash(key))
