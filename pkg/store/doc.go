// Package store keeps keys, their events and every other item of the one DynamoDB
// table.
//
// It owns the table: every item kind is written and read here, behind methods that
// take and return domain types, and no DynamoDB client or type leaves the package.
//
// Items. This is the one complete list of what the table holds; ItemKinds is the same
// list in Go, and a test holds this comment, template.yaml and every write of the
// store to it. Key shapes are literal text with <name> for a variable part; every
// attribute name is an explicit string.
//
//	key              pk=KEY#<id>  sk=KEY
//	    id name description owner scopes status start created_at updated_at created_by
//	    expires_at metadata allowed_cidrs version secret previous (management writes);
//	    last_used_at last_used_ip (TouchLastUsed); revoked_jti revoked_iat
//	    tokens_not_before (ReviseRevokedTokens); locks (RecordLock);
//	    gsi1pk=OWNER#<owner>  lsk=<rank>#<newest-first ms>#<id>   gsi1: one owner's keys
//	    gsi2pk=KEYS           lsk                                 gsi2: every key
//	    gsi4pk=KEYS           gsi4sk=<owner> <lsk>                gsi4: owner ranges
//	    due_pk=DUE#<shard>    due_at=<epoch s>                    due: the sweeper's schedule
//	    ttl=<epoch s> once an expired or revoked key may be purged
//	event            pk=KEY#<id>  sk=EV#<evid>
//	    id time type key_id actor ip owner detail; ttl=<time + event retention>
//	    gsi3pk=AUDIT  gsi3sk=<evid>                               gsi3: the audit log
//	    gsi4pk=AUDIT  gsi4sk=<owner> <evid>                       gsi4: events of a known owner
//	    An event that several writers may record (key.rate_limited, once per key per
//	    minute) has an evid derived from what it is about, and PutEventOnce lets one win.
//	expiry reminder  pk=KEY#<id>  sk=REMINDER#EXPIRY#<expires_at>#v<n>#<offset>d
//	stale reminder   pk=KEY#<id>  sk=REMINDER#STALE#<idle_since>
//	    key_id kind state detail run eb_sent created_at sent_at (RecordReminder and the
//	    Mark/Claim writers); due_pk due_at=<lease end> while pending;
//	    ttl=<the key's expires_at + 30 days>
//	refresh family   pk=RT#<family>  sk=RT
//	    family key_id hash used gen secret_n scope status created_at expires_at;
//	    ttl=<expires_at + 1 day> (CreateFamily, RotateFamily, RevokeFamily)
//	lockout counter  pk=LOCKOUT#<key id>#<ip>  sk=LOCKOUT
//	    n window_start locked_until; ttl=<past the window and any lock> (CountFailure,
//	    LockPair)
//	route table      pk=CONFIG  sk=ROUTES
//	    routes: pattern → scope (GetRoutes, PutRoutes; package routeconfig)
//	usage count      pk=KEY#<id>  sk=USAGE#<day>#<writer>
//	    accepted refused (code → n) seq; ttl=<day + 100 days> (PutUsageCount, read by
//	    UsageByDay): one instance's whole count of a day, replaced only by a higher seq
//	owner limits     pk=OWNER#<owner>  sk=LIMITS
//	    ratelimit rl_window rl_count use_marks (PutOwnerLimits, OwnerLimits, UseOwner)
//	owner event      pk=OWNER#<owner>  sk=EV#<evid>
//	    an event's attributes and index entries (gsi3, gsi4), key_id empty: a change of
//	    the owner's limits, written with it (SetOwnerLimits); in the audit log only
//
// Indexes, all projecting every attribute: gsi1 (gsi1pk, lsk), gsi2 (gsi2pk, lsk),
// gsi3 (gsi3pk, gsi3sk), gsi4 (gsi4pk, gsi4sk), due (due_pk, due_at; sparse). The
// audit index gsi3 is one partition, AUDIT: bucketing it (by month, say) would not
// raise its write ceiling, since every new event lands in the newest bucket, and
// would make a sparse log cost a query per empty bucket. TTL is the attribute ttl.
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
//     else and never bump version: last_used_* (TouchLastUsed, for package usage),
//     the schedule (SetSchedule, for the sweeper), revoked_jti/revoked_iat/
//     tokens_not_before (ReviseRevokedTokens, for package token) and locks
//     (RecordLock, for package lockout). Management writes SET only their own attributes, so neither kind
//     loses or clobbers the other. Each bounded map is written under a condition that
//     holds it to its bound however stale the writer's read: an entry is added only
//     while there is room, and one is removed only if still as read.
//   - A revoked key is never written again except by delete: Update refuses it, and so
//     does RecordLock (a revoked key refuses everything anyway).
//   - The other kinds are written under their own conditions: a reminder marker once
//     (attribute_not_exists, with its event and a check of the key's version), then
//     only by the run holding its lease; a refresh family's rotation only on its
//     current hash; a lockout counter only within or after its window. The route
//     table item is configuration, replaced whole.
//   - Records are found by key id, never by a secret. Hashes are stored, secrets never.
//   - Not found is ErrNotFound; a lost race is ErrConflict. Neither is nil, nil.
//
// The key lifecycle is pure transitions on Key (lifecycle.go: Create, ApplyPatch,
// Rotate, FinishRotation, Revoke, Expire, PurgeableAt), with no I/O; Bump is the one
// place the version moves. Apply and ApplyDelete are the one optimistic loop around
// them: read, decide, write on condition of the version read, and on a lost race
// read and decide again, with jitter, at most a bounded number of times
// (ErrTooManyConflicts).
//
// Usage limits (limits.go, owner_limits.go): UseKey and UseOwner count one use in
// one conditional UpdateItem (ReturnValues ALL_NEW) planned by package limits. The
// expression text of a use depends only on its plan's shape, so it is built with the
// expression package once per shape and process, and each use fills in its own
// values and slot names (use_expr.go): building it is most of a use's CPU otherwise.
// A key read with limits carries its limit state (Key.UseState), the hint of its
// next use.
package store
