// Package store keeps keys and their events in the one DynamoDB table.
//
// Items (all attribute names are explicit strings, see template.yaml):
//
//	key    pk=KEY#<id>  sk=KEY        gsi1pk=OWNER#<owner>  gsi2pk=KEYS  lsk=<rank>#<newest-first ms>#<id>
//	                                  gsi4pk=KEYS   gsi4sk=<owner> <lsk>
//	event  pk=KEY#<id>  sk=EV#<evid>  gsi3pk=AUDIT          gsi3sk=<evid>  ttl=<epoch s>
//	                                  gsi4pk=AUDIT  gsi4sk=<owner> <evid>   (events of a known owner)
//
// Owner-narrowed reads (a caller holding keys:read@owner:team-* and the like) use
// gsi4, whose sort key starts with the owner and a space (owners hold no spaces):
// an owner prefix is one key range, begins_with(<prefix>), and an exact owner is
// begins_with(<owner> + " "), or gsi1 for keys. So a narrowed listing costs reads in
// proportion to what it returns: one Query per owner range the caller holds, each
// reading only that range's items, plus any items a status or type filter drops
// within the range. Paging walks the ranges in a fixed order (exact owners, then
// prefixes, sorted) with a cursor that names the range, so no page is empty
// while more results exist.
//
// Key items also carry the sweeper's schedule (due.go): due_pk=DUE#<shard> and
// due_at=<epoch s> while something about the key falls due (the sparse "due" GSI),
// and ttl=<epoch s> once an expired or revoked key may be purged. Every management
// write makes the key due at once (due_at=0) and clears ttl; the sweeper then writes
// the real schedule with its own configuration.
//
// A key item embeds its secret versions (the current one and, during a rotation's
// grace, the previous one) so that verifying a credential is one GetItem. The same read
// also answers for the key's access tokens and source IPs, from bounded attributes:
//
//	revoked_jti        map jti → last second accepted: tokens revoked by their client
//	                   (RFC 7009); at most MaxRevokedJTIs entries, expired ones pruned
//	                   on every write
//	revoked_iat        the newest iat of any token ever listed in revoked_jti
//	tokens_not_before  watermark: every token of the key with iat ≤ it is refused; set to
//	                   revoked_iat, and revoked_jti emptied, when a revocation would make
//	                   the list longer than MaxRevokedJTIs
//	locks              map source IP → locked until (epoch s), recorded by package
//	                   lockout; at most MaxLocks entries, expired ones dropped when it is
//	                   full, new ones left out while it is full of running locks
//
// Full, the two maps and two numbers add at most about 3.6 KB to the item (1.9 KB of
// revoked jtis, 1.7 KB of locks of the longest IPv6 addresses), whatever a client or
// an attacker does: far from DynamoDB's 400 KB, and a small key stays one read unit.
//
// Invariants:
//   - Every write is conditional: a key is created with attribute_not_exists(pk) and
//     changed only with `version = <the version read>` in the same call, and every
//     change bumps version by exactly one. A change and its event are written in one
//     transaction, so the audit trail never misses or invents a change.
//   - Bookkeeping attributes have their own conditional writers that touch nothing
//     else and never bump version: last_used_* (package usage), the schedule (the
//     sweeper), revoked_jti/revoked_iat/tokens_not_before (package token) and locks
//     (RecordLock). Management writes SET only their own attributes, so neither kind
//     loses or clobbers the other. Each bounded map is written under a condition that
//     holds it to its bound however stale the writer's read: an entry is added only
//     while there is room, and one is removed only if still as read.
//   - A revoked key is never written again except by delete: Update refuses it, and so
//     does RecordLock (a revoked key refuses everything anyway).
//   - Records are found by key id, never by a secret. Hashes are stored, secrets never.
//   - Not found is ErrNotFound; a lost race is ErrConflict. Neither is nil, nil.
//
// The key lifecycle is pure transitions on Key (lifecycle.go: Create, ApplyPatch,
// Rotate, FinishRotation, Revoke, Expire, PurgeableAt), with no I/O; Bump is the one
// place the version moves. Apply and ApplyDelete are the one optimistic loop around
// them: read, decide, write on condition of the version read, and on a lost race
// read and decide again, with jitter, at most a bounded number of times
// (ErrTooManyConflicts).
package store
