/* hc_policy_lru.c -- the LRU policy: least recently used; reads and re-assignments move an entry to most recent.
 * A doubly linked list (head = next victim, tail = newest) shared with the other list policies. */
#include "hc_policy.h"

const hc_policy_ops hc_policy_lru = {
    "lru",
    hc_policy_list_reserve,
    hc_policy_list_insert,
    hc_policy_list_touch, /* on_access */
    hc_policy_list_touch, /* on_update */
    hc_policy_list_remove,
    hc_policy_list_victim,
    hc_policy_list_clear,
    hc_policy_list_order,
    hc_policy_list_restore,
    hc_policy_list_check,
};
