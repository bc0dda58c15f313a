package limits_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/keyward/keyward/pkg/limits"
)

// table is the model of the stored counts: one record per key, day and writer,
// replaced by a write with a higher Seq (the store's condition), as the store keeps them.
type table map[[3]string]limits.CountWrite

func (tb table) put(w limits.CountWrite) {
	k := [3]string{w.KeyID, w.Day, w.Instance}
	if old, ok := tb[k]; !ok || old.Seq < w.Seq {
		tb[k] = w
	}
}

// day sums a key's day over writers, as GET /v1/keys/{id}/usage reads it.
func (tb table) day(key, day string) limits.Tally {
	var t limits.Tally
	for k, w := range tb {
		if k[0] == key && k[1] == day {
			t.Add(w.Tally)
		}
	}
	return t
}

func TestCounter(t *testing.T) {
	now := time.Date(2026, 12, 1, 23, 59, 0, 0, time.UTC)
	c := limits.NewCounter("i1")
	c.Record("k1", now, limits.CodeValid)
	c.Record("k1", now, limits.CodeRateLimited)
	c.Record("k1", now.Add(2*time.Minute), limits.CodeValid) // the next UTC day
	c.Record("k2", now, limits.CodeValid)                    // back to the first day
	// The day is UTC's, whatever the time's zone: 01:00 at UTC+2 is still Dec 1st.
	c.Record("k3", time.Date(2026, 12, 2, 1, 0, 0, 0, time.FixedZone("UTC+2", 2*3600)), limits.CodeValid)
	ws := c.Due(now)
	if len(ws) != 4 || ws[0].Day != "2026-12-01" || ws[1].Day != "2026-12-02" || ws[2].KeyID != "k2" || ws[2].Day != "2026-12-01" ||
		ws[3].KeyID != "k3" || ws[3].Day != "2026-12-01" {
		t.Fatalf("writes %+v", ws)
	}
	if ws[0].Tally.Accepted != 1 || ws[0].Tally.Refused[limits.CodeRateLimited] != 1 {
		t.Errorf("tally %+v", ws[0].Tally)
	}
	for _, w := range ws {
		c.Written(w, now)
	}
	c.Record("k1", now, limits.CodeValid)
	if ws := c.Due(now.Add(59 * time.Second)); len(ws) != 0 {
		t.Errorf("a key written again within a minute: %+v", ws)
	}
	if ws := c.Due(now.Add(time.Minute)); len(ws) != 1 || ws[0].Tally.Accepted != 2 {
		t.Errorf("after a minute: %+v", ws)
	}
	// At shutdown, everything not yet written, whatever the time.
	c.Record("k2", now.Add(time.Minute), limits.CodeUsageExceeded)
	if ws := c.All(now.Add(61 * time.Second)); len(ws) != 2 || ws[0].Tally.Accepted != 2 || ws[1].Tally.Refused[limits.CodeUsageExceeded] != 1 {
		t.Errorf("shutdown writes %+v", ws)
	}
}

// TestCounterProperty: records, flushes at random times whose writes fail, succeed, or
// succeed without the counter hearing of it (a lost answer), arrive late or twice,
// then a shutdown flush that succeeds. The stored counts, summed per key and day,
// are exactly what was recorded: none lost, none doubled. And Due never hands out
// two writes of one key within FlushEvery.
func TestCounterProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		now := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
		c := limits.NewCounter("i")
		stored := table{}
		want := map[[2]string]limits.Tally{}
		lastDue := map[string]time.Time{}
		var late []limits.CountWrite
		keys := []string{"a", "b", "c"}
		codes := []string{limits.CodeValid, limits.CodeRateLimited, limits.CodeUsageExceeded, "REVOKED"}
		steps := rapid.IntRange(1, 200).Draw(t, "steps")
		for range steps {
			now = now.Add(time.Duration(rapid.IntRange(0, 40).Draw(t, "dt")) * time.Second)
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 4: // hours pass
				now = now.Add(time.Duration(rapid.IntRange(1, 30).Draw(t, "hours")) * time.Hour)
			case 0, 1:
				k, code := rapid.SampledFrom(keys).Draw(t, "key"), rapid.SampledFrom(codes).Draw(t, "code")
				// Mostly now; sometimes a clock days behind, on a day already forgotten.
				at := now.AddDate(0, 0, -rapid.SampledFrom([]int{0, 0, 0, 0, 1, 2, 3}).Draw(t, "behind"))
				c.Record(k, at, code)
				one := limits.Tally{}
				if code == limits.CodeValid {
					one.Accepted = 1
				} else {
					one.Refused = map[string]int64{code: 1}
				}
				tl := want[[2]string{k, at.Format(time.DateOnly)}]
				tl.Add(one)
				want[[2]string{k, at.Format(time.DateOnly)}] = tl
			case 2:
				for _, w := range c.Due(now) {
					if last, ok := lastDue[w.KeyID]; ok && now.Sub(last) < limits.FlushEvery && !now.Equal(last) {
						t.Fatalf("key %s written at %v and %v", w.KeyID, last, now)
					}
					lastDue[w.KeyID] = now
					switch rapid.IntRange(0, 3).Draw(t, "outcome") {
					case 0: // failed: nothing stored
					case 1: // stored, answer lost
						stored.put(w)
					case 2: // stored and confirmed
						stored.put(w)
						c.Written(w, now)
					case 3: // delivered later (a retry in flight), maybe after newer ones
						late = append(late, w)
					}
				}
			case 3:
				for _, w := range late {
					stored.put(w)
					stored.put(w) // twice: an SDK retry of a write that was applied
				}
				late = nil
			}
		}
		for _, w := range late {
			stored.put(w)
		}
		for _, w := range c.All(now) {
			stored.put(w)
			c.Written(w, now)
		}
		for k, tl := range want {
			got := stored.day(k[0], k[1])
			if got.Accepted != tl.Accepted || !maps.Equal(nonZero(got.Refused), nonZero(tl.Refused)) {
				t.Fatalf("%s on %s: stored %+v, recorded %+v", k[0], k[1], got, tl)
			}
		}
		if ws := c.All(now); len(ws) != 0 {
			t.Fatalf("written counts handed out again: %+v", ws)
		}
	})
}

func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestCounterWritesPerMinute: a sustained loop of uses of a few keys over ten
// simulated minutes, flushed whenever asked: at most one write per key per minute.
func TestCounterWritesPerMinute(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := limits.NewCounter("i")
	writes := map[string]map[int]int{} // key → minute → writes
	stored := table{}
	recorded := int64(0)
	for ms := 0; ms < 10*60*1000; ms += 7 {
		now := start.Add(time.Duration(ms) * time.Millisecond)
		key := fmt.Sprint("k", ms%3)
		c.Record(key, now, limits.CodeValid)
		recorded++
		for _, w := range c.Due(now) {
			if writes[w.KeyID] == nil {
				writes[w.KeyID] = map[int]int{}
			}
			writes[w.KeyID][int(now.Sub(start)/time.Minute)]++
			stored.put(w)
			c.Written(w, now)
		}
	}
	end := start.Add(10 * time.Minute)
	for _, w := range c.All(end) {
		stored.put(w)
		c.Written(w, end)
	}
	var sum int64
	for k := range []string{"k0", "k1", "k2"} {
		sum += stored.day(fmt.Sprint("k", k), "2026-12-01").Accepted
	}
	if sum != recorded {
		t.Errorf("stored %d uses, recorded %d", sum, recorded)
	}
	for key, perMinute := range writes {
		for m, n := range perMinute {
			if n > 1 {
				t.Errorf("key %s: %d writes in minute %d", key, n, m)
			}
		}
	}
	if len(writes) != 3 {
		t.Errorf("writes of %d keys, want 3", len(writes))
	}
}
