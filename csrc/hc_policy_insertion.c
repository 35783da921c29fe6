/* hc_policy_insertion.c -- the INSERTION policy: evict in first-insertion order; reads and re-assignments never move an entry.
 * A doubly linked list (head = next victim, tail = newest) shared with the other list policies. */
#include "hc_policy.h"

const hc_policy_ops hc_policy_insertion = {
    "insertion",
    hc_policy_list_reserve,
    hc_policy_list_insert,
    NULL, /* on_access: reads never move */
    hc_policy_list_nothing, /* on_update */
    hc_policy_list_remove,
    hc_policy_list_victim,
    hc_policy_list_clear,
    hc_policy_list_order,
    hc_policy_list_restore,
    hc_policy_list_check,
};
