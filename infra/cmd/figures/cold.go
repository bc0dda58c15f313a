package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/pkg/store"
)

// coldRuns is how many cold starts are measured per bootstrap, each beside its twin's
// and the round trips' own times; the medians are reported.
const coldRuns = 15

// goalColdRatio bounds a cold start against its twin's, before the round trips the
// function needs and the twin does not.
const goalColdRatio = 1.5

// tripRuns is how many calls of each kind are timed; the median is a round trip's cost.
const tripRuns = 15

// measureRoundTrips times one call of each kind an init makes, from this process to
// the same local services, with a warm connection.
func (b *bench) measureRoundTrips() error {
	calls := b.tripCalls()
	for kind, call := range calls {
		var d []time.Duration
		for range tripRuns {
			t := time.Now()
			if err := call(); err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
			d = append(d, time.Since(t))
		}
		b.trips[kind] = ms(median(d))
		b.add("round_trip_%s = %.2f ms", kind, b.trips[kind])
	}
	return nil
}

// timeTrips times one call of each kind, now: the round trips of one cold start.
func (b *bench) timeTrips(calls map[string]func() error) (map[string]float64, error) {
	out := map[string]float64{}
	for kind, call := range calls {
		t := time.Now()
		if err := call(); err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		out[kind] = ms(time.Since(t))
	}
	return out, nil
}

// tripCalls is one call of each kind an init makes, from this process.
func (b *bench) tripCalls() map[string]func() error {
	table := b.p.Refs["KeywardTable"]
	topic := "keyward-figures-trip"
	ddb, eb, sn := b.ddb, eventbridge.NewFromConfig(b.aws), sns.NewFromConfig(b.aws)
	return map[string]func() error{
		"dynamodb": func() error {
			_, err := ddb.GetItem(b.ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.KeyPK(b.keyID)},
					"sk": &types.AttributeValueMemberS{Value: "KEY"}}})
			return err
		},
		"secretsmanager": func() error {
			_, err := b.sm.GetSecretValue(b.ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(b.p.Refs["PepperSecret"])})
			return err
		},
		"eventbridge": func() error {
			_, err := eb.DescribeEventBus(b.ctx, &eventbridge.DescribeEventBusInput{})
			return err
		},
		"sns": func() error {
			_, err := sn.CreateTopic(b.ctx, &sns.CreateTopicInput{Name: &topic}) // idempotent, as the sweeper's
			return err
		},
	}
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// tripsCost is the cost of s's init round trips, given each kind's time: each step's
// slowest call, in turn.
func tripsCost(s scenario, trips map[string]float64) (float64, string) {
	total := 0.0
	var names []string
	for _, st := range s.trips {
		worst := 0.0
		for _, c := range st.calls {
			worst = max(worst, trips[c])
		}
		total += worst
		names = append(names, st.name)
	}
	return total, strings.Join(names, "; ")
}

// coldStarts measures each function's cold start and its twin's, alternately, and
// times the function's init round trips just before each pair: each run has its own
// bound, 1.5 × its twin's cold start plus its round trips, and its own margin (the
// bound less the function's cold start), so that a slow moment of the machine or of a
// local service stretches the run and its bound alike. The goal is met when the
// median margin is not negative.
func (b *bench) coldStarts() error {
	calls := b.tripCalls()
	for _, s := range scenarios {
		// wall and CPU of the function [0] and of its twin [1]; each run's bound and trips
		var wall, cpu [2][]time.Duration
		var margin, trips []time.Duration
		met := 0
		for run := range coldRuns {
			t, err := b.timeTrips(calls)
			if err != nil {
				return err
			}
			// The function first in even runs, the twin first in odd ones: neither
			// always starts right after the round trips, or after the other.
			for _, i := range [][]int{{0, 1}, {1, 0}}[run%2] {
				w, c, err := b.coldStart(s, i == 1)
				if err != nil {
					return err
				}
				wall[i], cpu[i] = append(wall[i], w), append(cpu[i], c)
			}
			tc, _ := tripsCost(s, t)
			trip := time.Duration(tc * float64(time.Millisecond))
			bd := time.Duration(goalColdRatio*float64(wall[1][len(wall[1])-1])) + trip
			margin, trips = append(margin, bd-wall[0][len(wall[0])-1]), append(trips, trip)
			if wall[0][len(wall[0])-1] <= bd {
				met++
			}
		}
		_, names := tripsCost(s, nil)
		b.add("cold_start_twin_%s = %.1f ms", s.id, ms(median(wall[1])))
		b.add("cold_start_init_round_trips_%s = %.1f ms [%s]", s.id, ms(median(trips)), first(names, "none"))
		// The goal holds when the median run's margin (its bound less its cold start) is
		// not negative: the median cold start plus that margin.
		b.add("cold_start_%s = %.1f ms (goal <= %.1f) [median of %d runs; each run's bound is 1.5 x its twin's + its round trips, the goal the median plus the median run's margin; met in %d of %d runs]",
			s.id, ms(median(wall[0])), ms(median(wall[0])+median(margin)), coldRuns, met, coldRuns)
		// The CPU used by the first answer, robust to load: what stretches a cold start
		// at a small MemorySize (README). No goal: the function's includes the CPU of its
		// init round trips, which its twin does not make.
		b.add("cold_start_cpu_%s = %.1f ms", s.id, mean(cpu[0]))
		b.add("cold_start_cpu_twin_%s = %.1f ms", s.id, mean(cpu[1]))
	}
	return nil
}

func mean(d []time.Duration) float64 {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return ms(sum) / float64(len(d))
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// coldStart starts a fresh process of s's function (or twin) and times it from
// process start to its first answer; it returns that time and the CPU the process
// had used by then.
func (b *bench) coldStart(s scenario, twin bool) (time.Duration, time.Duration, error) {
	bin, extra := b.bins[s.id], []string(nil)
	if twin {
		bin, extra = b.twins[s.twin], b.twinEnv()
	}
	f, err := b.function(s.id, bin, extra...)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	event := s.cold(b, twin)
	start := time.Now() // Invoke starts the process: this is the whole cold start
	_, err = f.Invoke(b.ctx, event)
	d := time.Since(start)
	var fe *gateway.FunctionError
	if err != nil && (!errors.As(err, &fe) || fe.Type == "Runtime.ExitError" || fe.Type == "Sandbox.Timedout") {
		return 0, 0, fmt.Errorf("%s (twin %v): cold invocation: %w", s.id, twin, err)
	}
	x := &subject{b: b, s: s, twin: twin, f: f}
	_, c, err := x.processCPU()
	return d, c, err
}
