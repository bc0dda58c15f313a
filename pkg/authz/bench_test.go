package authz

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkDecideFigure is make bench's figure for the rule's cost per call: a patch
// by a narrowed caller (the most work: visibility, owner before and after, scopes
// before and after, limits), against the one scope.Covers call that the management
// API made before the rule existed, measured in the same run.
func BenchmarkDecideFigure(b *testing.B) {
	c := caller("keys:read@owner:team-*", "keys:write@owner:team-*", "orders:read", "orders:write@o/*")
	before := key("team-payments/api", "orders:read", "orders:write@o/1")
	after := *before
	after.ExpiresAt = before.ExpiresAt.Add(-time.Hour)
	// Interleaved rounds, the fastest of each kept: a busy machine slows some rounds
	// of either, never makes one faster.
	const rounds, n = 25, 20000
	batch := func(f func()) time.Duration {
		start := time.Now()
		for range n {
			f()
		}
		return time.Since(start) / n
	}
	decideOnce := func() {
		if Decide(c, Patch, before, &after) != Allowed {
			b.Fatal("refused")
		}
	}
	coversOnce := func() {
		if !c.Scopes.Covers(after.Scopes) {
			b.Fatal("not covered")
		}
	}
	decide, covers := time.Hour, time.Hour
	for range rounds {
		decide = min(decide, batch(decideOnce))
		covers = min(covers, batch(coversOnce))
	}
	// The goal is a ratio: the rule makes two Covers calls and a few owner checks, so
	// it should cost a handful of Covers, whatever the machine's load.
	lines := fmt.Sprintf("figure authz_decide_vs_covers = %.1f x (goal <= 10)\n", float64(decide)/float64(covers)) +
		fmt.Sprintf("figure authz_decide_per_call = %d ns (one scope.Covers: %d ns)\n", decide.Nanoseconds(), covers.Nanoseconds())
	fmt.Print(lines)
	// make bench prints every .local/bench/*.txt last.
	if dir := filepath.Join("..", "..", ".local", "bench"); dirExists(dir) {
		if err := os.WriteFile(filepath.Join(dir, "authz.txt"), []byte(lines), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		Decide(c, Patch, before, &after)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
