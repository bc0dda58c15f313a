package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/testenv"
)

// TestMeterWiring: Load builds the meter with the configured bus, which on the local
// stack (it starts without one) the first event creates, and Shutdown writes the counts the meter has
// not written yet; without EVENT_BUS_NAME there is a meter and no bus.
func TestMeterWiring(t *testing.T) {
	e := testenv.New(t)
	e.Setenv(t)
	ctx := context.Background()
	bus := "keyward-test-meter-" + strings.TrimPrefix(e.Table, "keyward-test-")
	t.Setenv("EVENT_BUS_NAME", bus)
	d, err := service.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Bus == nil || d.Bus.Name != bus || d.Meter == nil {
		t.Fatalf("bus %+v, meter %v", d.Bus, d.Meter)
	}
	eb := eventbridge.NewFromConfig(e.AWS)
	if _, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &bus}); err == nil {
		t.Error("the cold start created the bus: it should wait for the first event")
	}
	// The first use of a key is written at once, beside its answer (with the uses made
	// meanwhile); the next ones wait for their minute.
	now := time.Now()
	for range 3 {
		d.Meter.ObserveUse(ctx, "wired1", "team-a", limits.CodeValid, now)
	}
	day := now.UTC().Format(time.DateOnly)
	stored := func() int64 {
		got, err := d.Store.UsageByDay(ctx, "wired1", day, day)
		if err != nil {
			t.Fatal(err)
		}
		return got[day].Accepted
	}
	if !d.Meter.FirstAside {
		t.Error("the functions' meter writes the first use inline")
	}
	for deadline := time.Now().Add(time.Minute); stored() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("a minute after the uses, before shutdown, none is stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Shutdown()
	if n := stored(); n != 3 {
		t.Errorf("after shutdown %d stored, want 3", n)
	}
	d.Meter.ObserveUse(ctx, "wired2", "team-a", limits.CodeRateLimited, time.Now())
	if _, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &bus}); err != nil {
		t.Errorf("the first event did not create the local bus: %v", err)
	}

	t.Setenv("EVENT_BUS_NAME", "")
	cfg, err := service.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if d := service.Build(cfg, e.AWS); d.Bus != nil || d.Meter == nil {
		t.Errorf("without EVENT_BUS_NAME: bus %+v, meter %v", d.Bus, d.Meter)
	}
}
