package authz

import (
	"net/netip"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
)

// CallerOf is a verified principal as the rule sees it: the root credential, or a key
// (an access token is its key with the token's scopes) with that key's limits.
func CallerOf(p auth.Principal) Caller {
	if p.Kind == auth.KindRoot || p.Key == nil {
		return Caller{Root: p.Kind == auth.KindRoot, Scopes: p.Scopes}
	}
	return Caller{Scopes: p.Scopes, ExpiresAt: p.Key.ExpiresAt, CIDRs: prefixes(p.Key.AllowedCIDRs)}
}

// TargetOf is a stored key as the rule sees it; nil for nil.
func TargetOf(k *store.Key) *Target {
	if k == nil {
		return nil
	}
	return &Target{Owner: k.Owner, Scopes: scope.MustParseList(k.Scopes), ExpiresAt: k.ExpiresAt, CIDRs: prefixes(k.AllowedCIDRs)}
}

// prefixes parses stored, already canonical CIDRs; one that fails to parse is kept as
// the zero prefix, which contains nothing, so it can only narrow.
func prefixes(list []string) []netip.Prefix {
	out := make([]netip.Prefix, len(list))
	for i, c := range list {
		out[i], _ = netip.ParsePrefix(c)
	}
	return out
}
