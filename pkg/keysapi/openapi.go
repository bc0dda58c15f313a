package keysapi

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/httpapi"

	"github.com/keyward/keyward/pkg/apidoc"
)

// openAPI answers GET /v1/openapi.json: the API's description, to anyone.
func (a *API) openAPI(_ context.Context, _ *events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
	return httpapi.Response{Status: http.StatusOK, Raw: apidoc.JSON, Cache: "public, max-age=300"}, nil
}
