// Package meter observes every decided use of a key (an auth.UseObserver: the
// verifier calls ObserveUse once per use of an existing key, with its code) and
// turns it into usage counts and limit events.
//
// Usage counts (limits.Counter, stored by store.Dynamo.PutUsageCount):
//   - Each use is counted in memory at once, per key and UTC day: accepted (VALID)
//     or refused by code. Losing none under concurrency is the Counter's.
//   - The counts that are due are written inline, in the call that finds them due
//     (Lambda freezes background work): at most one write per key per
//     limits.FlushEvery (a minute) per instance. The meter looks for due counts at
//     most once per scanEvery (a second), so a use costs a map update and, now and
//     then, one sorted pass over this instance's keys. The first use a meter sees
//     is written at once; with FirstAside (the functions') beside its request, in a goroutine that outlives it (frozen with
//     the instance, it finishes when the instance thaws), so that a cold start's
//     first answer waits for no usage write and a key used once shows that use.
//     Writes are made one at a time (a scan finding one in progress skips its turn),
//     and a stored count only ever grows (its seq), so none is written twice.
//   - FlushAll writes everything left, at shutdown (SIGTERM, see pkg/service). A
//     crash loses at most the last minute of this instance's counts.
//   - A failed write is logged and left to the next turn of its key; it never
//     changes an answer.
//
// Limit events (key.rate_limited for RATE_LIMITED, key.usage_exceeded for
// USAGE_EXCEEDED):
//   - At most one per key, type and UTC minute, across all instances. An instance
//     tries once per key, type and minute (an in-memory mark, so repeats do no
//     I/O), with store.Dynamo.PutEventOnce under an event id derived from the
//     minute, the key and the type: of instances racing, one writes it.
//   - Only the instance that wrote the event puts it on the EventBridge bus
//     (detail-type the event type, source "keyward"), so the bus gets the same one.
//   - A failed write or put is logged and not retried within the minute: the cost
//     of a refusal stays bounded while the table or the bus is failing.
//   - The event id orders the audit log by the start of the minute, not by the
//     moment of the first refusal: within its minute it may sort before events
//     written earlier.
package meter
