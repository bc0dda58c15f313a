package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TouchLastUsed sets key keyID's last_used_at (now, whole-second UTC RFC 3339, which
// sorts as a string) and last_used_ip, unless they were set less than interval
// before now or the key is gone: then it reports false and writes nothing. It
// touches no other attribute and never bumps version, so it neither loses to nor
// clobbers a management write (UpdateKey leaves these two alone).
func (d *Dynamo) TouchLastUsed(ctx context.Context, keyID, ip string, now time.Time, interval time.Duration) (bool, error) {
	now = now.UTC().Truncate(time.Second)
	set := expression.Set(expression.Name("last_used_at"), expression.Value(now.Format(time.RFC3339))).
		Set(expression.Name("last_used_ip"), expression.Value(ip))
	cond := expression.AttributeExists(expression.Name("pk")).And(
		expression.AttributeNotExists(expression.Name("last_used_at")).
			Or(expression.Name("last_used_at").LessThanEqual(expression.Value(now.Add(-interval).Format(time.RFC3339)))))
	expr, err := expression.NewBuilder().WithUpdate(set).WithCondition(cond).Build()
	if err != nil {
		return false, fmt.Errorf("usage: build update: %w", err)
	}
	_, err = d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       keyPrimary(keyID),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil // written within the interval, or the key is gone
	}
	if err != nil {
		return false, fmt.Errorf("usage: update last used of %s: %w", keyID, err)
	}
	return true, nil
}
