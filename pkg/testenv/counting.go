package testenv

import (
	"context"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keyward/keyward/pkg/store"
)

// CountingDB counts the DynamoDB calls made through it, for "costs one read, no
// write" assertions: Gets counts reads (GetItem, Query), Writes every kind of write.
type CountingDB struct {
	store.API
	Gets, Writes atomic.Int64
}

// GetItem counts a read.
func (c *CountingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.Gets.Add(1)
	return c.API.GetItem(ctx, in, o...)
}

// Query counts a read.
func (c *CountingDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.Gets.Add(1)
	return c.API.Query(ctx, in, o...)
}

// UpdateItem counts a write.
func (c *CountingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.Writes.Add(1)
	return c.API.UpdateItem(ctx, in, o...)
}

// PutItem counts a write.
func (c *CountingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.Writes.Add(1)
	return c.API.PutItem(ctx, in, o...)
}

// TransactWriteItems counts a write.
func (c *CountingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.Writes.Add(1)
	return c.API.TransactWriteItems(ctx, in, o...)
}
