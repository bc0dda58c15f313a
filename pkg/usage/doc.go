// Package usage records when and from where a key was last used: last_used_at and
// last_used_ip on the key item (written by store.Dynamo.TouchLastUsed), and a key.used
// event.
//
// Invariants:
//   - At most one write per key per Interval (60 s) across all instances: the update is
//     conditional on `attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR
//     last_used_at <= :now-60s)`, so concurrent instances race and one wins. The
//     key.used event is written only by the winner, right after its update.
//   - At most one attempt per key per Interval per warm instance: an in-memory mark
//     is set before trying, so the hot path does no write I/O in between.
//   - The write is inline, in the request that triggers it: nothing runs after the
//     answer (Lambda freezes the sandbox, so a background goroutine would be lost).
//   - It never recreates a deleted key (attribute_exists(pk)), and it touches only
//     last_used_at and last_used_ip (store.UpdateKey leaves those two alone).
//   - last_used_at is written as whole-second UTC RFC 3339, which sorts as a string.
package usage
