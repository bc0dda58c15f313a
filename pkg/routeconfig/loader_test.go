package routeconfig

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// TestLoaderItemWinsPerRoute: the item's pattern replaces the environment's for the
// same route however either is spelled, and an item naming one route twice is
// refused rather than resolved by map order.
func TestLoaderItemWinsPerRoute(t *testing.T) {
	env := testenv.New(t)
	ctx := context.Background()
	st := store.New(env.DDB, env.Table, time.Hour)
	if err := Put(ctx, st, map[string]string{"get /orders/{id}/": "orders:admin"}); err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(ctx, st, `{"GET /orders/{id}": "orders:read", "GET /v1/whoami": ""}`, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := l.Current(ctx)
	if r, ok := tab.Match("GET", "/orders/1"); !ok || r.Scope != "orders:admin" || len(tab.Rules()) != 2 {
		t.Fatalf("Match = %+v, %v; rules %+v", r, ok, tab.Rules())
	}

	// Put refuses such a map; a hand-written item is refused at load.
	if err := Put(ctx, st, map[string]string{"GET /a": "x", "get /a": "y"}); err == nil {
		t.Fatal("Put accepted two patterns for one route")
	}
	if err := st.PutRoutes(ctx, map[string]string{"GET /a": "x", "get /a": "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLoader(ctx, st, "", time.Hour); err == nil {
		t.Fatal("NewLoader accepted an item with two patterns for one route")
	}
}
