// Package limits is the pure core of usage limits: the limit fields of keys and
// owners (ratelimit, remaining, refill) and their validation, the decision that one
// use of a key makes against its credits and rate-limit window, and the in-memory
// aggregation of usage counts. It does no I/O: package store turns a Plan into one
// conditional UpdateItem and stores the CountWrites.
//
// Credits (remaining, refill):
//   - remaining never goes below zero: a use of cost c is planned only if the state
//     it was planned from holds c credits, and the update's condition requires the
//     stored item to hold them still (remaining ≥ c, or for a refill refilled_at
//     before the period), so a concurrent use makes the update fail, never overdraw.
//   - Refill is lazy: the first use in a refill period (UTC day or month, see
//     PeriodStart) sets remaining to refill.amount − cost and refilled_at to the
//     period's start, in the same update. There is no sweeper; a key unused for a
//     month is refilled once, by its next use.
//   - No use is counted twice. A use carries an id and its caller's slot (Slots); a
//     counted use leaves its mark in the slot, and the update's condition refuses a
//     slot that holds the mark already. An SDK retry of an update whose answer was
//     lost therefore fails its condition, and the item it returns holds the mark:
//     Decide answers Counted, and nothing is spent again. Marks of slots unused for
//     MarkTTL are removed by later uses, a few at a time, so a key's item holds one
//     short mark per caller active in the last two minutes.
//   - A refused use changes nothing. Usage is checked before the rate limit, so a
//     key out of credits answers USAGE_EXCEEDED, and a refused use takes no room in
//     the window nor any credit.
//
// Rate limits (ratelimit {limit, window_seconds}) are fixed windows aligned to the
// Unix epoch, one counter per key item (rl_window, rl_count), raised by the same
// conditional update as the credits, on condition that the count stays within the
// limit. Accuracy:
//   - Within one window, the uses admitted never exceed the limit, across any
//     number of instances (the counter is one item, changed only conditionally):
//     over-admission per window is zero, not an estimate.
//   - Windows are as exact as the instances' clocks: an instance whose clock is
//     behind counts into the newer window it finds stored, never reopens an old one;
//     one whose clock is ahead opens the next window early, by its skew, and the
//     others then count into that window until it ends. So a window is never
//     counted twice, and clock skew (milliseconds, for NTP-synced Lambda hosts) only
//     moves window boundaries.
//   - Like every fixed window, a burst straddling a boundary can see up to twice the
//     limit within one window's length (limit at the end of one window, limit at the
//     start of the next). That is the cost of one counter and one write per use; a
//     sliding log would cost an item per use.
//
// Usage counts (Counter): per key and UTC day, accepted uses and refusals by code,
// aggregated in memory. Due hands out a key's writes at most once per FlushEvery
// (one minute) per instance, All everything at shutdown. A CountWrite is the
// writer's whole count of the day, kept only with a higher Seq, so a write that is
// repeated, retried or arrives late never counts anything twice, and a failed write
// is simply included in the next one. A crash (no shutdown flush) loses at most the
// last FlushEvery of that instance's counts.
package limits
