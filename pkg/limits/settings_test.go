package limits_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/limits"
)

func ptr(n int64) *int64 { return &n }

func TestSettingsValidate(t *testing.T) {
	rl := func(l, w int64) *limits.RateLimit { return &limits.RateLimit{Limit: l, WindowSeconds: w} }
	day := &limits.Refill{Amount: 10, Every: limits.EveryDay}
	cases := []struct {
		name        string
		s           limits.Settings
		code, field string
	}{
		{"none", limits.Settings{}, "", ""},
		{"all", limits.Settings{RateLimit: rl(100, 60), Remaining: ptr(0), Refill: day}, "", ""},
		{"largest", limits.Settings{RateLimit: rl(limits.MaxLimit, limits.MaxWindowSeconds), Remaining: ptr(limits.MaxCredits)}, "", ""},
		{"zero limit", limits.Settings{RateLimit: rl(0, 60)}, limits.CodeInvalidRateLimit, "ratelimit.limit"},
		{"limit too big", limits.Settings{RateLimit: rl(limits.MaxLimit+1, 60)}, limits.CodeInvalidRateLimit, "ratelimit.limit"},
		{"zero window", limits.Settings{RateLimit: rl(1, 0)}, limits.CodeInvalidRateLimit, "ratelimit.window_seconds"},
		{"window over a day", limits.Settings{RateLimit: rl(1, 86401)}, limits.CodeInvalidRateLimit, "ratelimit.window_seconds"},
		{"negative remaining", limits.Settings{Remaining: ptr(-1)}, limits.CodeInvalidRemaining, "remaining"},
		{"remaining too big", limits.Settings{Remaining: ptr(limits.MaxCredits + 1)}, limits.CodeInvalidRemaining, "remaining"},
		{"zero refill", limits.Settings{Remaining: ptr(1), Refill: &limits.Refill{Amount: 0, Every: "day"}}, limits.CodeInvalidRefill, "refill.amount"},
		{"weekly refill", limits.Settings{Remaining: ptr(1), Refill: &limits.Refill{Amount: 1, Every: "week"}}, limits.CodeInvalidRefill, "refill.every"},
		{"refill of unlimited", limits.Settings{Refill: day}, limits.CodeInvalidRefill, "refill"},
		// Fields are checked in a fixed order: the first bad one is answered.
		{"first bad field wins", limits.Settings{RateLimit: rl(0, 0), Remaining: ptr(-1), Refill: &limits.Refill{}}, limits.CodeInvalidRateLimit, "ratelimit.limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 3 { // the same input always gets the same error
				err := c.s.Validate()
				switch {
				case c.code == "" && err != nil:
					t.Fatalf("refused: %v", err)
				case c.code != "" && (err == nil || err.Code != c.code || err.Field != c.field):
					t.Fatalf("got %+v, want %s at %s", err, c.code, c.field)
				}
			}
		})
	}
	if err := (&limits.OwnerLimits{RateLimit: rl(5, 0)}).Validate(); err == nil || err.Field != "ratelimit.window_seconds" {
		t.Errorf("owner limits: %v", err)
	}
	if err := (&limits.OwnerLimits{}).Validate(); err != nil {
		t.Errorf("no owner limit: %v", err)
	}
	for cost, ok := range map[int64]bool{0: false, 1: true, limits.MaxCost: true, limits.MaxCost + 1: false, -3: false} {
		if err := limits.ValidateCost(cost); (err == nil) != ok {
			t.Errorf("cost %d: %v", cost, err)
		}
	}
}

// TestJSONShapes: the fields read and print as the contract spells them.
func TestJSONShapes(t *testing.T) {
	in := `{"ratelimit":{"limit":100,"window_seconds":60},"remaining":5,"refill":{"amount":1000,"every":"month"}}`
	var s limits.Settings
	if err := json.Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if s.RateLimit.Limit != 100 || s.RateLimit.WindowSeconds != 60 || *s.Remaining != 5 || s.Refill.Amount != 1000 || s.Refill.Every != "month" {
		t.Fatalf("decoded %+v", s)
	}
	if out, _ := json.Marshal(s); string(out) != in {
		t.Errorf("encoded %s", out)
	}
	if out, _ := json.Marshal(limits.Settings{}); string(out) != `{"ratelimit":null,"remaining":null,"refill":null}` {
		t.Errorf("unlimited encoded %s", out)
	}
	w := limits.Window{Limit: 10, Remaining: 3, Reset: time.Date(2026, 12, 1, 12, 1, 0, 0, time.UTC)}
	if out, _ := json.Marshal(w); string(out) != `{"limit":10,"remaining":3,"reset":"2026-12-01T12:01:00Z"}` {
		t.Errorf("window encoded %s", out)
	}
}

func TestPeriodsAndWindows(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600))
	if got := limits.PeriodStart(limits.EveryDay, now); !got.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("day: %v", got)
	}
	if got := limits.PeriodStart(limits.EveryMonth, now); !got.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month: %v", got)
	}
	if got := limits.WindowStart(60, time.Unix(1_800_000_119, 0)); got != 1_800_000_060 {
		t.Errorf("window: %d", got)
	}
}

// TestRefilledAtOnSet: a key given remaining 100 and a monthly refill of 1000 keeps
// its 100 for the rest of the month, and is refilled by its first use of the next.
func TestRefilledAtOnSet(t *testing.T) {
	now := time.Date(2026, 12, 10, 8, 0, 0, 0, time.UTC)
	r := &limits.Refill{Amount: 1000, Every: limits.EveryMonth}
	s := &limits.State{Settings: limits.Settings{Remaining: ptr(100), Refill: r}, RefilledAt: limits.RefilledAtOnSet(r, now)}
	u := limits.Use{Cost: 1, Slot: "a", ID: "1", At: now}
	if d := limits.Decide(s, u, now.Add(time.Hour)); d.Plan == nil || d.Plan.Credit.Refill {
		t.Errorf("refilled within the month it was set: %+v", d)
	}
	if d := limits.Decide(s, u, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); d.Plan == nil || !d.Plan.Credit.Refill {
		t.Errorf("not refilled next month: %+v", d)
	}
	if limits.RefilledAtOnSet(nil, now) != 0 {
		t.Error("no refill, yet a refill time")
	}
}
