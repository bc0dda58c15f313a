package store

import (
	"regexp"
	"strings"
)

// ItemKind is one kind of item in the table, by the shape of its primary key: literal
// text, with <name> standing for a variable part.
type ItemKind struct {
	Name string // as doc.go names it
	PK   string // e.g. KEY#<id>
	SK   string // e.g. EV#<evid>
}

// ItemKinds is every kind of item the store writes, the list doc.go gives (a test
// holds doc.go, template.yaml and every writer of the store to it).
var ItemKinds = []ItemKind{
	{Name: "key", PK: "KEY#<id>", SK: keySK},
	{Name: "event", PK: "KEY#<id>", SK: eventSK + "<evid>"},
	{Name: "expiry reminder", PK: "KEY#<id>", SK: reminderSKPrefix + "EXPIRY#<expires_at>#v<n>#<offset>d"},
	{Name: "stale reminder", PK: "KEY#<id>", SK: reminderSKPrefix + "STALE#<idle_since>"},
	{Name: "refresh family", PK: "RT#<family>", SK: familySK},
	{Name: "lockout counter", PK: "LOCKOUT#<key id>#<ip>", SK: lockoutSK},
	{Name: "route table", PK: RoutesPK, SK: routesSK},
	{Name: "usage count", PK: "KEY#<id>", SK: usageSK + "<day>#<writer>"},
	{Name: "owner limits", PK: "OWNER#<owner>", SK: ownerLimitsSK},
	{Name: "owner event", PK: "OWNER#<owner>", SK: eventSK + "<evid>"},
}

var placeholder = regexp.MustCompile(`<[^>]+>`)

// shape is the regular expression of a key shape: each <name> is one or more characters.
func shape(s string) *regexp.Regexp {
	lits := placeholder.Split(s, -1)
	for i, l := range lits {
		lits[i] = regexp.QuoteMeta(l)
	}
	return regexp.MustCompile("^" + strings.Join(lits, ".+") + "$")
}

// Matches reports whether an item with keys pk and sk is of kind k.
func (k ItemKind) Matches(pk, sk string) bool {
	return shape(k.PK).MatchString(pk) && shape(k.SK).MatchString(sk)
}

// KindOf returns the kind of the item with keys pk and sk, and false if it is of no
// kind in ItemKinds.
func KindOf(pk, sk string) (ItemKind, bool) {
	for _, k := range ItemKinds {
		if k.Matches(pk, sk) {
			return k, true
		}
	}
	return ItemKind{}, false
}
