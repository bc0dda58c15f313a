package httpapi

import (
	"net/http"
	"slices"
	"sort"

	"github.com/aws/aws-lambda-go/events"
)

// CheckQuery refuses a query parameter that is not in allowed: 400 unknown_parameter
// naming the first unknown one in sorted order, so the same request always gets the
// same error.
func CheckQuery(req *events.APIGatewayV2HTTPRequest, allowed ...string) error {
	names := make([]string, 0, len(req.QueryStringParameters))
	for name := range req.QueryStringParameters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			return Errorf(http.StatusBadRequest, "unknown_parameter", "Unknown query parameter %q.", name)
		}
	}
	return nil
}
