package keysapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/store"
)

func (a *API) delete(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	if err := checkQuery(c.req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := a.deleteOne(ctx, c, id, map[string]any{}); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}, nil
}

// deleteOne deletes key id if the rule allows it on the key as read, and only that
// version of it: a key changed in between is read and decided again.
func (a *API) deleteOne(ctx context.Context, c *call, id string, detail map[string]any) error {
	return retry(ctx, func() (bool, error) {
		k, err := a.store.GetKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, notFound(id)
		}
		if err != nil {
			return false, err
		}
		if err := c.decide(authz.Delete, id, k, nil); err != nil {
			return false, err
		}
		// Gone or changed in between: read and decide again.
		return lostRace(a.store.DeleteKey(ctx, id, k.Version, c.event(store.EventKeyDeleted, id, k.Owner, detail)))
	})
}

type batchDeleteRequest struct {
	IDs []string `json:"ids"`
}

type batchDeleteResponse struct {
	Deleted   []string `json:"deleted"`
	NotFound  []string `json:"not_found"`
	Forbidden []string `json:"forbidden"`
}

// batchWorkers bounds concurrent deletes so a batch of 100 stays far below the
// table's throughput and the Lambda's connection pool.
const batchWorkers = 8

// batchDelete deletes each id the caller may delete; the others are left alone and
// reported: forbidden if the caller may see the key, not_found if it may not.
func (a *API) batchDelete(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	if err := checkQuery(c.req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var in batchDeleteRequest
	if err := httpapi.DecodeJSON(c.req, &in, false); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if len(in.IDs) == 0 || len(in.IDs) > maxBatch {
		return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_ids", "ids must hold 1 to %d key ids.", maxBatch)
	}
	for _, id := range in.IDs {
		if !idPattern.MatchString(id) {
			return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_ids", "%q is not a key id.", id)
		}
	}
	slices.Sort(in.IDs)
	ids := slices.Compact(in.IDs)
	found := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchWorkers)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i] = a.deleteOne(ctx, c, id, map[string]any{"batch": true})
		}()
	}
	wg.Wait()
	out := batchDeleteResponse{Deleted: []string{}, NotFound: []string{}, Forbidden: []string{}}
	for i, err := range found {
		var he *httpapi.Error
		switch {
		case err == nil:
			out.Deleted = append(out.Deleted, ids[i])
		case errors.As(err, &he) && he.Status == http.StatusNotFound:
			out.NotFound = append(out.NotFound, ids[i])
		case errors.As(err, &he) && he.Status == http.StatusForbidden:
			out.Forbidden = append(out.Forbidden, ids[i])
		default:
			// Deletes are idempotent: the caller retries the whole batch safely.
			return events.APIGatewayV2HTTPResponse{}, err
		}
	}
	return httpapi.JSON(http.StatusOK, out), nil
}
