package keysapi

import (
	"context"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/httpapi"

	"github.com/keyward/keyward/pkg/openapi"
)

// openAPIDocument is openapi.yaml as JSON, converted once per process.
var openAPIDocument = sync.OnceValues(openapi.JSON)

// openAPI answers GET /v1/openapi.json: the API's description, to anyone.
func (a *API) openAPI(_ context.Context, _ *events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
	doc, err := openAPIDocument()
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusOK, Raw: doc, Cache: "public, max-age=300"}, nil
}
