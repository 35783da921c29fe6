/* hc_policy_lru.c -- the LRU policy: least recently used; reads and re-assignments move an entry to most recent.
 * A doubly linked list (head = next victim, tail = newest) shared with the other list policies. */
#include "hc_policy.h"

const hc_policy_ops hc_policy_lru = {
    .name = "lru",
    .reserve = hc_policy_list_reserve,
    .on_insert = hc_policy_list_insert,
    .on_access = hc_policy_list_touch,
    .on_update = hc_policy_list_touch,
    .on_remove = hc_policy_list_remove,
    .on_evict = hc_policy_list_remove, /* an eviction is a removal here */
    .on_replace = hc_policy_list_replace, /* inlined by hc_insert_probed */
    .victim = hc_policy_list_victim,
    .clear = hc_policy_list_clear,
    .order = hc_policy_list_order,
    .restore = hc_policy_list_restore,
    .check = hc_policy_list_check,
    .peek = hc_policy_list_peek,
};
