package keysapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/httpapi"
)

// whoamiView is the answer of GET /v1/whoami.
type whoamiView struct {
	KeyID  string   `json:"key_id"`
	Owner  string   `json:"owner"`
	Scopes []string `json:"scopes"`
	Auth   string   `json:"auth"`
}

// whoami answers who the caller is. Behind the Lambda authorizer (the deployed route)
// it reads the authorizer's context and does no I/O; called without one (a direct
// invoke, or a gateway without the authorizer) it verifies the credential itself, so
// it never answers for an unverified caller.
func (a *API) whoami(ctx context.Context, req *events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
	if az := req.RequestContext.Authorizer; az != nil && az.Lambda != nil {
		str := func(k string) string { s, _ := az.Lambda[k].(string); return s }
		if id := str("key_id"); id != "" {
			return httpapi.JSON(http.StatusOK, whoamiView{
				KeyID: id, Owner: str("owner"), Scopes: nonNil(strings.Fields(str("scopes"))), Auth: str("auth"),
			}), nil
		}
	}
	p, err := Authenticate(ctx, a.verifier, req.Headers, req.RequestContext.HTTP.SourceIP)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, whoamiView{KeyID: p.KeyID, Owner: p.Owner, Scopes: nonNil(p.Scopes.Strings()), Auth: p.Kind}), nil
}
