package sweeper

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/pkg/env"
	"github.com/keyward/keyward/pkg/eventbus"
)

const day = 24 * time.Hour

// Config is the sweeper's environment.
type Config struct {
	Offsets      []int         // REMINDER_OFFSETS_DAYS, days before expiry, default 14,7,1
	StaleAfter   time.Duration // STALE_AFTER_DAYS, default 90; 0 turns stale notices off
	KeyRetention time.Duration // KEY_RETENTION_DAYS, default 365: expired/revoked keys are purged after it
	Lease        time.Duration // how long a run owns a reminder it is delivering (15 min, the Lambda maximum)
	Margin       time.Duration // SWEEP_MARGIN_SECONDS, default 15: stop this long before the deadline
	Concurrency  int           // SWEEP_CONCURRENCY, default 16 keys at a time
	BusName      string        // REMINDER_BUS_NAME
	TopicARN     string        // REMINDER_TOPIC_ARN
	Source       string        // EventBridge source of reminders, "keyward"
	// Now, when set, is the instant the run sweeps as if it were (NOW, local only).
	Now time.Time
	// Local is true against the local stack (env.Local, passed to FromEnv): only
	// then is NOW honoured, and the bus and topic are created if missing.
	Local bool
}

// Defaults returns the configuration with every default.
func Defaults() Config {
	return Config{
		Offsets: []int{14, 7, 1}, StaleAfter: 90 * day, KeyRetention: 365 * day,
		Lease: 15 * time.Minute, Margin: 15 * time.Second, Concurrency: 16, Source: eventbus.Source,
	}
}

// FromEnv reads Config from the environment; local says whether the function runs
// against the local stack (service.Config.Local). NOW outside a local run is an
// error: a deployed sweeper must never act on a clock someone typed.
func FromEnv(local bool) (Config, error) {
	c := Defaults()
	var err error
	if c.Offsets, err = ParseOffsets(env.String("REMINDER_OFFSETS_DAYS", "14,7,1")); err != nil {
		return Config{}, err
	}
	if c.StaleAfter, err = env.Days("STALE_AFTER_DAYS", 90); err != nil {
		return Config{}, err
	}
	if c.KeyRetention, err = env.Days("KEY_RETENTION_DAYS", 365); err != nil {
		return Config{}, err
	}
	if c.Margin, err = env.Seconds("SWEEP_MARGIN_SECONDS", 15); err != nil {
		return Config{}, err
	}
	if c.Concurrency, err = env.Int("SWEEP_CONCURRENCY", 16); err != nil {
		return Config{}, err
	}
	if c.Concurrency < 1 {
		c.Concurrency = 1
	}
	c.BusName = env.String("REMINDER_BUS_NAME", "")
	c.TopicARN = env.String("REMINDER_TOPIC_ARN", "")
	if c.BusName == "" || c.TopicARN == "" {
		return Config{}, fmt.Errorf("REMINDER_BUS_NAME and REMINDER_TOPIC_ARN must be set")
	}
	c.Local = local
	if s := env.String("NOW", ""); s != "" {
		if !c.Local {
			return Config{}, fmt.Errorf("NOW is only honoured against the local stack (AWS_ENDPOINT_URL_DYNAMODB set)")
		}
		if c.Now, err = time.Parse(time.RFC3339, s); err != nil {
			return Config{}, fmt.Errorf("NOW=%q: want RFC 3339: %w", s, err)
		}
	}
	return c, nil
}

// ParseOffsets parses a comma-separated list of whole days, returned largest first
// without duplicates.
func ParseOffsets(s string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 3650 {
			return nil, fmt.Errorf("REMINDER_OFFSETS_DAYS=%q: want whole days from 1 to 3650", s)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out, nil
}
