package sweeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// Detail types of the reminders on the EventBridge bus.
const (
	DetailTypeExpiring = "Keyward Key Expiring"
	DetailTypeStale    = "Keyward Key Stale"
)

// Publisher delivers a reminder to its two channels.
type Publisher interface {
	// PublishEvent puts r on the EventBridge bus; an error means it was not accepted.
	PublishEvent(ctx context.Context, r *Reminder) error
	// PublishNotice publishes r to the SNS topic; an error means it was not accepted.
	PublishNotice(ctx context.Context, r *Reminder) error
}

// EventBridgeAPI is the part of the EventBridge client the publisher uses.
type EventBridgeAPI interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
	CreateEventBus(context.Context, *eventbridge.CreateEventBusInput, ...func(*eventbridge.Options)) (*eventbridge.CreateEventBusOutput, error)
}

// SNSAPI is the part of the SNS client the publisher uses.
type SNSAPI interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
	CreateTopic(context.Context, *sns.CreateTopicInput, ...func(*sns.Options)) (*sns.CreateTopicOutput, error)
}

// AWSPublisher publishes to an EventBridge bus and an SNS topic.
type AWSPublisher struct {
	EB       EventBridgeAPI
	SNS      SNSAPI
	Bus      string
	TopicARN string
	Source   string
}

var _ Publisher = (*AWSPublisher)(nil)

// NewAWSPublisher returns a publisher on cfg's bus and topic. In a local run it first
// creates them if missing (the local stack does not), and resolves the topic's ARN.
func NewAWSPublisher(ctx context.Context, awsCfg aws.Config, cfg Config) (*AWSPublisher, error) {
	p := &AWSPublisher{
		EB: eventbridge.NewFromConfig(awsCfg), SNS: sns.NewFromConfig(awsCfg),
		Bus: cfg.BusName, TopicARN: cfg.TopicARN, Source: cfg.Source,
	}
	if cfg.Local {
		if err := p.ensureLocal(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ensureLocal creates the local bus and topic, in parallel (they are independent: one
// round trip of the cold start rather than two).
func (p *AWSPublisher) ensureLocal(ctx context.Context) error {
	busErr := make(chan error, 1)
	go func() {
		_, err := p.EB.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: &p.Bus})
		var exists *ebtypes.ResourceAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			err = fmt.Errorf("create local bus %s: %w", p.Bus, err)
		} else {
			err = nil
		}
		busErr <- err
	}()
	name := p.TopicARN[strings.LastIndex(p.TopicARN, ":")+1:]
	out, err := p.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: &name}) // idempotent
	if err != nil {
		err = fmt.Errorf("create local topic %s: %w", name, err)
	} else {
		p.TopicARN = aws.ToString(out.TopicArn)
	}
	return errors.Join(<-busErr, err)
}

func (r *Reminder) detailType() string {
	if r.Kind == KindStale {
		return DetailTypeStale
	}
	return DetailTypeExpiring
}

// PublishEvent puts r on the bus.
func (p *AWSPublisher) PublishEvent(ctx context.Context, r *Reminder) error {
	detail, err := json.Marshal(r)
	if err != nil {
		return err
	}
	out, err := p.EB.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: &p.Bus,
		Source:       &p.Source,
		DetailType:   aws.String(r.detailType()),
		Detail:       aws.String(string(detail)),
		Resources:    []string{},
		Time:         aws.Time(r.SweptAt),
	}}})
	if err != nil {
		return fmt.Errorf("put event %s: %w", r.ReminderID, err)
	}
	if out.FailedEntryCount > 0 {
		e := out.Entries[0]
		return fmt.Errorf("put event %s: %s: %s", r.ReminderID, aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	return nil
}

// PublishNotice publishes r to the topic: a readable subject, the detail as JSON body,
// and reminder_id / detail_type as message attributes for filter policies and dedup.
func (p *AWSPublisher) PublishNotice(ctx context.Context, r *Reminder) error {
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = p.SNS.Publish(ctx, &sns.PublishInput{
		TopicArn: &p.TopicARN,
		Subject:  aws.String(r.Subject()),
		Message:  aws.String(string(body)),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"reminder_id": {DataType: aws.String("String"), StringValue: aws.String(r.ReminderID)},
			"detail_type": {DataType: aws.String("String"), StringValue: aws.String(r.detailType())},
		},
	})
	if err != nil {
		return fmt.Errorf("publish %s: %w", r.ReminderID, err)
	}
	return nil
}
