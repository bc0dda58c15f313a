package stack

import (
	"slices"
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
	// gsi4: owner-prefix listings, a string partition and a string sort key, everything projected.
	types4 := map[string]types.ScalarAttributeType{}
	for _, a := range in.AttributeDefinitions {
		types4[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	var gsi4 *types.GlobalSecondaryIndex
	for i, g := range in.GlobalSecondaryIndexes {
		if aws.ToString(g.IndexName) == "gsi4" {
			gsi4 = &in.GlobalSecondaryIndexes[i]
		}
	}
	if gsi4 == nil || len(gsi4.KeySchema) != 2 ||
		aws.ToString(gsi4.KeySchema[0].AttributeName) != "gsi4pk" || gsi4.KeySchema[0].KeyType != types.KeyTypeHash ||
		aws.ToString(gsi4.KeySchema[1].AttributeName) != "gsi4sk" || gsi4.KeySchema[1].KeyType != types.KeyTypeRange ||
		gsi4.Projection.ProjectionType != types.ProjectionTypeAll ||
		types4["gsi4pk"] != types.ScalarAttributeTypeS || types4["gsi4sk"] != types.ScalarAttributeTypeS {
		t.Errorf("gsi4 = %+v, want gsi4pk (S, HASH), gsi4sk (S, RANGE), projection ALL", gsi4)
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

// Only the management API knows the root secret by default; the issuer reaches the
// functions that issue or verify tokens, directly or through the issuer parameter.
func TestFunctionEnvironmentRootAndIssuer(t *testing.T) {
	tmpl := loadRepoTemplate(t)
	const rootRef = "keyward-local-RootSecret"
	tokenFns := []string{"AuthorizerFunction", "KeysFunction", "TokenFunction"}
	for _, tt := range []struct {
		name      string
		params    map[string]string
		root      map[string]string // function -> ROOT_SECRET_ID; absent: not set
		issuer    string
		parameter string
	}{
		{"defaults", nil,
			map[string]string{"KeysFunction": rootRef, "AuthorizerFunction": ""},
			"", "/keyward-local/issuer"},
		{"root at the authorizer, set issuer",
			map[string]string{"AuthorizerAcceptsRoot": "true", "Issuer": "http://127.0.0.1:3000"},
			map[string]string{"KeysFunction": rootRef, "AuthorizerFunction": rootRef},
			"http://127.0.0.1:3000", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			refs := tmpl.LocalRefs()
			for k, v := range tt.params {
				refs[k] = v
			}
			fns, err := tmpl.Functions(refs)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fns {
				got, set := f.Environment["ROOT_SECRET_ID"]
				want, wantSet := tt.root[f.LogicalID]
				if got != want || set != wantSet {
					t.Errorf("%s: ROOT_SECRET_ID = %q (set %v), want %q (set %v)", f.LogicalID, got, set, want, wantSet)
				}
				issuer, hasIssuer := f.Environment["ISSUER"]
				param, hasParam := f.Environment["ISSUER_PARAMETER"]
				if !slices.Contains(tokenFns, f.LogicalID) {
					if hasIssuer || hasParam {
						t.Errorf("%s: ISSUER %q, ISSUER_PARAMETER %q: it neither issues nor verifies tokens", f.LogicalID, issuer, param)
					}
					continue
				}
				if issuer != tt.issuer || param != tt.parameter || !hasIssuer || !hasParam {
					t.Errorf("%s: ISSUER %q ISSUER_PARAMETER %q, want %q and %q", f.LogicalID, issuer, param, tt.issuer, tt.parameter)
				}
			}
			for _, f := range fns {
				v, ok := f.Environment["AUTHORIZER_ACCEPTS_ROOT"]
				want := map[bool]string{false: "false", true: "true"}[tt.params["AuthorizerAcceptsRoot"] == "true"]
				if f.LogicalID == "AuthorizerFunction" && v != want {
					t.Errorf("AuthorizerFunction: AUTHORIZER_ACCEPTS_ROOT = %q, want %q", v, want)
				}
				if f.LogicalID != "AuthorizerFunction" && ok {
					t.Errorf("%s: AUTHORIZER_ACCEPTS_ROOT is the authorizer's alone", f.LogicalID)
				}
			}
		})
	}
}
