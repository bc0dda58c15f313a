package stack

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func loadRepoTemplate(t *testing.T) *Template {
	t.Helper()
	path, err := FindTemplate(".")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestCreateTableInputFromTemplate(t *testing.T) {
	tmpl := loadRepoTemplate(t)
	in, err := tmpl.CreateTableInput("KeywardTable", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.TableName) != "t1" || in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("name/billing = %q/%s", aws.ToString(in.TableName), in.BillingMode)
	}
	if len(in.KeySchema) != 2 || aws.ToString(in.KeySchema[0].AttributeName) != "pk" || in.KeySchema[0].KeyType != types.KeyTypeHash {
		t.Errorf("key schema = %+v", in.KeySchema)
	}
	defined := map[string]bool{}
	for _, a := range in.AttributeDefinitions {
		defined[aws.ToString(a.AttributeName)] = true
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if g.Projection == nil || g.Projection.ProjectionType == "" {
			t.Errorf("index %s has no projection", aws.ToString(g.IndexName))
		}
		for _, k := range g.KeySchema {
			if !defined[aws.ToString(k.AttributeName)] {
				t.Errorf("index %s key %s not in AttributeDefinitions", aws.ToString(g.IndexName), aws.ToString(k.AttributeName))
			}
		}
	}
	if len(in.GlobalSecondaryIndexes) == 0 {
		t.Error("no global secondary indexes")
	}
	ttl, err := tmpl.TTLAttribute("KeywardTable")
	if err != nil || ttl != "ttl" {
		t.Errorf("TTLAttribute = %q, %v", ttl, err)
	}
	if _, err := tmpl.CreateTableInput("KeysFunction", "x"); err == nil {
		t.Error("CreateTableInput on a function: want error")
	}
}

func TestFunctionsFromTemplate(t *testing.T) {
	tmpl := loadRepoTemplate(t)
	refs := tmpl.LocalRefs()
	refs["KeywardTable"] = "local-table"
	fns, err := tmpl.Functions(refs)
	if err != nil {
		t.Fatal(err)
	}
	var keys *Function
	for i := range fns {
		if fns[i].LogicalID == "KeysFunction" {
			keys = &fns[i]
		}
	}
	if keys == nil {
		t.Fatal("no KeysFunction")
	}
	if got := keys.Environment["TABLE_NAME"]; got != "local-table" {
		t.Errorf("TABLE_NAME = %q, want the supplied local name", got)
	}
	if got := keys.Environment["KEY_PREFIX"]; got != tmpl.ParameterDefaults()["KeyPrefix"] || got == "" {
		t.Errorf("KEY_PREFIX = %q, want the parameter default", got)
	}
	if keys.MemorySize <= 0 || keys.Timeout <= 0 {
		t.Errorf("memory/timeout = %d/%d", keys.MemorySize, keys.Timeout)
	}
	routes := map[string]bool{}
	for _, r := range keys.Routes {
		routes[r.Key()] = true
	}
	for _, want := range []string{
		"POST /v1/keys", "GET /v1/keys", "GET /v1/keys/{id}", "PATCH /v1/keys/{id}",
		"DELETE /v1/keys/{id}", "POST /v1/keys/{id}/rotate", "POST /v1/keys/{id}/rotate/finish",
		"POST /v1/keys/{id}/revoke", "POST /v1/keys/batch-delete", "GET /v1/keys/{id}/events", "GET /v1/audit",
	} {
		if !routes[want] {
			t.Errorf("KeysFunction lacks route %s", want)
		}
	}
	// Every authorizer named by a route is declared, and its function exists.
	auths := tmpl.Authorizers()
	names := map[string]bool{}
	for _, f := range fns {
		names[f.LogicalID] = true
	}
	for _, f := range fns {
		for _, r := range f.Routes {
			if r.Authorizer == "" {
				continue
			}
			a, ok := auths[r.Authorizer]
			if !ok {
				t.Errorf("route %s names undeclared authorizer %s", r.Key(), r.Authorizer)
			} else if !names[a.Function] {
				t.Errorf("authorizer %s runs unknown function %s", a.Name, a.Function)
			}
		}
	}
}

const authTemplate = `
Parameters:
  Prefix: {Type: String, Default: kw_live_}
Globals:
  Function:
    MemorySize: 256
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        PREFIX: !Ref Prefix
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          KeywardAuth:
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            EnableSimpleResponses: true
            AuthorizerPayloadFormatVersion: "2.0"
            Identity:
              Headers: [Authorization]
          Jwt:
            JwtConfiguration: {issuer: x}
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          ARN: !Sub "arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Table}"
          BOTH: !Join ["-", [!Ref Prefix, !GetAtt Table.Arn]]
  WhoamiFunction:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 3
      Events:
        Whoami:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: get
            Path: /v1/whoami
            Auth:
              Authorizer: KeywardAuth
        Open:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: /open}
`

func TestFunctionsResolveAndAuthorizers(t *testing.T) {
	tmpl, err := Parse([]byte(authTemplate))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tmpl.Functions(map[string]string{"Table": "tbl", "Table.Arn": "arn:tbl"})
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 2 {
		t.Fatalf("functions = %d, want 2", len(fns))
	}
	env := fns[0].Environment
	tests := []struct{ name, got, want string }{
		{"ref resource", env["TABLE_NAME"], "tbl"},
		{"ref parameter default", env["PREFIX"], "kw_live_"},
		{"sub", env["ARN"], "arn:aws:x:us-east-1:000000000000:tbl"},
		{"join getatt", env["BOTH"], "kw_live_-arn:tbl"},
		{"globals memory", str(fns[1].MemorySize), "256"},
		{"own timeout", str(fns[1].Timeout), "3"},
		{"route method upper", fns[1].Routes[1].Key(), "GET /v1/whoami"},
		{"route authorizer", fns[1].Routes[1].Authorizer, "KeywardAuth"},
		{"open route", fns[1].Routes[0].Authorizer, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	auths := tmpl.Authorizers()
	a, ok := auths["KeywardAuth"]
	if !ok || len(auths) != 1 {
		t.Fatalf("authorizers = %+v", auths)
	}
	if a.Function != "AuthorizerFunction" || !a.SimpleResponses || a.PayloadFormatVersion != "2.0" ||
		len(a.IdentitySource) != 1 || a.IdentitySource[0] != "$request.header.Authorization" {
		t.Errorf("authorizer = %+v", a)
	}
	if _, err := tmpl.Functions(nil); err == nil {
		t.Error("unresolvable !Ref: want error")
	}
}
