package limits_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/keyward/keyward/pkg/limits"
)

// apply is the model of the store's conditional update: plan p applied to s, if its
// conditions hold (the store's ConditionExpression), as the store's UpdateExpression
// does. It reports false, changing nothing, when a condition fails.
func apply(s *limits.State, p *limits.Plan) bool {
	if !creditHolds(s, p.Credit) || !windowHolds(s, p.Window) || s.Marks[p.Slot] == p.Mark {
		return false
	}
	if (s.Marks == nil) != p.NewMarks {
		return false
	}
	for slot, m := range p.Prune {
		if s.Marks[slot] != m {
			return false
		}
	}
	if c := p.Credit; c != nil {
		if c.Refill {
			*s.Remaining, s.RefilledAt = s.Refill.Amount-c.Cost, c.Period
		} else {
			*s.Remaining -= c.Cost
		}
	}
	if w := p.Window; w != nil {
		if w.New {
			s.WindowStart, s.WindowCount = w.Start, w.Cost
		} else {
			s.WindowCount += w.Cost
		}
	}
	if s.Marks == nil {
		s.Marks = map[string]string{}
	}
	for slot := range p.Prune {
		delete(s.Marks, slot)
	}
	s.Marks[p.Slot] = p.Mark
	return true
}

func creditHolds(s *limits.State, c *limits.CreditStep) bool {
	switch {
	case c == nil:
		return s.Remaining == nil
	case s.Remaining == nil:
		return false
	case c.Refill:
		return s.Refill != nil && s.RefilledAt < c.Period && s.Refill.Every == c.Every && s.Refill.Amount >= c.Cost
	case c.Every == "":
		return s.Refill == nil && *s.Remaining >= c.Cost
	default:
		return s.Refill != nil && s.Refill.Every == c.Every && s.RefilledAt >= c.Period && *s.Remaining >= c.Cost
	}
}

func windowHolds(s *limits.State, w *limits.WindowStep) bool {
	switch {
	case w == nil:
		return s.RateLimit == nil
	case s.RateLimit == nil || s.RateLimit.Limit != w.Limit || s.RateLimit.WindowSeconds != w.WindowSeconds:
		return false
	case w.New:
		return s.WindowStart < w.Start
	default:
		return s.WindowStart == w.Start && s.WindowCount <= w.Limit-w.Cost
	}
}

func clone(s *limits.State) *limits.State {
	c := *s
	if s.Remaining != nil {
		c.Remaining = ptr(*s.Remaining)
	}
	c.Marks = maps.Clone(s.Marks)
	return &c
}

var t0 = time.Date(2026, 12, 1, 12, 0, 30, 0, time.UTC)

func TestDecide(t *testing.T) {
	use := limits.Use{Cost: 1, Slot: "a.1", ID: "u1", At: t0}
	today := limits.PeriodStart(limits.EveryDay, t0).Unix()
	win := limits.WindowStart(60, t0)
	day := &limits.Refill{Amount: 5, Every: limits.EveryDay}
	rl := &limits.RateLimit{Limit: 3, WindowSeconds: 60}
	cases := []struct {
		name    string
		s       limits.State
		refused string
		retry   time.Time
		check   func(*limits.Plan) bool
	}{
		{"credits", limits.State{Settings: limits.Settings{Remaining: ptr(2)}}, "", time.Time{},
			func(p *limits.Plan) bool {
				return p.Credit.Cost == 1 && !p.Credit.Refill && p.Credit.Every == "" && p.Window == nil
			}},
		{"out of credits", limits.State{Settings: limits.Settings{Remaining: ptr(0)}}, limits.CodeUsageExceeded, time.Time{}, nil},
		{"refill due", limits.State{Settings: limits.Settings{Remaining: ptr(0), Refill: day}, RefilledAt: today - 86400}, "", time.Time{},
			func(p *limits.Plan) bool { return p.Credit.Refill && p.Credit.Period == today }},
		{"refilled today, spent", limits.State{Settings: limits.Settings{Remaining: ptr(0), Refill: day}, RefilledAt: today},
			limits.CodeUsageExceeded, time.Unix(today+86400, 0), nil},
		{"window open", limits.State{Settings: limits.Settings{RateLimit: rl}, WindowStart: win, WindowCount: 2}, "", time.Time{},
			func(p *limits.Plan) bool { return !p.Window.New && p.Window.Start == win && p.Credit == nil }},
		{"window full", limits.State{Settings: limits.Settings{RateLimit: rl}, WindowStart: win, WindowCount: 3},
			limits.CodeRateLimited, time.Unix(win+60, 0), nil},
		{"window ended", limits.State{Settings: limits.Settings{RateLimit: rl}, WindowStart: win - 60, WindowCount: 3}, "", time.Time{},
			func(p *limits.Plan) bool { return p.Window.New && p.Window.Start == win }},
		{"clock behind the stored window", limits.State{Settings: limits.Settings{RateLimit: rl}, WindowStart: win + 60, WindowCount: 1}, "", time.Time{},
			func(p *limits.Plan) bool { return !p.Window.New && p.Window.Start == win+60 }},
		{"usage before rate", limits.State{Settings: limits.Settings{RateLimit: rl, Remaining: ptr(0)}, WindowStart: win, WindowCount: 3},
			limits.CodeUsageExceeded, time.Time{}, nil},
		{"first mark", limits.State{Settings: limits.Settings{Remaining: ptr(1)}}, "", time.Time{},
			func(p *limits.Plan) bool { return p.NewMarks && p.Mark == use.Mark() && p.Slot == "a.1" }},
		{"stale marks pruned, at most 4", limits.State{Settings: limits.Settings{Remaining: ptr(1)}, Marks: map[string]string{
			"b": "1:x", "c": "1:x", "d": "1:x", "e": "1:x", "f": "1:x", "g": fmt.Sprint(t0.Unix(), ":y"), "a.1": "1:old"}}, "", time.Time{},
			func(p *limits.Plan) bool {
				return !p.NewMarks && maps.Equal(p.Prune, map[string]string{"b": "1:x", "c": "1:x", "d": "1:x", "e": "1:x"})
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := limits.Decide(&c.s, use, t0)
			if d.Refused != c.refused || !d.RetryAfter.Equal(c.retry) || d.Counted {
				t.Fatalf("decision %+v, want refused %q retry %v", d, c.refused, c.retry)
			}
			if c.check != nil && (d.Plan == nil || !c.check(d.Plan)) {
				t.Fatalf("plan %+v (credit %+v, window %+v)", d.Plan, d.Plan.Credit, d.Plan.Window)
			}
			if c.check == nil && d.Plan != nil {
				t.Fatalf("refused with a plan: %+v", d.Plan)
			}
		})
	}
	counted := limits.State{Settings: limits.Settings{Remaining: ptr(0)}, Marks: map[string]string{"a.1": use.Mark()}}
	if d := limits.Decide(&counted, use, t0.Add(time.Second)); !d.Counted {
		t.Errorf("a state holding the use's mark: %+v", d)
	}
}

// TestDecideProperty: callers with stale views of a key race their plans against
// the key's state (the model of the store's conditional update), as UseKey does:
// plan from the last state seen, apply, and on a failed condition plan again from the
// state now. Whatever the interleaving, credits never go below zero, a window never
// counts more than its limit, each use is counted at most once, and when the
// conditions allow, every use that could be served was: the accepted cost in a
// period is exactly min(offered, available).
func TestDecideProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &limits.State{}
		if rapid.Bool().Draw(t, "credits") {
			s.Remaining = ptr(rapid.Int64Range(0, 30).Draw(t, "remaining"))
			if rapid.Bool().Draw(t, "refill") {
				s.Refill = &limits.Refill{Amount: rapid.Int64Range(1, 20).Draw(t, "amount"), Every: rapid.SampledFrom([]string{"day", "month"}).Draw(t, "every")}
			}
		}
		if rapid.Bool().Draw(t, "ratelimit") {
			s.RateLimit = &limits.RateLimit{Limit: rapid.Int64Range(1, 10).Draw(t, "limit"), WindowSeconds: rapid.Int64Range(1, 120).Draw(t, "window")}
		}
		callers := rapid.IntRange(1, 4).Draw(t, "callers")
		views := make([]*limits.State, callers)
		for i := range views {
			views[i] = clone(s)
		}
		now := t0
		spentInWindow := map[int64]int64{}
		counted := map[string]bool{}
		steps := rapid.IntRange(1, 60).Draw(t, "steps")
		for i := range steps {
			now = now.Add(time.Duration(rapid.Int64Range(0, 40_000).Draw(t, "dt")) * time.Second)
			c := rapid.IntRange(0, callers-1).Draw(t, "caller")
			u := limits.Use{Cost: rapid.Int64Range(1, 3).Draw(t, "cost"), Slot: fmt.Sprint("c.", c), ID: fmt.Sprint(i), At: now}
			before := clone(s)
			ok, served := useAgainst(s, views[c], u, now)
			views[c] = clone(s)
			if !ok {
				t.Fatalf("use %d did not settle", i)
			}
			if served {
				if counted[u.ID] {
					t.Fatalf("use %d counted twice", i)
				}
				counted[u.ID] = true
				if s.RateLimit != nil {
					spentInWindow[s.WindowStart] += u.Cost
				}
			}
			checkInvariants(t, before, s, u, now, served, spentInWindow)
			// A repeat of the same use (a retry) is never counted again.
			if served {
				if d := limits.Decide(s, u, now); !d.Counted {
					t.Fatalf("a repeat of use %d is not seen as counted: %+v", i, d)
				}
			}
		}
	})
}

// useAgainst runs one use as UseKey does: plan from view, apply to s, and on failure
// plan again from s. It reports whether it settled and whether the use was counted.
func useAgainst(s, view *limits.State, u limits.Use, now time.Time) (settled, served bool) {
	for range 8 {
		d := limits.Decide(view, u, now)
		switch {
		case d.Counted:
			return true, true
		case d.Refused != "" && view == s:
			return true, false
		case d.Refused != "":
			view = s
			continue
		}
		if apply(s, d.Plan) {
			return true, true
		}
		view = s
	}
	return false, false
}

func checkInvariants(t *rapid.T, before, after *limits.State, u limits.Use, now time.Time, served bool, spent map[int64]int64) {
	if after.Remaining != nil && *after.Remaining < 0 {
		t.Fatalf("remaining %d", *after.Remaining)
	}
	if after.RateLimit != nil && (after.WindowCount > after.RateLimit.Limit || spent[after.WindowStart] > after.RateLimit.Limit) {
		t.Fatalf("window %d counts %d (spent %d), limit %d", after.WindowStart, after.WindowCount, spent[after.WindowStart], after.RateLimit.Limit)
	}
	// Refused only if the fresh state could not serve it: no false refusal.
	if !served {
		d := limits.Decide(before, u, now)
		if d.Refused == "" {
			t.Fatalf("use refused though the state could serve it: %+v", d)
		}
		if after.Remaining != nil && *after.Remaining != *before.Remaining || after.WindowCount != before.WindowCount {
			t.Fatal("a refused use changed the state")
		}
	}
}
