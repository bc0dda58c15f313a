package keysapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/store"
)

func (a *API) delete(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := a.deleteOne(ctx, c, id, map[string]any{}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusNoContent}, nil
}

// deleteOne deletes key id if the rule allows it on the key as read, and only that
// version of it: a key changed in between is read and decided again.
func (a *API) deleteOne(ctx context.Context, c *call, id string, detail map[string]any) error {
	err := a.store.ApplyDelete(ctx, id, func(k *store.Key) (*store.Event, error) {
		if err := c.decide(authz.Delete, id, k, nil); err != nil {
			return nil, err
		}
		return c.event(store.EventKeyDeleted, id, k.Owner, detail), nil
	})
	return keyError(id, err)
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
func (a *API) batchDelete(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	var in batchDeleteRequest
	if err := httpapi.DecodeJSON(c.req, &in, false); err != nil {
		return httpapi.Response{}, err
	}
	ids, err := batchIDs(in.IDs)
	if err != nil {
		return httpapi.Response{}, err
	}
	found := a.deleteAll(ctx, c, ids)
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
			return httpapi.Response{}, err
		}
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

// batchIDs checks a batch's ids and returns them sorted, without repeats.
func batchIDs(ids []string) ([]string, error) {
	if len(ids) == 0 || len(ids) > maxBatch {
		return nil, badRequest("invalid_ids", "ids must hold 1 to %d key ids.", maxBatch)
	}
	for _, id := range ids {
		if !idPattern.MatchString(id) {
			return nil, badRequest("invalid_ids", "%q is not a key id.", id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// deleteAll deletes each of ids (deleteOne), batchWorkers at a time, and returns
// each one's outcome.
func (a *API) deleteAll(ctx context.Context, c *call, ids []string) []error {
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
	return found
}
