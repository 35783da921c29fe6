/* hc_policy_fifo.c -- the FIFO policy: oldest (re-)assignment first; reads never move, re-assignment moves to newest.
 * A doubly linked list (head = next victim, tail = newest) shared with the other list policies. */
#include "hc_policy.h"

const hc_policy_ops hc_policy_fifo = {
    "fifo",
    hc_policy_list_reserve,
    hc_policy_list_insert,
    NULL, /* on_access: reads never move */
    hc_policy_list_touch, /* on_update */
    hc_policy_list_remove,
    hc_policy_list_victim,
    hc_policy_list_clear,
    hc_policy_list_order,
    hc_policy_list_restore,
    hc_policy_list_check,
};
