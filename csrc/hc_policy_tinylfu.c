/* hc_policy_tinylfu.c -- the TINYLFU policy: W-TinyLFU (Einziger, Friedman & Manes, ACM ToS 2017)
 * on Caffeine's design -- a window LRU, a segmented main LRU, a frequency sketch that decides who
 * enters main -- with the region sizes adapted per miss from a ghost of recent victims.
 *
 *   new key ──▶ window (LRU, 1 % at first)      main: probation ⇄ protected (80 % of main at first)
 *                 │ oldest                        probation: head = victim ...... tail
 *                 ▼                               protected: a hit in probation moves here;
 *               candidate ──admit?──▶ probation tail     its overflow goes back to probation
 *                 │ no                   │ yes: the victim is evicted instead
 *                 ▼                      ▼
 *               evicted               (sketch: estimate(candidate) > estimate(victim))
 *
 *   entry.pol_aux = queue (bits 0-1: 0 window, 1 probation, 2 protected)
 *                 | F_DEMOTED (bit 2: in probation because protected pushed it out)
 *   sketch: hc_sketch.c (4-bit count-min, halved every 16 x capacity additions)
 *   ghost:  hc_ghost.c, a sample of victims' hashes tagged by where they were evicted from
 *
 * ADMISSION. The core evicts before it inserts, so victim() decides Caffeine's admission ahead
 * of the store: the candidate is the window's oldest entry (the one the new key pushes out of
 * the window), the victim probation's oldest (else protected's, else the window's own); the one
 * the sketch estimates less frequent goes, the candidate on a tie. A winning candidate stays at
 * the window's head and on_insert moves it to probation's tail as the new key enters, which is
 * where Caffeine leaves it. A candidate with an estimate >= 6 that is not higher than the
 * victim's still wins 1 time in 128 (Caffeine's defence against hash flooding: collisions that
 * inflate a victim's estimate cannot lock main); the draw comes from p->rng, advanced by every
 * eviction, so victim() is a pure function of the state (asking twice gives the same; the twin
 * replays it; peek() only guesses probation's head, sparing prefetches the two estimates).
 * A victim that defends its place goes round to probation's tail, so the next candidate meets
 * the next victim: one entry with a stale high count can no longer turn every newcomer away
 * (a shift of popularity otherwise leaves main full of such entries until the sketch halves
 * them; without it: table -0.0012, loop check trace -2.3 points). A candidate that needs
 * several victims' room must out-score each; one heavier than the whole maximum goes at once;
 * a key heavier than the window enters at its head, the next candidate (Caffeine).
 *
 * ADAPTATION. Which region should grow is measured, per miss, ARC-style (Megiddo & Modha 2003):
 * the ghost remembers recent victims' hashes with a tag -- W rejected from the window, P fresh
 * probation victims, D victims that had been demoted from protected. A miss on a remembered
 * hash is a miss a larger region would have turned into a hit: W grows the window; P and D
 * shrink it, then P grows probation and D grows protected (protected's share of main moves).
 * Each step is weighted by the inverse of how often that tag is evicted (ARC's |B2|/|B1|
 * ratio), so the boundaries settle where the regions' marginal hits per unit of space balance.
 * This is hill climbing on the hit ratio with a gradient sample per ghost hit. Caffeine's
 * climb() -- compare the hit rate of consecutive samples of 10 x maximum requests and keep
 * moving the way it improved -- was implemented first and measured worse here: it drifts while
 * the cache warms and random-walks on sampling noise (table average 0.4085 with it; 0.4086
 * with no adaptation at all; 0.4194 with this; the probation/protected half alone is worth
 * 0.0031 -- csrc/tools/README.md), so it is not kept.
 *
 * MISSES. hc_miss() counts the missed hash in the sketch (on_miss), so a key that keeps missing
 * (read and never stored, or stored and evicted at once) gains the frequency that admits it;
 * the insert right after that miss is then not counted twice. A store without a lookup counts.
 * Hits and re-assignments count as uses (sketch + queue), as Caffeine's onAccess/UpdateTask.
 *
 * MEMORY. Sketch and ghost are allocated once the cache is half full (Caffeine's lazy sizing),
 * for `maximum` entries while every size stored since clear was 1, else for the live entries
 * (regrown
 * geometrically; regrowth forgets). The sketch takes 15 words per 16 entries (7.5 B/entry);
 * the ghost samples one victim in 2^k so that it remembers 4096..8191 hashes (up to 8191
 * entries: all of them), 2 ways each: <= 64 KB, 0.5 B/entry at 100k entries (remembering every
 * victim measured +0.0001). If an allocation fails the policy runs with what it has and tries
 * again at the next insert.
 */
#include "hc_alloc.h"
#include "hc_hash.h"
#include "hc_policy.h"
#include "hc_state.h"

#define Q_WINDOW 0u
#define Q_PROBATION 1u
#define Q_PROTECT 2u
#define Q_MASK 3u
#define F_DEMOTED 4u

#define TAG_WINDOW 0 /* ghost tags: rejected candidate */
#define TAG_FRESH 1  /* probation victim admitted from the window */
#define TAG_DEMOTED 2 /* victim that had been in protected */

#define PERCENT_MAIN 0.99       /* window = 1 % of the maximum at first (Caffeine) */
#define PERCENT_PROTECT 0.80    /* protected = 80 % of main at first (Caffeine) */
#define MAX_PROTECT_SHARE 0.99
#define TRANSFER_MAX 1000       /* entries moved per boundary step (Caffeine) */
#define ADMIT_HASHDOS 6u        /* estimates from here on get the jitter (Caffeine) */
#define JITTER_MASK 127u        /* ... which admits 1 candidate in 128 */
#define GHOST_MIN 4096u         /* the ghost samples victims down to >= this many hashes */
#define MAX_STEP_RATIO 64.0     /* cap on ARC's size-ratio weight of one step */
#define JITTER_SALT UINT64_C(0xA54FF53A5F1D36F1)
#define SAMPLE_SALT UINT64_C(0x510E527FADE682D1)
#define MAX_WEIGHT (UINT64_C(1) << 62) /* bounds above this are treated as this */

static inline uint32_t queue_tag(const hc_entry *e, uint32_t s) { return e[s].pol_aux & Q_MASK; }

static inline hc_queue *queue_of(hc_pol *p, const hc_entry *e, uint32_t s)
{
    uint32_t q = queue_tag(e, s);
    return q == Q_WINDOW ? &p->tl.window : q == Q_PROBATION ? &p->tl.probation : &p->tl.protect;
}

static inline uint64_t total_weight(const hc_tinylfu *t)
{
    return t->window.weight + t->probation.weight + t->protect.weight;
}

/* Move s (weight w) from queue `from` to the tail of `to`, tagged `aux`. */
static inline void move_to(hc_entry *e, uint32_t s, uint64_t w, hc_queue *from, hc_queue *to,
                           uint32_t aux)
{
    pol_q_extract(from, e, s, w);
    pol_q_append(to, e, s, w);
    e[s].pol_aux = aux;
}

/* The regions' first shares of the maximum (Caffeine's setMaximumSize); forgets adaptation. */
static void configure(hc_pol *p)
{
    hc_tinylfu *t = &p->tl;
    uint64_t max = pol_maximum(p);
    if (max > MAX_WEIGHT)
        max = MAX_WEIGHT;
    t->maximum = max;
    t->window_max = max - (uint64_t)(PERCENT_MAIN * (double)max);
    t->protect_share = PERCENT_PROTECT;
    t->protect_max = (uint64_t)(t->protect_share * (double)(max - t->window_max));
    t->evicted[0] = t->evicted[1] = t->evicted[2] = 0.0;
    t->configured = 1;
}

/* ---- region maintenance ---- */

/* Protected's oldest back to probation (flagged demoted) while protected is over its bound, at
 * most `budget` entries. */
static void demote_protected_n(hc_pol *p, hc_entry *e, int budget)
{
    hc_tinylfu *t = &p->tl;
    int i;
    for (i = 0; i < budget && t->protect.weight > t->protect_max; i++) {
        uint32_t s = t->protect.head;
        if (s == HC_NIL)
            break;
        move_to(e, s, pol_weight(p, s), &t->protect, &t->probation, Q_PROBATION | F_DEMOTED);
    }
}

static void demote_protected(hc_pol *p, hc_entry *e)
{
    demote_protected_n(p, e, TRANSFER_MAX);
}

/* Window's oldest to probation's tail while the window is over its bound (Caffeine's
 * evictFromWindow). A weightless entry frees nothing and stays. */
HC_NOINLINE static void demote_window_all(hc_pol *p, hc_entry *e)
{
    hc_tinylfu *t = &p->tl;
    uint32_t s = t->window.head;
    while (t->window.weight > t->window_max && s != HC_NIL) {
        uint32_t next = e[s].pol_next;
        uint64_t w = pol_weight(p, s);
        if (w != 0)
            move_to(e, s, w, &t->window, &t->probation, Q_PROBATION);
        s = next;
    }
}

/* demote_window_all when the window is over its bound (inline: mostly it is not). */
static inline void demote_window(hc_pol *p, hc_entry *e)
{
    if (p->tl.window.weight > p->tl.window_max)
        demote_window_all(p, e);
}

/* Protected's bound from its share of main, then fit protected into it. */
static void resplit(hc_pol *p, hc_entry *e)
{
    hc_tinylfu *t = &p->tl;
    t->protect_max = (uint64_t)(t->protect_share * (double)(t->maximum - t->window_max));
    demote_protected(p, e);
}

/* Grow the window by up to `amount` (main keeps at least 1) and fill it from main, probation's
 * oldest first, then protected's (Caffeine's increaseWindow). The two sources are moved from in
 * separate branches, each naming its queue: GCC 12.2 at -O2 miscompiled this loop written with
 * a `from` pointer chosen between the two (loop invariant motion kept probation's head in a
 * register across the move; -fno-tree-loop-im or -fno-strict-aliasing made it correct), which
 * hc_check caught in a trace replay (csrc/tools/hc_replay). */
static void grow_window(hc_pol *p, hc_entry *e, uint64_t amount)
{
    hc_tinylfu *t = &p->tl;
    uint64_t room = t->maximum > t->window_max + 1 ? t->maximum - t->window_max - 1 : 0;
    uint64_t quota = amount < room ? amount : room;
    int i;
    t->window_max += quota;
    for (i = 0; i < TRANSFER_MAX; i++) {
        uint32_t s = t->probation.head;
        uint64_t w;
        if (s != HC_NIL && (w = pol_weight(p, s)) <= quota) {
            quota -= w;
            move_to(e, s, w, &t->probation, &t->window, Q_WINDOW);
            continue;
        }
        s = t->protect.head;
        if (s == HC_NIL || (w = pol_weight(p, s)) > quota)
            break;
        quota -= w;
        move_to(e, s, w, &t->protect, &t->window, Q_WINDOW);
    }
    resplit(p, e);
}

/* Shrink the window by up to `amount` (never below 1), its oldest going to probation. */
static void shrink_window(hc_pol *p, hc_entry *e, uint64_t amount)
{
    hc_tinylfu *t = &p->tl;
    uint64_t quota = t->window_max > 1 ? t->window_max - 1 : 0;
    int i;
    if (amount < quota)
        quota = amount;
    t->window_max -= quota;
    for (i = 0; i < TRANSFER_MAX && t->window.weight > t->window_max; i++) {
        uint32_t s = t->window.head;
        if (s == HC_NIL)
            break;
        move_to(e, s, pol_weight(p, s), &t->window, &t->probation, Q_PROBATION);
    }
    resplit(p, e);
}

/* ---- adaptation from the ghost ---- */

/* One victim hash in 2^ghost_shift is sampled. Below 8192 remembered hashes the shift is 0 and
 * every hash is: the mix is then skipped (the same answer, one fmix64 less per miss and per
 * eviction on small caches). */
static inline int ghost_sampled(const hc_tinylfu *t, uint64_t hash)
{
    return t->ghost_shift == 0 ||
           (hc_fmix64(hash, SAMPLE_SALT) & ((UINT64_C(1) << t->ghost_shift) - 1)) == 0;
}

/* A victim leaves: remember its hash (if sampled) with where it was, and count the tag. */
static void ghost_remember(hc_pol *p, const hc_entry *e, uint32_t s, uint64_t w)
{
    hc_tinylfu *t = &p->tl;
    uint32_t q = queue_tag(e, s);
    int tag, k;
    double keep;
    if (!t->ghost.slot || !ghost_sampled(t, e[s].hash))
        return;
    tag = q == Q_WINDOW ? TAG_WINDOW
                        : (q == Q_PROTECT || (e[s].pol_aux & F_DEMOTED)) ? TAG_DEMOTED : TAG_FRESH;
    if (t->keep_for != t->ghost.sized_for) { /* the division once per ghost size */
        t->keep = 1.0 - 1.0 / (1.0 + (double)t->ghost.sized_for);
        t->keep_for = t->ghost.sized_for;
    }
    keep = t->keep;
    hc_ghost_add_tag(&t->ghost, e[s].hash, w, tag);
    /* decayed counts of recent sampled evictions per tag: x * keep + (k == tag) for each, as
     * three products and one sum (adding 0.0 to a product >= 0 changes nothing) */
    for (k = 0; k < 3; k++)
        t->evicted[k] *= keep;
    t->evicted[tag] += 1.0;
}

/* ARC's step weight: (all recent evictions) / (those of `part`), at most MAX_STEP_RATIO. */
static double ratio(double all, double part)
{
    double r = part > 0.0 ? all / part : 1.0;
    return r < MAX_STEP_RATIO ? r : MAX_STEP_RATIO;
}

/* The ghost remembered `hash` evicted from region `tag`: move the boundaries toward the region
 * that would have kept it (see ADAPTATION above). Out of line: most misses are not in the
 * ghost, and ghost_feedback's test is then all they pay. */
HC_NOINLINE static void adapt(hc_pol *p, hc_entry *e, int tag)
{
    hc_tinylfu *t = &p->tl;
    double unit, main_ev, share;
    uint64_t n = (uint64_t)t->window.n + t->probation.n + t->protect.n;
    /* one step = the sampling factor x the average entry weight */
    unit = (double)(UINT64_C(1) << t->ghost_shift) * (n ? (double)total_weight(t) / (double)n : 1.0);
    main_ev = t->evicted[TAG_FRESH] + t->evicted[TAG_DEMOTED];
    if (tag == TAG_WINDOW) {
        grow_window(p, e, (uint64_t)(ratio(t->evicted[TAG_WINDOW] + main_ev, t->evicted[TAG_WINDOW]) * unit + 0.5));
        return;
    }
    shrink_window(p, e, (uint64_t)(ratio(t->evicted[TAG_WINDOW] + main_ev, main_ev) * unit + 0.5));
    share = ratio(main_ev, t->evicted[tag]) * unit /
            (double)(t->maximum > t->window_max ? t->maximum - t->window_max : 1);
    share = tag == TAG_DEMOTED ? t->protect_share + share : t->protect_share - share;
    t->protect_share = share < 0.0 ? 0.0 : share > MAX_PROTECT_SHARE ? MAX_PROTECT_SHARE : share;
    resplit(p, e);
}

/* A request for `hash` missed: if the ghost remembers where it was evicted from, adapt. */
static inline void ghost_feedback(hc_pol *p, hc_entry *e, uint64_t hash)
{
    hc_tinylfu *t = &p->tl;
    int tag;
    if (!t->ghost.slot || !ghost_sampled(t, hash) || (tag = hc_ghost_take_tag(&t->ghost, hash)) < 0)
        return;
    adapt(p, e, tag);
}

/* ---- admission ---- */

/* The admission decision: the slot that goes next (other than keep), or HC_NIL. Pure. */
static uint32_t choose(const hc_pol *p, const hc_entry *e, uint32_t keep)
{
    const hc_tinylfu *t = &p->tl;
    uint32_t cand = t->window.head, vict = t->probation.head;
    uint32_t fc, fv;
    if (cand == keep && cand != HC_NIL)
        cand = e[cand].pol_next;
    if (vict == keep && vict != HC_NIL)
        vict = e[vict].pol_next;
    if (vict == HC_NIL) {
        vict = t->protect.head;
        if (vict == keep && vict != HC_NIL)
            vict = e[vict].pol_next;
    }
    if (vict == HC_NIL) /* only the window holds entries: its oldest goes */
        return cand;
    if (cand == HC_NIL)
        return vict;
    if (pol_weight(p, cand) > t->maximum)
        return cand;
    /* The victim's estimate first: the candidate's then stops at the first counter that
     * settles the answer -- one <= min(fv, ADMIT_HASHDOS - 1) means fc <= fv and fc below the
     * jitter's threshold, so the candidate goes (the same answer as the full estimate). */
    fv = hc_sketch_estimate(&t->sketch, e[vict].hash);
    fc = hc_sketch_estimate_above(&t->sketch, e[cand].hash,
                                  fv < ADMIT_HASHDOS - 1 ? fv : ADMIT_HASHDOS - 1);
    if (fc > fv)
        return vict;
    if (fc >= ADMIT_HASHDOS && (hc_fmix64(p->rng, JITTER_SALT) & JITTER_MASK) == 0)
        return vict;
    return cand;
}

/* ---- ops ---- */

/* Sampling shift for a ghost of up to `hashes`: the least k with hashes >> k < 2 x GHOST_MIN. */
static unsigned shift_for(uint64_t hashes)
{
    unsigned k = 0;
    while ((hashes >> (k + 1)) >= GHOST_MIN && k < 40)
        k++;
    return k;
}

/* Size sketch and ghost once the cache is half full (see MEMORY above). Fast when nothing is to
 * change: an unweighted cache's sketch is sized once, and the ghost is re-derived only when
 * the sketch's capacity moved (ghost_for). */
HC_NOINLINE static int reserve_slow(hc_pol *p, uint32_t n)
{
    hc_tinylfu *t = &p->tl;
    uint64_t want, have = t->sketch.capacity;
    int weighted = pol_by_bytes(p) || t->sized;
    unsigned k;
    if (t->maximum == MAX_WEIGHT || total_weight(t) < t->maximum / 2)
        return 0;
    want = weighted ? n : t->maximum;
    if (weighted && have && have < want && want < 2 * have)
        want = 2 * have; /* grow geometrically: each resize forgets */
    if (have < want || have > 4 * want + 64 || (!weighted && have != want))
        (void)hc_sketch_size(&t->sketch, want); /* on OOM: keep what we have, retry next insert */
    want = t->sketch.capacity ? t->sketch.capacity : want;
    if (t->ghost.slot && t->ghost_for == want)
        return 0;
    k = shift_for(want);
    if (!t->ghost.slot || k != t->ghost_shift || t->ghost.sized_for != (want >> k)) {
        hc_ghost_set_life(&t->ghost, t->maximum >> k);
        if (hc_ghost_size(&t->ghost, want >> k) < 0)
            return 0;
        t->ghost_shift = (uint8_t)k;
        t->evicted[0] = t->evicted[1] = t->evicted[2] = 0.0;
    }
    t->ghost_for = want;
    return 0;
}

static inline int tl_reserve(hc_pol *p, uint32_t n)
{
    const hc_tinylfu *t = &p->tl;
    /* the steady unweighted case, which reserve_slow would also leave as it is: sketch sized
     * for the maximum and the ghost derived from it */
    if (!(pol_by_bytes(p) || t->sized) && t->sketch.capacity == t->maximum &&
        t->ghost_for == t->maximum && t->ghost.slot)
        return 0;
    return reserve_slow(p, n);
}

/* Sizes other than 1 make the sketch size by entries (see MEMORY); sticky until clear. */
static inline void note_size(hc_pol *p, uint32_t s)
{
    if (*p->size_ref && (*p->size_ref)[s] != 1)
        p->tl.sized = 1;
}

/* on_insert's body for a newcomer of hash `hash` and weight w in slot s (note_size done). */
static inline void insert_hashed(hc_pol *p, hc_entry *e, uint32_t s, uint64_t hash, uint64_t w)
{
    hc_tinylfu *t = &p->tl;
    if (!(t->miss_pending && t->last_miss == hash)) {
        hc_sketch_add(&t->sketch, hash);
        ghost_feedback(p, e, hash);
    }
    t->miss_pending = 0;
    e[s].pol_aux = Q_WINDOW;
    if (w > t->window_max) { /* heavier than the window: its head, the next candidate */
        demote_window(p, e);
        pol_q_prepend(&t->window, e, s, w);
    } else {
        pol_q_append(&t->window, e, s, w);
        demote_window(p, e);
    }
}

static void tl_insert(hc_pol *p, hc_entry *e, uint32_t s)
{
    note_size(p, s);
    insert_hashed(p, e, s, e[s].hash, pol_weight(p, s));
}

/* A probation hit on a full protected region, in one relinking: s (probation, weight w) goes to
 * protected's tail and protected's oldest h (weight hw, not s) to probation's tail, demoted --
 * exactly move_to(s: probation -> protected) then demote_protected moving h alone, which is
 * what the caller checked (protected over its bound with s, within it without h). In shuffled
 * rounds nearly every hit is this one (SLRU's pathological pattern). */
static inline void swap_promote(hc_tinylfu *t, hc_entry *e, uint32_t s, uint64_t w, uint32_t h,
                                uint64_t hw)
{
    uint32_t pv = e[s].pol_prev, nx = e[s].pol_next, h2 = e[h].pol_next, pt;
    /* s out of probation */
    if (pv != HC_NIL)
        e[pv].pol_next = nx;
    else
        t->probation.head = nx;
    if (nx != HC_NIL)
        e[nx].pol_prev = pv;
    else
        t->probation.tail = pv;
    /* h out of protected's head; s in at its tail (h2 is s when h was protected's only entry) */
    pt = t->protect.tail;
    t->protect.head = h2;
    if (h2 != HC_NIL) {
        e[h2].pol_prev = HC_NIL;
        e[pt].pol_next = s;
        e[s].pol_prev = pt;
    } else {
        t->protect.head = s;
        e[s].pol_prev = HC_NIL;
    }
    e[s].pol_next = HC_NIL;
    t->protect.tail = s;
    /* h in at probation's tail */
    pt = t->probation.tail;
    e[h].pol_prev = pt;
    e[h].pol_next = HC_NIL;
    if (pt != HC_NIL)
        e[pt].pol_next = h;
    else
        t->probation.head = h;
    t->probation.tail = h;
    t->protect.weight = t->protect.weight + w - hw;
    t->probation.weight = t->probation.weight - w + hw;
    e[s].pol_aux = Q_PROTECT;
    e[h].pol_aux = Q_PROBATION | F_DEMOTED;
}

/* A window or probation entry was used (out of line: tl_access's protected path stays a leaf).
 * The sketch counts it; a window entry moves to the window's tail; a probation entry goes to
 * protected's tail, demoting protected's overflow, unless it outweighs protected: then to
 * probation's tail (Caffeine's onAccess / reorderProbation). */
HC_NOINLINE static void use_unprotected(hc_pol *p, hc_entry *e, uint32_t s)
{
    hc_tinylfu *t = &p->tl;
    uint64_t w, hw;
    uint32_t h;
    hc_sketch_add(&t->sketch, e[s].hash);
    if (queue_tag(e, s) == Q_WINDOW) {
        pol_q_to_tail(&t->window, e, s);
        return;
    }
    h = t->protect.head;
    if (!pol_by_bytes(p) && !*p->size_ref) { /* every weight is 1: no per-entry lookups */
        if (t->protect_max == 0) {
            pol_q_to_tail(&t->probation, e, s);
            return;
        }
        if (h != HC_NIL && t->protect.weight == t->protect_max) { /* full: w + w(h) - w(h) fits */
            swap_promote(t, e, s, 1u, h, 1u);
            return;
        }
        w = 1u;
    } else {
        w = pol_weight(p, s);
        if (w > t->protect_max) {
            pol_q_to_tail(&t->probation, e, s);
            return;
        }
        if (h != HC_NIL && t->protect.weight + w > t->protect_max &&
            t->protect.weight + w - (hw = pol_weight(p, h)) <= t->protect_max) {
            swap_promote(t, e, s, w, h, hw);
            return;
        }
    }
    move_to(e, s, w, &t->probation, &t->protect, Q_PROTECT);
    demote_protected(p, e);
}

/* A use of s: a read hit, or a re-assignment whose weight fits (Caffeine's onAccess). A
 * protected hit only moves to protected's tail: protected entries face no admission while they
 * stay there, and leaving their hits out of the sketch keeps a demoted one from defending
 * probation on a count it built while protected (measured: table average +0.0005, the shifting
 * and loop check traces +0.4 / +0.3 points) -- and the common hit skips the sketch. */
static void tl_access(hc_pol *p, hc_entry *e, uint32_t s)
{
    if (queue_tag(e, s) == Q_PROTECT)
        pol_q_to_tail(&p->tl.protect, e, s);
    else
        use_unprotected(p, e, s);
}

/* A re-assignment (Caffeine's UpdateTask): a use, unless the entry now outweighs its region:
 * then it goes to the window's head, the next candidate. */
static void tl_update(hc_pol *p, hc_entry *e, uint32_t s)
{
    hc_tinylfu *t = &p->tl;
    uint64_t w = pol_weight(p, s);
    hc_queue *q = queue_of(p, e, s);
    if (w <= (q == &t->window ? t->window_max : t->maximum)) {
        tl_access(p, e, s);
        return;
    }
    pol_q_extract(q, e, s, w);
    pol_q_prepend(&t->window, e, s, w);
    e[s].pol_aux = Q_WINDOW;
}

static void tl_remove(hc_pol *p, hc_entry *e, uint32_t s)
{
    pol_q_extract(queue_of(p, e, s), e, s, pol_weight(p, s));
}

/* An eviction: remember it in the ghost; a rejected candidate sends the victim that defended
 * (probation's head) round to probation's tail; the jitter draw advances. */
static inline void evict_weighed(hc_pol *p, hc_entry *e, uint32_t s, uint64_t w)
{
    hc_tinylfu *t = &p->tl;
    ghost_remember(p, e, s, w);
    if (queue_tag(e, s) == Q_WINDOW && t->probation.head != HC_NIL)
        pol_q_to_tail(&t->probation, e, t->probation.head);
    pol_q_extract(queue_of(p, e, s), e, s, w);
    p->rng++;
}

static void tl_evict(hc_pol *p, hc_entry *e, uint32_t s)
{
    evict_weighed(p, e, s, pol_weight(p, s));
}

/* The fused miss path (see on_replace in hc_policy.h): tl_evict, tl_reserve and tl_insert in
 * one call. The newcomer's size is 1, so note_size has nothing to note. */
static void tl_replace(hc_pol *p, hc_entry *e, uint32_t s, uint64_t hash, uint64_t w_old,
                       uint32_t n)
{
    evict_weighed(p, e, s, w_old);
    (void)tl_reserve(p, n); /* cannot fail */
    insert_hashed(p, e, s, hash, pol_weight_of(p, 1u, 0u));
}

static uint32_t tl_victim(hc_pol *p, hc_entry *e, uint32_t keep)
{
    return choose(p, e, keep);
}

/* For prefetching only: probation's oldest (the usual victim; the window's oldest when main is
 * empty) without the two sketch estimates choose() would cost -- the store makes that decision
 * once, in victim(). */
static uint32_t tl_peek(const hc_pol *p, const hc_entry *e)
{
    (void)e;
    return p->tl.probation.head != HC_NIL ? p->tl.probation.head : p->tl.window.head;
}

static void tl_miss(hc_pol *p, hc_entry *e, uint64_t hash)
{
    hc_sketch_add(&p->tl.sketch, hash);
    ghost_feedback(p, e, hash);
    p->tl.last_miss = hash;
    p->tl.miss_pending = 1;
}

static void tl_clear(hc_pol *p)
{
    hc_policy_free(p);
    configure(p);
}

/* Append queue q's slots (oldest first) and their aux bits to out/aux from position k; new k. */
static size_t order_queue(const hc_queue *q, const hc_entry *e, uint32_t *out, uint64_t *aux,
                          size_t k)
{
    uint32_t s;
    for (s = q->head; s != HC_NIL; s = e[s].pol_next) {
        out[k] = s;
        if (aux)
            aux[k] = e[s].pol_aux & (Q_MASK | F_DEMOTED);
        k++;
    }
    return k;
}

static size_t tl_order(const hc_pol *p, const hc_entry *e, uint32_t *out, uint64_t *aux)
{
    size_t k = order_queue(&p->tl.window, e, out, aux, 0);
    k = order_queue(&p->tl.probation, e, out, aux, k);
    return order_queue(&p->tl.protect, e, out, aux, k);
}

/* aux as order() writes it; anything else is read as window. */
static int tl_restore(hc_pol *p, hc_entry *e, const uint32_t *slots, const uint64_t *aux, size_t n)
{
    hc_tinylfu *t = &p->tl;
    size_t i;
    pol_q_init(&t->window);
    pol_q_init(&t->probation);
    pol_q_init(&t->protect);
    for (i = 0; i < n; i++) {
        uint32_t s = slots[i], a = Q_WINDOW;
        hc_queue *q = &t->window;
        if (aux && (aux[i] == Q_PROBATION || aux[i] == (Q_PROBATION | F_DEMOTED))) {
            a = (uint32_t)aux[i];
            q = &t->probation;
        } else if (aux && aux[i] == Q_PROTECT) {
            a = Q_PROTECT;
            q = &t->protect;
        }
        pol_q_append(q, e, s, pol_weight(p, s));
        e[s].pol_aux = a;
    }
    return 0;
}

/* Recount q's summed weight in the current unit. */
static void reweigh(const hc_pol *p, hc_queue *q, const hc_entry *e)
{
    uint32_t s;
    q->weight = 0;
    for (s = q->head; s != HC_NIL; s = e[s].pol_next)
        q->weight += pol_weight(p, s);
}

/* New bounds: recount the weights (the unit may have changed), re-derive the shares (as
 * Caffeine's setMaximumSize does) and fit the regions; the core evicts. */
static void tl_limits(hc_pol *p, hc_entry *e)
{
    reweigh(p, &p->tl.window, e);
    reweigh(p, &p->tl.probation, e);
    reweigh(p, &p->tl.protect, e);
    configure(p);
    hc_ghost_set_life(&p->tl.ghost, p->tl.maximum >> p->tl.ghost_shift);
    demote_window(p, e);
    demote_protected(p, e);
}

static void tl_charge(hc_pol *p, hc_entry *e, uint32_t s, uint64_t old_size, uint64_t old_bytes)
{
    hc_queue *q = queue_of(p, e, s);
    note_size(p, s);
    q->weight = q->weight - pol_weight_of(p, old_size, old_bytes) + pol_weight(p, s);
}

static int tl_check(const hc_pol *p, const hc_entry *e, uint32_t cap, size_t live, char *msg,
                    size_t msglen)
{
    const hc_tinylfu *t = &p->tl;
    size_t seen = 0;
    uint64_t max = pol_maximum(p);
    /* the tags are exact: window 0, protected 2, probation 1 with or without F_DEMOTED */
    if (hc_policy_queue_check(p, &t->window, e, cap, ~0u, Q_WINDOW, "tinylfu window", &seen, msg,
                              msglen) < 0 ||
        hc_policy_queue_check(p, &t->protect, e, cap, ~0u, Q_PROTECT, "tinylfu protected", &seen,
                              msg, msglen) < 0 ||
        hc_policy_queue_check(p, &t->probation, e, cap, ~F_DEMOTED, Q_PROBATION,
                              "tinylfu probation", &seen, msg, msglen) < 0)
        return -1;
    if (seen != live)
        return hc_policy_fail(msg, msglen, "tinylfu: queues hold %lu, %lu live", (unsigned long)seen,
                              (unsigned long)live);
    if (max > MAX_WEIGHT)
        max = MAX_WEIGHT;
    if (!t->configured || t->maximum != max)
        return hc_policy_fail(msg, msglen, "tinylfu: maximum %llu, bounds say %llu",
                              (unsigned long long)t->maximum, (unsigned long long)max);
    if (!(t->protect_share >= 0.0 && t->protect_share <= MAX_PROTECT_SHARE) ||
        (max && (t->window_max < 1 || t->window_max > max)) ||
        t->protect_max != (uint64_t)(t->protect_share * (double)(max - t->window_max)))
        return hc_policy_fail(msg, msglen, "tinylfu: window %llu, protected %llu (share %g) of %llu",
                              (unsigned long long)t->window_max, (unsigned long long)t->protect_max,
                              t->protect_share, (unsigned long long)max);
    if (!(t->evicted[0] >= 0.0 && t->evicted[1] >= 0.0 && t->evicted[2] >= 0.0) ||
        t->ghost_shift > 40 || t->miss_pending > 1 || t->sized > 1)
        return hc_policy_fail(msg, msglen, "tinylfu: adaptation state out of range");
    if (hc_sketch_check(&t->sketch, msg, msglen) < 0)
        return -1;
    return hc_ghost_check(&t->ghost, msg, msglen);
}

/* ---- policy-wide state: bounds, adaptation, pending miss, sketch, ghost ---- */

#define TL_HEAD_BYTES (8 * 13)

static size_t tl_state_size(const hc_pol *p)
{
    return TL_HEAD_BYTES + hc_sketch_state_size(&p->tl.sketch) + hc_ghost_state_size(&p->tl.ghost);
}

static void tl_state_save(const hc_pol *p, unsigned char *buf)
{
    const hc_tinylfu *t = &p->tl;
    buf = hc_put64(buf, t->maximum);
    buf = hc_put64(buf, t->window_max);
    buf = hc_put64(buf, t->protect_max);
    buf = hc_put_double(buf, t->protect_share);
    buf = hc_put_double(buf, t->evicted[0]);
    buf = hc_put_double(buf, t->evicted[1]);
    buf = hc_put_double(buf, t->evicted[2]);
    buf = hc_put64(buf, t->ghost_shift);
    buf = hc_put64(buf, t->last_miss);
    buf = hc_put64(buf, t->miss_pending);
    buf = hc_put64(buf, t->sized);
    buf = hc_put64(buf, hc_sketch_state_size(&t->sketch));
    buf = hc_put64(buf, hc_ghost_state_size(&t->ghost));
    hc_sketch_state_save(&t->sketch, buf);
    hc_ghost_state_save(&t->ghost, buf + hc_sketch_state_size(&t->sketch));
}

static int tl_state_load(hc_pol *p, const hc_entry *e, const unsigned char *buf, size_t n)
{
    hc_tinylfu *t = &p->tl;
    hc_reader r;
    uint64_t maximum, window_max, protect_max, shift, last_miss, pending, sized, sk_n, gh_n;
    double share, ev[3];
    hc_sketch sk;
    hc_ghost gh;
    (void)e;
    hc_reader_init(&r, buf, n);
    hc_get64(&r, &maximum);
    hc_get64(&r, &window_max);
    hc_get64(&r, &protect_max);
    hc_get_double(&r, &share);
    hc_get_double(&r, &ev[0]);
    hc_get_double(&r, &ev[1]);
    hc_get_double(&r, &ev[2]);
    hc_get64(&r, &shift);
    hc_get64(&r, &last_miss);
    hc_get64(&r, &pending);
    hc_get64(&r, &sized);
    hc_get64(&r, &sk_n);
    hc_get64(&r, &gh_n);
    if (r.bad || maximum != t->maximum || window_max > maximum || (maximum && window_max < 1) ||
        !(share >= 0.0 && share <= MAX_PROTECT_SHARE) ||
        protect_max != (uint64_t)(share * (double)(maximum - window_max)) ||
        !(ev[0] >= 0.0 && ev[1] >= 0.0 && ev[2] >= 0.0) || shift > 40 || pending > 1 || sized > 1 ||
        sk_n > (size_t)(r.end - r.p) || gh_n != (size_t)(r.end - r.p) - sk_n)
        return -1;
    hc_sketch_init(&sk);
    if (hc_sketch_state_load(&sk, r.p, (size_t)sk_n) < 0)
        return -1;
    hc_ghost_init(&gh, 0);
    if (hc_ghost_state_load(&gh, r.p + sk_n, (size_t)gh_n) < 0) {
        hc_sketch_free(&sk);
        return -1;
    }
    hc_sketch_free(&t->sketch);
    hc_ghost_free(&t->ghost);
    t->sketch = sk;
    t->ghost = gh;
    t->window_max = window_max;
    t->protect_max = protect_max;
    t->protect_share = share;
    t->evicted[0] = ev[0];
    t->evicted[1] = ev[1];
    t->evicted[2] = ev[2];
    t->ghost_shift = (uint8_t)shift;
    t->last_miss = last_miss;
    t->miss_pending = (uint8_t)pending;
    t->sized = (uint8_t)sized;
    t->ghost_for = 0; /* the next reserve re-checks the loaded ghost against the sketch */
    return 0;
}

const hc_policy_ops hc_policy_tinylfu = {
    .name = "tinylfu",
    .reserve = tl_reserve,
    .on_insert = tl_insert,
    .on_access = tl_access,
    .on_update = tl_update,
    .on_remove = tl_remove,
    .on_evict = tl_evict,
    .on_replace = tl_replace,
    .victim = tl_victim,
    .clear = tl_clear,
    .order = tl_order,
    .restore = tl_restore,
    .check = tl_check,
    .peek = tl_peek,
    .on_miss = tl_miss,
    .on_charge = tl_charge,
    .on_limits = tl_limits,
    .state_size = tl_state_size,
    .state_save = tl_state_save,
    .state_load = tl_state_load,
};
