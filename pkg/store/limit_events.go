package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Event types of usage limits.
const (
	// EventKeyRateLimited and EventKeyUsageExceeded: a key's use was refused by a
	// rate limit, or for want of credits; at most one of each per key per minute.
	EventKeyRateLimited   = "key.rate_limited"
	EventKeyUsageExceeded = "key.usage_exceeded"
	// EventOwnerLimitsUpdated: an owner's limits were set or removed (an owner event).
	EventOwnerLimitsUpdated = "owner.limits_updated"
)

// PutEventOnce records e under its own ID (which the caller derives from what the
// event is about, so that every writer of the same event names it alike), unless an
// event with that ID is already in the key's trail. It reports whether this call
// wrote it: of writers racing on one ID, exactly one gets true.
func (d *Dynamo) PutEventOnce(ctx context.Context, e *Event) (bool, error) {
	if e.ID == "" {
		return false, fmt.Errorf("put event once: no id")
	}
	err := d.PutEvent(ctx, e)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	return err == nil, err
}
