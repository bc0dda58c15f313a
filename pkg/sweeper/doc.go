// Package sweeper makes expiry and rotation happen on time in the stored state, and
// warns owners before their keys stop working.
//
// A run reads only what is due: the sparse "due" index (pkg/store/due.go) holds each
// key, and each reminder still being delivered, under the earliest instant something
// about it falls due. For every due key the sweeper decides, without I/O (Decide, a
// Plan), and then writes the plan; the key transitions are store.Key's Expire and
// FinishRotation, and package store does every read and write. It:
//
//  1. expires a key past expires_at (status expired, key.expired, purge time set);
//  2. records and delivers the expiry reminder of the smallest offset that has passed
//     (key.expiry_reminder, EventBridge detail-type "Keyward Key Expiring", SNS), and
//     the stale notice when the key has not been used for StaleAfter
//     (key.stale_reminder, "Keyward Key Stale");
//  3. drops the previous secret when its grace has ended (key.rotation_finished);
//  4. writes the key's next due instant, or takes it out of the index.
//
// Invariants:
//   - Every key write is conditional on the version the decision was made from; a lost
//     race re-reads the key (consistently) and decides again.
//   - A reminder is recorded once per key and marker id: a marker item
//     (pk=KEY#<id>, sk=REMINDER#...) is put with attribute_not_exists in one
//     transaction with its event and a check of the key's version. The marker starts
//     "pending", carries the exact payload and sits in the due index under a lease;
//     it becomes "sent" (and leaves the index) only after both EventBridge and SNS
//     accepted it. A run that dies in between leaves a pending marker that the next
//     run after the lease completes, with the same payload and reminder_id. Two
//     overlapping runs, or a duplicated schedule delivery, cannot both win the put.
//   - Expiry markers are keyed by expires_at, secret version and offset, so extending
//     a key (new expires_at) or rotating it (new secret version) re-arms its expiry
//     reminders. Stale markers are keyed by the instant the idle period began
//     (last_used_at, else created_at): a key is reported stale once per idle period;
//     rotation is not use and does not re-arm it.
//   - A run stops taking new work Margin before its context's deadline; whatever is
//     left is still in the due index for the next run.
//
// Records: an expired key gets ttl = expires_at + KeyRetention and a revoked one
// ttl = revoked time + KeyRetention, and both leave the due index; extending an
// expired key clears ttl (store.UpdateKey). Markers expire 30 days after the key's
// expires_at, when no reminder of theirs can be evaluated any more. Events keep their
// own retention, so a deleted key's trail and markers are purged by TTL too.
//
// Delivery: exactly once per marker as far as DynamoDB can make it. The one window
// left is a crash after EventBridge or SNS accepted a reminder and before the marker
// says so (eb_sent, state); the retry then repeats that channel with the same
// reminder_id, which consumers use to deduplicate.
//
// NOW (RFC 3339) makes a run sweep as if at that instant. It is honoured only against
// the local stack (env.Local: AWS_ENDPOINT_URL_DYNAMODB set); otherwise the
// function refuses to start. Leases are measured on the same clock.
package sweeper
