package sweeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/keyward/keyward/pkg/eventbus"
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
type EventBridgeAPI = eventbus.API

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
	go func() { busErr <- p.bus().Ensure(ctx) }()
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

func (p *AWSPublisher) bus() *eventbus.Bus {
	return &eventbus.Bus{EB: p.EB, Name: p.Bus, Source: p.Source}
}

// PublishEvent puts r on the bus.
func (p *AWSPublisher) PublishEvent(ctx context.Context, r *Reminder) error {
	if err := p.bus().Put(ctx, r.detailType(), r, r.SweptAt); err != nil {
		return fmt.Errorf("reminder %s: %w", r.ReminderID, err)
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
