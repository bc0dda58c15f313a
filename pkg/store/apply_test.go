package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

func applyStore(t *testing.T) *store.Dynamo {
	env := testenv.New(t)
	ddb := dynamodb.NewFromConfig(env.AWS, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	return store.New(ddb, env.Table, 24*time.Hour)
}

func createKey(t *testing.T, st *store.Dynamo, id string) {
	t.Helper()
	k := key(func(k *store.Key) { k.ID = id })
	ev := &store.Event{Time: t0, Type: store.EventKeyCreated, KeyID: id, Owner: k.Owner, Actor: "root", Detail: k.Create(t0)}
	if err := st.CreateKey(context.Background(), k, ev); err != nil {
		t.Fatal(err)
	}
}

// TestApplyConcurrent: 8 writers each apply 5 changes to one key at once. Every
// change lands exactly once (no lost update), the version ends at 1 + 40, and each
// change's event records the version it wrote, each version once.
func TestApplyConcurrent(t *testing.T) {
	st := applyStore(t)
	ctx := context.Background()
	const id = "applyconcurrent1"
	createKey(t, st, id)
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				tag := fmt.Sprintf("w%d-%d", w, i)
				_, err := st.Apply(ctx, id, func(k *store.Key) (*store.Event, error) {
					k.Metadata[tag] = true
					return &store.Event{Time: t0.Add(time.Minute), Type: store.EventKeyUpdated, KeyID: id, Owner: k.Owner, Actor: "t",
						Detail: map[string]any{"fields": []string{"metadata"}}}, nil
				})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	k, err := st.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != 1+writers*each || len(k.Metadata) != 1+writers*each || !k.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("version %d, %d metadata entries, updated %v", k.Version, len(k.Metadata), k.UpdatedAt)
	}
	page, err := st.ListEvents(ctx, id, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range page.Items {
		if e.Type == store.EventKeyUpdated {
			seen[fmt.Sprint(e.Detail["version"])] = true
		}
	}
	for v := 2; v <= 1+writers*each; v++ {
		if !seen[fmt.Sprint(v)] {
			t.Fatalf("no event records version %d (%d events)", v, len(seen))
		}
	}
}

func TestApplyOutcomes(t *testing.T) {
	st := applyStore(t)
	ctx := context.Background()
	const id = "applyoutcomes001"
	createKey(t, st, id)

	t.Run("missing key", func(t *testing.T) {
		called := false
		_, err := st.Apply(ctx, "applynosuchkey01", func(*store.Key) (*store.Event, error) { called = true; return nil, nil })
		if !errors.Is(err, store.ErrNotFound) || called {
			t.Fatalf("Apply on a missing key = %v (decide called: %v)", err, called)
		}
		if err := st.ApplyDelete(ctx, "applynosuchkey01", nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ApplyDelete on a missing key = %v", err)
		}
	})
	t.Run("nothing to change writes nothing", func(t *testing.T) {
		k, err := st.Apply(ctx, id, func(k *store.Key) (*store.Event, error) { k.Name = "not written"; return nil, nil })
		if err != nil || k.Version != 1 {
			t.Fatalf("Apply = %v, version %d", err, k.Version)
		}
		if stored, _ := st.GetKey(ctx, id); stored.Version != 1 || stored.Name != "n" {
			t.Fatalf("stored %d %q", stored.Version, stored.Name)
		}
	})
	t.Run("refusal is returned as is and writes nothing", func(t *testing.T) {
		refused := errors.New("refused")
		if _, err := st.Apply(ctx, id, func(k *store.Key) (*store.Event, error) { k.Name = "x"; return nil, refused }); err != refused {
			t.Fatalf("Apply = %v", err)
		}
		if err := st.ApplyDelete(ctx, id, func(*store.Key) (*store.Event, error) { return nil, refused }); err != refused {
			t.Fatalf("ApplyDelete = %v", err)
		}
		if stored, err := st.GetKey(ctx, id); err != nil || stored.Version != 1 || stored.Name != "n" {
			t.Fatalf("stored %v %v", stored, err)
		}
	})
	t.Run("a writer that always loses gives up", func(t *testing.T) {
		// Every decision is overtaken by another change of the key before it is written.
		var attempts atomic.Int64
		_, err := st.Apply(ctx, id, func(k *store.Key) (*store.Event, error) {
			attempts.Add(1)
			other := *k
			other.Bump(t0)
			if err := st.UpdateKey(ctx, &other, &store.Event{Time: t0, Type: store.EventKeyUpdated, KeyID: id, Actor: "other"}); err != nil {
				return nil, err
			}
			return &store.Event{Time: t0, Type: store.EventKeyUpdated, KeyID: id, Actor: "loser"}, nil
		})
		if !errors.Is(err, store.ErrTooManyConflicts) || attempts.Load() < 2 {
			t.Fatalf("Apply = %v after %d attempts", err, attempts.Load())
		}
	})
	t.Run("delete decides on the key as read", func(t *testing.T) {
		var versions []int64
		err := st.ApplyDelete(ctx, id, func(k *store.Key) (*store.Event, error) {
			versions = append(versions, k.Version)
			if len(versions) == 1 {
				// A change lands between the read and the delete: decide again.
				other := *k
				other.Bump(t0)
				if err := st.UpdateKey(ctx, &other, &store.Event{Time: t0, Type: store.EventKeyUpdated, KeyID: id, Actor: "other"}); err != nil {
					return nil, err
				}
			}
			return &store.Event{Time: t0, Type: store.EventKeyDeleted, KeyID: id, Actor: "t"}, nil
		})
		if err != nil || len(versions) != 2 || versions[1] != versions[0]+1 {
			t.Fatalf("ApplyDelete = %v, decided on versions %v", err, versions)
		}
		if _, err := st.GetKey(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("key still there: %v", err)
		}
	})
}
