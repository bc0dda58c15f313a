// Package lockout counts failed attempts per key id and source IP, and refuses a pair
// that failed too often for a cooldown.
//
// A failure is a well-formed credential whose key id is unknown or whose secret does not
// match. Each one is an atomic ADD on a counter item (pk=LOCKOUT#<key id>#<ip>
// sk=LOCKOUT) whose window opens with the first failure; the counter and any lock expire
// by DynamoDB TTL. When the count reaches the limit (default 5 in 5 minutes) a
// conditional write sets locked_until; the instance that wins that write records one
// auth.failed event. While locked, the pair is refused (429 where the protocol can
// say so) by every instance that has seen the lock, without any read: the instance that
// set it, and any instance whose next failed attempt from the pair finds it set.
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
// Bounds: a locked pair costs no DynamoDB call on an instance that knows the lock. A
// correct credential from a locked pair is refused by such an instance; an instance that
// has not seen the lock accepts it (checking every success would add a read to every
// request; a correct 256-bit secret is not a guess).
package lockout
