// Package lockout counts failed attempts per key id and source IP, and refuses a pair
// that failed too often for a cooldown.
//
// A failure is a well-formed credential whose key id is unknown or whose secret does not
// match. Each one is an atomic ADD on a counter item (pk=LOCKOUT#<key id>#<ip>
// sk=LOCKOUT, written by store.Dynamo.CountFailure) whose window opens with the first
// failure; the counter and any lock expire by DynamoDB TTL. When the count reaches the
// limit (default 5 in 5 minutes) a conditional write sets locked_until
// (store.Dynamo.LockPair); the instance that wins that write records the lock on the
// key's item (locks: ip → locked until, store.Dynamo.RecordLock, no version bump) and
// one auth.failed event. An unknown key id has no item, and gets none. The package
// decides; package store does every write.
//
// While locked, the pair is refused (429 where the protocol can say so, with the lock's
// remaining time) by every instance:
//   - an instance that has seen the lock (it set it, or a failed attempt found it set)
//     refuses without any read;
//   - any other instance refuses from the key item that verification reads anyway
//     (auth.Verifier), before comparing the secret: a correct secret from a locked pair
//     is refused like a wrong one, for no extra read, and counts, resets and records
//     nothing;
//   - for an unknown key id, the next failed attempt reads the counter and finds the lock.
//
// Why per key id AND source IP, instead of "void the key after 3 bad calls":
//   - Key ids are not secret (they are in logs, in the key's visible start, in every
//     OAuth client_id). Voiding or locking a key on failures would let anyone who knows
//     an id switch a production integration off with three requests: a free denial of
//     service. Counting per (key id, ip), an attacker only ever locks out the attacker's
//     own address; the real client on its own address keeps working.
//   - Guessing buys nothing anyway: a secret has 256 bits from crypto/rand, so the lock
//     is a throttle on noise and a signal (auth.failed) for the owner, not the thing
//     that keeps the secret safe. A leaked key is handled by revoking or rotating it,
//     which takes effect everywhere within seconds.
//   - It never needs a human to "un-void" a key: the lock ends by itself after the
//     cooldown, and the counter after the window.
//
// Bounds: a locked pair costs no DynamoDB call on an instance that knows the lock, and
// the one GetItem of verification on one that does not. The key item keeps at most
// store.MaxLocks locks: expired ones are dropped when it is full, and while it is full
// of running locks a new lock is not put on it (an attacker locking many addresses
// costs no extra write and cannot push an earlier lock out). A lock left off the item,
// or whose record failed, still holds in its counter, which every failed attempt reads
// (and an instance that finds it there records it again), and on every instance that
// has seen it; only a correct secret from that address, on an instance that has not,
// is accepted (a correct 256-bit secret is not a guess).
package lockout
