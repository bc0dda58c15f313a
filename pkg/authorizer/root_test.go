package authorizer_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/authorizer"
	"github.com/keyward/keyward/pkg/testenv"
)

// TestRootRefusedByDefault: the root credential, on a route any valid credential may
// call, is an invalid credential for every event kind unless the deployment accepts
// it; the root checker is not even wired in, so the secret is never read here.
func TestRootRefusedByDefault(t *testing.T) {
	h := newHarness(t)
	if h.a.Verifier.Root != nil {
		t.Fatal("an authorizer that refuses the root credential still holds a root checker")
	}
	// Its own copy: the function's shared Verifier keeps its root checker, and gets
	// no token key cache.
	if h.deps.Verifier.Root == nil || h.deps.Verifier.TokenKeys != nil || h.a.Verifier == h.deps.Verifier {
		t.Fatal("authorizer.New changed the shared Verifier")
	}
	_, key := h.newKey([]string{"orders:read"}, nil)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			v := h.call(fixture(t, k.fixture, h.env.RootKey))
			if !v.refusedInvalid(k.name) {
				t.Fatalf("root credential: want an invalid-credential refusal, got %+v", v)
			}
			if v.ctx["key_id"] != nil || v.ctx["auth"] != nil {
				t.Fatalf("a refused root carries a principal: %v", v.ctx)
			}
			if v := h.call(fixture(t, k.fixture, key)); !v.allowed {
				t.Fatalf("an API key is refused beside it: %+v", v)
			}
		})
	}
}

// TestRootAcceptedWhenConfigured: AUTHORIZER_ACCEPTS_ROOT=true lets the root through,
// as root, on every kind; without it, an Authorizer handed a Verifier that does
// recognise the root still refuses it.
func TestRootAcceptedWhenConfigured(t *testing.T) {
	env := testenv.New(t)
	h, err := harnessWith(t, env, testenv.NewClock(), env.RootSecretID,
		authorizer.Config{RouteScopes: routes, ReloadEvery: 30 * time.Second, AcceptsRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	accepting := h.a
	refusing := *accepting
	refusing.AcceptsRoot = false
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			h.a = accepting
			v := h.call(fixture(t, k.fixture, env.RootKey))
			if !v.allowed || v.ctx["auth"] != "root" || v.ctx["key_id"] != "root" {
				t.Fatalf("accepted root: %+v", v)
			}
			h.a = &refusing
			if v := h.call(fixture(t, k.fixture, env.RootKey)); !v.refusedInvalid(k.name) {
				t.Fatalf("AcceptsRoot false with a root-aware verifier: %+v", v)
			}
		})
	}
}

// TestRootSecretOptional: an authorizer configured without ROOT_SECRET_ID starts and
// serves keys; accepting the root then is a cold-start error, not a silent refusal.
func TestRootSecretOptional(t *testing.T) {
	env := testenv.New(t)
	h, err := harnessWith(t, env, testenv.NewClock(), "", authorizer.Config{RouteScopes: routes, ReloadEvery: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, key := h.newKey([]string{"orders:read"}, nil)
	if v := h.call(fixture(t, "authorizer-http", key)); !v.allowed {
		t.Fatalf("API key refused without a root secret: %+v", v)
	}
	if v := h.call(fixture(t, "authorizer-http", env.RootKey)); !v.refusedInvalid("http") {
		t.Fatalf("root without a root secret: %+v", v)
	}
	if _, err := harnessWith(t, env, testenv.NewClock(), "", authorizer.Config{RouteScopes: routes, AcceptsRoot: true}); err == nil {
		t.Fatal("AcceptsRoot without ROOT_SECRET_ID started")
	}
}

func TestConfigAcceptsRootIsStrict(t *testing.T) {
	cases := []struct {
		value   string
		want    bool
		wantErr bool
	}{
		{"", false, false},
		{"false", false, false},
		{"true", true, false},
		{"TRUE", false, true},
		{"True", false, true},
		{"1", false, true},
		{"yes", false, true},
		{" true", false, true},
		{"0", false, true},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			t.Setenv("AUTHORIZER_ACCEPTS_ROOT", c.value)
			cfg, err := authorizer.ConfigFromEnv()
			if (err != nil) != c.wantErr {
				t.Fatalf("AUTHORIZER_ACCEPTS_ROOT=%q: err %v, want error %v", c.value, err, c.wantErr)
			}
			if err == nil && cfg.AcceptsRoot != c.want {
				t.Fatalf("AUTHORIZER_ACCEPTS_ROOT=%q: AcceptsRoot %v, want %v", c.value, cfg.AcceptsRoot, c.want)
			}
		})
	}
}
