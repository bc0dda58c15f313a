package keysapi

import (
	"context"
	"net/http"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keyward/keyward/pkg/openapi"
)

// openAPIDocument is openapi.yaml as JSON, converted once per process.
var openAPIDocument = sync.OnceValues(openapi.JSON)

// openAPI answers GET /v1/openapi.json: the API's description, to anyone.
func (a *API) openAPI(_ context.Context, _ *events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	doc, err := openAPIDocument()
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers: map[string]string{
			"Content-Type":  "application/json",
			"Cache-Control": "public, max-age=300",
		},
		Body: string(doc),
	}, nil
}
