package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// Source is the EventBridge source of Keyward's events.
const Source = "keyward"

// API is the part of the EventBridge client a Bus uses.
type API interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
	CreateEventBus(context.Context, *eventbridge.CreateEventBusInput, ...func(*eventbridge.Options)) (*eventbridge.CreateEventBusOutput, error)
}

// Bus is one EventBridge bus and the source its events carry.
type Bus struct {
	EB     API
	Name   string
	Source string
	// CreateFirst makes the first Put create the bus (Ensure) first: for the local
	// stack, so that a cold start pays nothing for a bus most runs never use.
	CreateFirst bool

	once      sync.Once
	ensureErr error
}

// New returns the bus name on the client of awsCfg, with source Source.
func New(awsCfg aws.Config, name string) *Bus {
	return &Bus{EB: eventbridge.NewFromConfig(awsCfg), Name: name, Source: Source}
}

// Put puts one event on the bus: detail-type detailType, detail the JSON of detail,
// time at. An error means the bus did not accept it.
func (b *Bus) Put(ctx context.Context, detailType string, detail any, at time.Time) error {
	if b.CreateFirst {
		b.once.Do(func() { b.ensureErr = b.Ensure(ctx) })
		if b.ensureErr != nil {
			return b.ensureErr
		}
	}
	body, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("%s event: %w", detailType, err)
	}
	out, err := b.EB.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: &b.Name,
		Source:       &b.Source,
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(body)),
		Resources:    []string{},
		Time:         aws.Time(at),
	}}})
	if err != nil {
		return fmt.Errorf("put %s event: %w", detailType, err)
	}
	if out.FailedEntryCount > 0 && len(out.Entries) > 0 {
		e := out.Entries[0]
		return fmt.Errorf("put %s event: %s: %s", detailType, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	return nil
}

// Ensure creates the bus unless it exists: for the local stack, which has none at
// first. Deployed, the template creates it.
func (b *Bus) Ensure(ctx context.Context) error {
	_, err := b.EB.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &b.Name})
	var exists *ebtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create local bus %s: %w", b.Name, err)
	}
	return nil
}
