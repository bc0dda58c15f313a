package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// The route table item (package routeconfig): pk=CONFIG sk=ROUTES, attribute routes,
// a map of pattern → scope.
const (
	RoutesPK = "CONFIG"
	routesSK = "ROUTES"
)

// GetRoutes returns the stored route table (pattern → scope), nil when there is none.
// It is an eventually consistent read: the table is reloaded on an interval anyway.
func (d *Dynamo) GetRoutes(ctx context.Context) (map[string]string, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &d.table, Key: primary(RoutesPK, routesSK)})
	if err != nil {
		return nil, fmt.Errorf("read route table: %w", err)
	}
	av, ok := out.Item["routes"]
	if !ok {
		return nil, nil
	}
	var routes map[string]string
	if err := attributevalue.Unmarshal(av, &routes); err != nil {
		return nil, fmt.Errorf("route table item: %w", err)
	}
	if routes == nil {
		routes = map[string]string{}
	}
	return routes, nil
}

// PutRoutes writes the route table item, replacing the stored one. It does not
// validate the patterns: routeconfig.Put does.
func (d *Dynamo) PutRoutes(ctx context.Context, routes map[string]string) error {
	av, err := attributevalue.Marshal(routes)
	if err != nil {
		return fmt.Errorf("marshal routes: %w", err)
	}
	item := primary(RoutesPK, routesSK)
	item["routes"] = av
	if _, err := d.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.table, Item: item}); err != nil {
		return fmt.Errorf("put route table: %w", err)
	}
	return nil
}
