package stack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CreateTableInput builds the CreateTable call for the AWS::DynamoDB::Table with the
// given logical id, named tableName. Billing is always PAY_PER_REQUEST; the TTL, which
// CreateTable cannot carry, comes from TTLAttribute.
func (t *Template) CreateTableInput(logicalID, tableName string) (*dynamodb.CreateTableInput, error) {
	r, err := t.Resource(logicalID)
	if err != nil {
		return nil, err
	}
	if r.Type != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("%s is a %s, not an AWS::DynamoDB::Table", logicalID, r.Type)
	}
	p := r.Properties
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(tableName),
		BillingMode: types.BillingModePayPerRequest,
	}
	for _, a := range list(p["AttributeDefinitions"]) {
		m := mapping(a)
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(str(m["AttributeName"])),
			AttributeType: types.ScalarAttributeType(str(m["AttributeType"])),
		})
	}
	in.KeySchema = keySchema(p["KeySchema"])
	if len(in.AttributeDefinitions) == 0 || len(in.KeySchema) == 0 {
		return nil, fmt.Errorf("%s: AttributeDefinitions and KeySchema are required", logicalID)
	}
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		m := mapping(g)
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(str(m["IndexName"])),
			KeySchema:  keySchema(m["KeySchema"]),
			Projection: projection(m["Projection"]),
		})
	}
	for _, l := range list(p["LocalSecondaryIndexes"]) {
		m := mapping(l)
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName:  aws.String(str(m["IndexName"])),
			KeySchema:  keySchema(m["KeySchema"]),
			Projection: projection(m["Projection"]),
		})
	}
	if s := mapping(p["StreamSpecification"]); str(s["StreamViewType"]) != "" {
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(str(s["StreamViewType"])),
		}
	}
	return in, nil
}

// TTLAttribute returns the table's TimeToLiveSpecification attribute name, or ""
// when TTL is not enabled.
func (t *Template) TTLAttribute(logicalID string) (string, error) {
	r, err := t.Resource(logicalID)
	if err != nil {
		return "", err
	}
	spec := mapping(r.Properties["TimeToLiveSpecification"])
	if enabled, _ := spec["Enabled"].(bool); !enabled {
		return "", nil
	}
	return str(spec["AttributeName"]), nil
}

func keySchema(v any) []types.KeySchemaElement {
	var out []types.KeySchemaElement
	for _, k := range list(v) {
		m := mapping(k)
		out = append(out, types.KeySchemaElement{
			AttributeName: aws.String(str(m["AttributeName"])),
			KeyType:       types.KeyType(str(m["KeyType"])),
		})
	}
	return out
}

func projection(v any) *types.Projection {
	m := mapping(v)
	p := &types.Projection{ProjectionType: types.ProjectionType(str(m["ProjectionType"]))}
	if p.ProjectionType == "" {
		p.ProjectionType = types.ProjectionTypeAll
	}
	for _, a := range list(m["NonKeyAttributes"]) {
		p.NonKeyAttributes = append(p.NonKeyAttributes, str(a))
	}
	return p
}

// TableAPI is the part of a DynamoDB client CreateTable calls.
type TableAPI interface {
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// CreateTable creates the AWS::DynamoDB::Table logicalID as tableName, as deployed:
// CreateTableInput, then its TTL. A table that exists already is an error that
// errors.As finds as a *types.ResourceInUseException, and it is left unchanged.
// The local stack and the tests' tables are both made here.
func (t *Template) CreateTable(ctx context.Context, api TableAPI, logicalID, tableName string) error {
	in, err := t.CreateTableInput(logicalID, tableName)
	if err != nil {
		return err
	}
	attr, err := t.TTLAttribute(logicalID)
	if err != nil {
		return err
	}
	if _, err := api.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", tableName, err)
	}
	if attr == "" {
		return nil
	}
	if _, err := api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(tableName),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
	}); err != nil {
		return fmt.Errorf("enable TTL on %s: %w", tableName, err)
	}
	return nil
}
