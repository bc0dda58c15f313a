package limits

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// CodeValid is the code of an accepted use in usage counts and verify answers.
const CodeValid = "VALID"

// FlushEvery is how often, at most, one instance writes one key's counts.
const FlushEvery = time.Minute

// Tally is one key's uses on one UTC day: accepted, and refused by code.
type Tally struct {
	Accepted int64            `json:"accepted" dynamodbav:"accepted"`
	Refused  map[string]int64 `json:"refused" dynamodbav:"refused"`
}

// Add adds o into t.
func (t *Tally) Add(o Tally) {
	t.Accepted += o.Accepted
	for code, n := range o.Refused {
		if t.Refused == nil {
			t.Refused = map[string]int64{}
		}
		t.Refused[code] += n
	}
}

func (t Tally) clone() Tally {
	return Tally{Accepted: t.Accepted, Refused: maps.Clone(t.Refused)}
}

// CountWrite is one instance's counts of one key on one day, whole: the write that
// stores it replaces the instance's previous write of that key and day, so a write
// repeated (an SDK retry, a flush retried after a failure) counts nothing twice.
// The store keeps it only if Seq is higher than the stored one: writes that arrive
// out of order never bring counts back. A day's count is the sum over instances.
type CountWrite struct {
	KeyID string
	Day   string // UTC, 2006-01-02
	// Instance names the writer: the counter's instance and the day's generation.
	Instance string
	Seq      int64
	Tally    Tally
}

// Counter aggregates usage counts in memory, per key and day, and says which to
// write: each key at most once per FlushEvery (Due), and everything left at
// shutdown (All). It does no I/O. A crash loses what was recorded since the key's
// last write: at most FlushEvery of this instance's counts.
type Counter struct {
	instance string
	mu       sync.Mutex
	keys     map[string]*keyCounts
	seq      int64
	// dayOf is the last day Record named, by its Unix day number: Record names the
	// day of every use, and formatting it each time was its only allocation.
	dayOf struct {
		n    int64
		name string
	}
}

// dayName is the UTC day of at (time.DateOnly), under c.mu.
func (c *Counter) dayName(at time.Time) string {
	sec := at.Unix()
	if sec < 0 {
		return at.UTC().Format(time.DateOnly)
	}
	if n := sec / 86400; n != c.dayOf.n || c.dayOf.name == "" {
		c.dayOf.n, c.dayOf.name = n, at.UTC().Format(time.DateOnly)
	}
	return c.dayOf.name
}

type keyCounts struct {
	days      map[string]*dayCounts
	lastWrite time.Time // when Due last handed out this key's writes
}

type dayCounts struct {
	tally   Tally
	seq     int64 // Seq of the last change
	gen     int64 // Seq of the first change: names the writer (CountWrite.Instance)
	written int64 // highest Seq confirmed written
}

// NewCounter returns an empty counter for instance (unique per process: RandomID).
func NewCounter(instance string) *Counter {
	return &Counter{instance: instance, keys: map[string]*keyCounts{}}
}

// Record counts one use of keyID at at: accepted when code is CodeValid, otherwise
// refused with code.
func (c *Counter) Record(keyID string, at time.Time, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.keys[keyID]
	if k == nil {
		k = &keyCounts{days: map[string]*dayCounts{}}
		c.keys[keyID] = k
	}
	day := c.dayName(at)
	d := k.days[day]
	if d == nil {
		d = &dayCounts{gen: c.seq + 1}
		k.days[day] = d
	}
	if code == CodeValid {
		d.tally.Accepted++
	} else {
		if d.tally.Refused == nil {
			d.tally.Refused = map[string]int64{}
		}
		d.tally.Refused[code]++
	}
	c.seq++
	d.seq = c.seq
}

// Due returns the writes to make at now: for each key with unwritten counts whose
// last writes were handed out FlushEvery ago or more, one write per unwritten day.
// Handing them out starts the key's next FlushEvery, whether or not they succeed; a
// write that fails is simply due again (with any newer counts) at the next turn.
func (c *Counter) Due(now time.Time) []CountWrite {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes(func(k *keyCounts) bool { return now.Sub(k.lastWrite) >= FlushEvery }, now)
}

// All returns every unwritten count, whatever the time: the flush at shutdown.
func (c *Counter) All(now time.Time) []CountWrite {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes(func(*keyCounts) bool { return true }, now)
}

func (c *Counter) writes(due func(*keyCounts) bool, now time.Time) []CountWrite {
	var out []CountWrite
	for _, id := range slices.Sorted(maps.Keys(c.keys)) {
		k := c.keys[id]
		if len(k.days) == 0 && now.Sub(k.lastWrite) >= FlushEvery {
			// Forgotten only once its last write is FlushEvery old, so that a use
			// right after cannot make a second write within FlushEvery.
			delete(c.keys, id)
			continue
		}
		n := len(out)
		for _, day := range slices.Sorted(maps.Keys(k.days)) {
			d := k.days[day]
			if d.written < d.seq && due(k) {
				out = append(out, CountWrite{KeyID: id, Day: day, Instance: c.instance + "." + strconv.FormatInt(d.gen, 10), Seq: d.seq, Tally: d.tally.clone()})
			}
		}
		if len(out) > n {
			k.lastWrite = now
		}
	}
	return out
}

// Written records that w was stored. A day more than keepDays before now's UTC day
// whose counts are all written is forgotten, so memory holds only recent days. A use
// recorded on a forgotten day (a clock far behind) starts that day again under a new
// writer (CountWrite.Instance), so its write adds to the day and replaces nothing.
func (c *Counter) Written(w CountWrite, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.keys[w.KeyID]
	if k == nil {
		return
	}
	d := k.days[w.Day]
	if d == nil {
		return
	}
	d.written = max(d.written, w.Seq)
	keep := now.UTC().AddDate(0, 0, -keepDays).Format(time.DateOnly)
	for day, d := range k.days {
		if day < keep && d.written == d.seq {
			delete(k.days, day)
		}
	}
}

// keepDays is how many past days a counter keeps after their counts are written.
const keepDays = 1
