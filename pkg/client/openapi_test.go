package client

import (
	"encoding/json"
	"reflect"
	"sort"
	"testing"

	"github.com/keyward/keyward/pkg/openapi"
)

// operations maps every operationId of openapi.yaml to the Client method that calls
// it, or to "" with the reason it has none.
var operations = map[string]string{
	"createKey":       "CreateKey",
	"listKeys":        "ListKeys",
	"getKey":          "GetKey",
	"updateKey":       "UpdateKey",
	"deleteKey":       "DeleteKey",
	"rotateKey":       "RotateKey",
	"finishRotation":  "FinishRotation",
	"revokeKey":       "RevokeKey",
	"batchDeleteKeys": "BatchDelete",
	"verifyKey":       "VerifyKey",
	"listKeyEvents":   "KeyEvents",
	"listAudit":       "Audit",
	"getKeyUsage":     "KeyUsage",
	"getOwnerLimits":  "OwnerLimits",
	"putOwnerLimits":  "PutOwnerLimits",
	"whoami":          "Whoami",
	"token":           "ClientCredentialsToken",
	"tokenAlias":      "", // the same endpoint under a second path; the client uses the first
	"revokeToken":     "RevokeToken",
	"introspect":      "Introspect",
	"discovery":       "Discovery",
	"jwks":            "", // for verifiers of tokens, not for callers of the API
	"openapi":         "", // this document
	"console":         "", // the web console's page, for browsers
	"consoleFile":     "", // the web console's files, for browsers
}

// TestCoversOpenAPI: every operation of openapi.yaml has a Client method (or a reason
// not to), so that a route added to the contract shows here until the client has it.
func TestCoversOpenAPI(t *testing.T) {
	data, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var missing []string
	for _, item := range doc.Paths {
		for _, raw := range item {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &op) != nil || op.OperationID == "" {
				continue // path-level parameters
			}
			seen[op.OperationID] = true
			method, ok := operations[op.OperationID]
			if !ok {
				missing = append(missing, op.OperationID)
				continue
			}
			if method != "" {
				if _, ok := reflect.TypeOf(&Client{}).MethodByName(method); !ok {
					t.Errorf("%s: Client has no method %s", op.OperationID, method)
				}
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("openapi.yaml operation %s has no Client method", m)
	}
	for id := range operations {
		if !seen[id] {
			t.Errorf("operation %s is no longer in openapi.yaml", id)
		}
	}
}
