package stack

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/sweeper"
)

// Item kinds, as the leading keys (partition keys) that the policies name.
const (
	table     = "${KeywardTable.Arn}"
	keyPart   = "ForAllValues:StringLike dynamodb:LeadingKeys=[KEY#*]"
	ownerPart = "ForAllValues:StringLike dynamodb:LeadingKeys=[OWNER#*]"
	issuerP   = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${AWS::StackName}/issuer"
)

// wantGrants is every grant of every function: one action on one resource per line.
// Widening a policy (an action, a resource, a partition, a dropped condition) changes
// this table, so it shows in review. acceptsRoot is AuthorizerAcceptsRoot=true;
// derived is an empty Issuer (the functions read it from the issuer parameter).
func wantGrants(acceptsRoot, derived bool) map[string][]string {
	issuer := func(g []string) []string {
		if derived {
			g = append(g, "ssm:GetParameter "+issuerP)
		}
		return g
	}
	authorizer := []string{
		// the key, the route table (read only)
		"dynamodb:GetItem " + table + " if ForAllValues:StringLike dynamodb:LeadingKeys=[CONFIG KEY#*]",
		// last use, lockout counters
		"dynamodb:UpdateItem " + table + " if ForAllValues:StringLike dynamodb:LeadingKeys=[KEY#* LOCKOUT#*]",
		// events (auth.failed, key.used)
		"dynamodb:PutItem " + table + " if " + keyPart,
		"secretsmanager:GetSecretValue ${PepperSecret}",
		"secretsmanager:GetSecretValue ${SigningKeysSecret}",
		// limit events
		"events:PutEvents ${ReminderBus.Arn} if StringEquals events:source=[" + sweeper.Defaults().Source + "]",
	}
	if acceptsRoot {
		authorizer = append(authorizer, "secretsmanager:GetSecretValue ${RootSecret}")
	}
	return map[string][]string{
		"AuthorizerFunction": issuer(authorizer),
		"KeysFunction": issuer([]string{
			"dynamodb:GetItem " + table + " if " + keyPart,
			"dynamodb:PutItem " + table + " if " + keyPart,
			"dynamodb:DeleteItem " + table + " if " + keyPart,
			"dynamodb:Query " + table + " if " + keyPart, // a key's events
			"dynamodb:UpdateItem " + table + " if ForAllValues:StringLike dynamodb:LeadingKeys=[KEY#* LOCKOUT#*]",
			"dynamodb:Query " + table + "/index/gsi1 if ForAllValues:StringLike dynamodb:LeadingKeys=[OWNER#*]",
			"dynamodb:Query " + table + "/index/gsi2 if ForAllValues:StringEquals dynamodb:LeadingKeys=[KEYS]",
			"dynamodb:Query " + table + "/index/gsi3 if ForAllValues:StringEquals dynamodb:LeadingKeys=[AUDIT]",
			"dynamodb:Query " + table + "/index/gsi4 if ForAllValues:StringEquals dynamodb:LeadingKeys=[AUDIT KEYS]",
			"secretsmanager:GetSecretValue ${PepperSecret}",
			"secretsmanager:GetSecretValue ${RootSecret}",
			"secretsmanager:GetSecretValue ${SigningKeysSecret}",
			// owner limits and their events
			"dynamodb:GetItem " + table + " if " + ownerPart,
			"dynamodb:PutItem " + table + " if " + ownerPart,
			"dynamodb:UpdateItem " + table + " if " + ownerPart,
			"dynamodb:DeleteItem " + table + " if " + ownerPart,
			"events:PutEvents ${ReminderBus.Arn} if StringEquals events:source=[" + sweeper.Defaults().Source + "]",
		}),
		"TokenFunction": issuer([]string{
			"dynamodb:GetItem " + table + " if ForAllValues:StringLike dynamodb:LeadingKeys=[KEY#* RT#*]",
			"dynamodb:PutItem " + table + " if " + keyPart,
			"dynamodb:UpdateItem " + table + " if ForAllValues:StringLike dynamodb:LeadingKeys=[KEY#* LOCKOUT#* RT#*]",
			"dynamodb:BatchWriteItem " + table + " if ForAllValues:StringLike dynamodb:LeadingKeys=[KEY#* RT#*]",
			"secretsmanager:GetSecretValue ${PepperSecret}",
			"secretsmanager:GetSecretValue ${SigningKeysSecret}",
			"events:PutEvents ${ReminderBus.Arn} if StringEquals events:source=[" + sweeper.Defaults().Source + "]",
		}),
		"SweeperFunction": {
			"dynamodb:Query " + table + "/index/due if ForAllValues:StringLike dynamodb:LeadingKeys=[DUE#*]",
			"dynamodb:GetItem " + table + " if " + keyPart,
			"dynamodb:PutItem " + table + " if " + keyPart,
			"dynamodb:UpdateItem " + table + " if " + keyPart,
			"dynamodb:ConditionCheckItem " + table + " if " + keyPart,
			"events:PutEvents ${ReminderBus.Arn} if StringEquals events:source=[" + sweeper.Defaults().Source + "]",
			"sns:Publish ${ReminderTopic}",
		},
		// The console serves embedded files: no table, no secret, nothing.
		"ConsoleFunction": {},
		"SigningKeyRotationFunction": {
			"secretsmanager:DescribeSecret ${SigningKeysSecret}",
			"secretsmanager:GetSecretValue ${SigningKeysSecret}",
			"secretsmanager:PutSecretValue ${SigningKeysSecret}",
			"secretsmanager:UpdateSecretVersionStage ${SigningKeysSecret}",
		},
	}
}

// The partitions the policies name are the ones the code writes (those it exports).
func TestLeadingKeysMatchTheCode(t *testing.T) {
	for _, tt := range []struct{ code, pattern string }{
		{store.KeyPK("k1"), "KEY#*"},
		{store.RoutesPK, "CONFIG"},
		{store.DuePK("k1"), "DUE#*"},
	} {
		if ok, _ := path.Match(tt.pattern, tt.code); !ok {
			t.Errorf("the code's partition %q is not the policies' %q", tt.code, tt.pattern)
		}
	}
	for _, pk := range store.DueShardPKs() {
		if ok, _ := path.Match("DUE#*", pk); !ok {
			t.Errorf("due shard %q is not DUE#*", pk)
		}
	}
}

// grantSettings are the parameter values the grants are checked under.
var grantSettings = []struct {
	name                 string
	params               map[string]string
	acceptsRoot, derived bool
}{
	{"defaults", nil, false, true},
	{"root at the authorizer, custom issuer", map[string]string{
		"AuthorizerAcceptsRoot": "true", "Issuer": "https://auth.example.com",
	}, true, false},
}

// diffGrants reports every grant missing from got and every extra one, by function.
func diffGrants(t *testing.T, got map[string][]Grant, want map[string][]string) {
	t.Helper()
	for fn := range got {
		if _, ok := want[fn]; !ok {
			t.Errorf("%s: a function the grants table does not know; add it", fn)
		}
	}
	for fn, lines := range want {
		g, ok := got[fn]
		if !ok {
			t.Errorf("%s: not a function of the template", fn)
			continue
		}
		have := make([]string, len(g))
		for i, x := range g {
			have[i] = x.String()
		}
		differ := false
		for _, l := range lines {
			if !slices.Contains(have, l) {
				t.Errorf("%s lacks grant: %s", fn, l)
				differ = true
			}
		}
		for _, h := range have {
			if !slices.Contains(lines, h) {
				t.Errorf("%s has a grant the table does not: %s", fn, h)
				differ = true
			}
		}
		if !differ && len(have) != len(lines) {
			t.Errorf("%s: %d grants, the table lists %d: one is granted twice", fn, len(have), len(lines))
		}
	}
}

func TestFunctionGrants(t *testing.T) {
	tmpl := loadRepoTemplate(t)
	for _, s := range grantSettings {
		t.Run(s.name, func(t *testing.T) {
			got, err := tmpl.FunctionGrants(s.params)
			if err != nil {
				t.Fatal(err)
			}
			diffGrants(t, got, wantGrants(s.acceptsRoot, s.derived))
		})
	}
}

// No grant may come from outside the functions' Policies, where the table sees it.
func TestNoIAMOutsideFunctionPolicies(t *testing.T) {
	tmpl := loadRepoTemplate(t)
	for _, r := range tmpl.Resources() {
		if strings.HasPrefix(r.Type, "AWS::IAM::") || r.Type == "AWS::Serverless::Connector" {
			t.Errorf("%s (%s): grants outside the functions' Policies escape the grants table", r.LogicalID, r.Type)
		}
		if _, ok := r.Properties["Connectors"]; ok {
			t.Errorf("%s: Connectors add grants the grants table does not see", r.LogicalID)
		}
	}
}

const policyTemplate = `
Conditions:
  On: !Equals [!Ref Flag, "yes"]
Parameters:
  Flag: {Type: String, Default: "no"}
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:Query]
              Resource: [!GetAtt Table.Arn, !Sub "${Table.Arn}/index/*"]
              Condition:
                ForAllValues:StringLike: {dynamodb:LeadingKeys: ["B#*", "A#*"]}
                Bool: {aws:SecureTransport: "true"}
            - !If [On, {Effect: Allow, Action: "s3:GetObject", Resource: "*"}, !Ref AWS::NoValue]
`

func TestFunctionGrantsParse(t *testing.T) {
	tmpl, err := Parse([]byte(policyTemplate))
	if err != nil {
		t.Fatal(err)
	}
	cond := " if Bool aws:SecureTransport=[true] and ForAllValues:StringLike dynamodb:LeadingKeys=[A#* B#*]"
	base := []string{
		"dynamodb:GetItem ${Table.Arn}" + cond,
		"dynamodb:GetItem ${Table.Arn}/index/*" + cond,
		"dynamodb:Query ${Table.Arn}" + cond,
		"dynamodb:Query ${Table.Arn}/index/*" + cond,
	}
	for _, tt := range []struct {
		flag string
		want []string
	}{
		{"no", base},
		{"yes", append(slices.Clone(base), "s3:GetObject *")},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			got, err := tmpl.FunctionGrants(map[string]string{"Flag": tt.flag})
			if err != nil {
				t.Fatal(err)
			}
			diffGrants(t, got, map[string][]string{"Fn": tt.want})
		})
	}

	// Policies whose statements the template does not show are refused, not skipped.
	for name, policy := range map[string]string{
		"managed policy":  "- AmazonDynamoDBFullAccess",
		"policy template": "- DynamoDBCrudPolicy: {TableName: !Ref Table}",
		"not action":      "- Statement: [{Effect: Allow, NotAction: s3:DeleteObject, Resource: '*'}]",
	} {
		t.Run(name, func(t *testing.T) {
			src := "Resources:\n  Table: {Type: AWS::DynamoDB::Table}\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Policies:\n        " + policy + "\n"
			tmpl, err := Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if g, err := tmpl.FunctionGrants(nil); err == nil {
				t.Errorf("FunctionGrants = %v, want an error", g)
			}
		})
	}
}

// TestTranslatedRoles translates template.yaml with aws-sam-translator (as sam deploy
// does) and checks that each function's generated role holds exactly the grants of its
// Policies, plus the two managed policies SAM always adds, and that the only other role
// is the scheduler's, which may invoke the sweeper and nothing else.
func TestTranslatedRoles(t *testing.T) {
	translated := translation(t)
	roleOf := map[string]string{} // function -> role
	for _, r := range translated.Resources() {
		if r.Type == "AWS::Lambda::Function" {
			roleOf[r.LogicalID] = getAttTarget(r.Properties["Role"])
		}
	}
	managed := []string{
		"arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess", // Tracing: Active
		"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
	}
	for _, s := range grantSettings {
		t.Run(s.name, func(t *testing.T) {
			roles, err := translated.Roles(s.params)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]Grant{}
			for fn, role := range roleOf {
				r, ok := roles[role]
				if !ok {
					t.Errorf("%s: role %q is not in the translation", fn, role)
					continue
				}
				got[fn] = r.Grants
				if !slices.Equal(r.ManagedPolicies, managed) {
					t.Errorf("%s: managed policies %v, want %v", fn, r.ManagedPolicies, managed)
				}
				if !slices.Equal(r.Principals, []string{"lambda.amazonaws.com"}) {
					t.Errorf("%s: role assumed by %v", fn, r.Principals)
				}
				delete(roles, role)
			}
			diffGrants(t, got, wantGrants(s.acceptsRoot, s.derived))
			sched, ok := roles["SweeperFunctionSweepRole"]
			delete(roles, "SweeperFunctionSweepRole")
			if !ok || fmt.Sprint(sched.Grants) != fmt.Sprint([]Grant{{Effect: "Allow", Action: "lambda:InvokeFunction", Resource: "${SweeperFunction.Arn}"}}) ||
				!slices.Equal(sched.Principals, []string{"scheduler.amazonaws.com"}) || len(sched.ManagedPolicies) != 0 {
				t.Errorf("the sweep schedule's role: %+v, want scheduler.amazonaws.com invoking SweeperFunction only", sched)
			}
			for id, r := range roles {
				t.Errorf("role %s (%+v): no function uses it and the test does not know it", id, r)
			}
		})
	}
}
