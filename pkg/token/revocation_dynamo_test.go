package token_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
	"github.com/keyward/keyward/pkg/token"
)

// fixedKey answers every key read with one key as read.
type fixedKey struct{ k *store.Key }

func (f fixedKey) GetKey(context.Context, string) (*store.Key, error) { return f.k, nil }

// revokedBudget is what the revoked-token memory may add to a key item, by the rules
// of testenv.ItemSize: the map's overhead, MaxRevokedJTIs entries of a 22-character
// jti and a number of at most 10 digits (6 bytes) plus one byte each, and the two
// numbers revoked_iat and tokens_not_before with their names.
const revokedBudget = 3 + store.MaxRevokedJTIs*(1+22+6) + len("revoked_iat") + 6 + len("tokens_not_before") + 6

// TestRevocationsBounded makes 10,000 RFC 7009 revocations of one key's tokens, from
// 16 workers at once (some planning on a stale read of the key), while a management
// writer keeps changing the key. First 2,000 tokens spread out in time, so that
// pruning expired entries keeps the list short without any watermark; then 8,000 in
// a burst, past the cap. Throughout, the key item stays within its size when created
// plus revokedBudget, and each token is refused once its revocation returns; at the
// end every unexpired revoked token is refused as revoked, the management writes all
// landed, and a token issued after the last revocation is accepted.
func TestRevocationsBounded(t *testing.T) {
	env := testenv.New(t)
	ddb := dynamodb.NewFromConfig(env.AWS, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	st := store.New(ddb, env.Table, 24*time.Hour)
	td := token.NewDynamo(st)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

	const id = "revokebound"
	key := &store.Key{
		ID: id, Name: "bulk", Description: "even", Owner: "alice@example.com", Scopes: []string{"orders:read"},
		Status: store.StatusActive, Start: "kw_test_revo", CreatedAt: t0, UpdatedAt: t0, CreatedBy: "root",
		ExpiresAt: t0.Add(90 * 24 * time.Hour), Metadata: map[string]any{}, AllowedCIDRs: []string{}, Version: 1,
		Secret: store.Secret{N: 1, Hash: make([]byte, 32), Pepper: "p1"},
	}
	if err := st.CreateKey(ctx, key, &store.Event{Time: t0, Type: store.EventKeyCreated, KeyID: id, Actor: "root"}); err != nil {
		t.Fatal(err)
	}
	rawItem := func() map[string]types.AttributeValue {
		out, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(env.Table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.KeyPK(id)}, "sk": &types.AttributeValueMemberS{Value: "KEY"}}})
		if err != nil {
			t.Error(err)
			return nil
		}
		return out.Item
	}
	bound := testenv.ItemSize(rawItem()) + revokedBudget

	jwk, err := jwks.Generate(jwks.EdDSA, t0)
	if err != nil {
		t.Fatal(err)
	}
	keys := testenv.StaticKeys{Keys: &jwks.Set{Keys: []jwks.Key{{JWK: jwk}}}}
	const lifetime = 30 * time.Second
	signer := &token.Signer{Keys: keys, Audience: "keyward", Issuer: "https://keyward.test", Lifetime: lifetime}
	verifier := &token.Verifier{Keys: keys, Audience: "keyward", Issuer: "https://keyward.test"}
	verify := func(tok string, k *store.Key, at time.Time) auth.Reason {
		v := &auth.Verifier{Tokens: verifier, TokenKeys: fixedKey{k}, Now: func() time.Time { return at }}
		d, err := v.Verify(ctx, tok, "192.0.2.1")
		if err != nil {
			t.Error(err)
		}
		return d.Reason
	}

	const spread, burst = 2000, 8000
	type issued struct {
		tok  string
		at   time.Time // issued
		exp  time.Time
		jti  string
		iatS time.Time
	}
	toks := make([]issued, spread+burst)
	for i := range toks {
		// Spread: one every 2 s, so about 30 live revocations at a time (lifetime 30 s
		// plus 30 s leeway). Burst: 20 a second.
		at := t0.Add(time.Duration(min(i, spread)) * 2 * time.Second)
		if i > spread {
			at = at.Add(time.Duration(i-spread) * 50 * time.Millisecond)
		}
		a, err := signer.Sign(ctx, token.Grant{KeyID: id, JTI: token.NewJTI(), Scopes: scope.MustParseList([]string{"orders:read"}), SecretN: 1}, at)
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = issued{tok: a.Token, at: at, exp: a.ExpiresAt, jti: a.JTI, iatS: a.IssuedAt}
	}

	// present is the simulated time, which only moves forward: each revocation happens
	// at the present, just after its token was issued.
	var present atomic.Int64
	now := func() time.Time { return time.Unix(0, present.Load()) }
	var maxSize, maxEntries atomic.Int64
	var watermarkInSpread atomic.Bool
	var retried, checked atomic.Int64

	// The management writer: a PATCH of the description, retried on a lost race.
	stop := make(chan struct{})
	var patches atomic.Int64
	var mgmt sync.WaitGroup
	mgmt.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			k, err := st.GetKey(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			k.Version++
			k.Description = map[string]string{"even": "odd!", "odd!": "even"}[k.Description]
			err = st.UpdateKey(ctx, k, &store.Event{Time: now(), Type: store.EventKeyUpdated, KeyID: id, Actor: "root"})
			switch {
			case err == nil:
				patches.Add(1)
			case !errors.Is(err, store.ErrConflict):
				t.Error(err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	// checkItem reads the key item and holds it to the bound; it returns it as a key.
	checkItem := func(when string) *store.Key {
		item := rawItem()
		size := testenv.ItemSize(item)
		var k store.Key
		if err := attributevalue.UnmarshalMap(item, &k); err != nil {
			t.Error(err)
			return nil
		}
		if size > bound || len(k.RevokedJTIs) > store.MaxRevokedJTIs {
			t.Errorf("%s the key item is %d bytes (bound %d) with %d listed tokens", when, size, bound, len(k.RevokedJTIs))
		}
		maxSize.Store(max(maxSize.Load(), int64(size)))
		maxEntries.Store(max(maxEntries.Load(), int64(len(k.RevokedJTIs))))
		return &k
	}
	// The monitor samples the item throughout, independently of the workers.
	mgmt.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				checkItem("during the run")
			}
		}
	})

	work := make(chan int)
	var workers sync.WaitGroup
	for range 16 {
		workers.Go(func() {
			var k *store.Key
			for n := 0; ; n++ {
				i, ok := <-work
				if !ok {
					return
				}
				tk := toks[i]
				// The key as read by one authentication in five: most plans are made on
				// a stale read, which must neither break the bound nor lose a revocation.
				if n%5 == 0 {
					if k, err = st.GetKey(ctx, id); err != nil {
						t.Error(err)
						return
					}
				}
				ev := &store.Event{Time: now(), Type: store.EventTokenRevoked, KeyID: id, Actor: id, Detail: map[string]any{"jti": tk.jti}}
				for attempt := 0; ; attempt++ {
					err := td.RevokeAccess(ctx, k, tk.jti, tk.iatS, tk.exp, now(), ev)
					if err == nil {
						break
					}
					// Not done, and said so: the client gets a 5xx and revokes again.
					if !errors.Is(err, store.ErrConflict) || attempt == 5 {
						t.Errorf("revoke %d: %v", i, err)
						return
					}
					retried.Add(1)
					if k, err = st.GetKey(ctx, id); err != nil {
						t.Error(err)
						return
					}
				}
				// One revocation in four is checked as soon as it returns.
				if n%4 != 0 {
					continue
				}
				after := checkItem(fmt.Sprintf("after revocation %d", i))
				if after == nil {
					return
				}
				// A watermark made of spread tokens (not one another worker set later, in the
				// burst, while this one was slow) means expired entries were not pruned.
				if wm := after.TokensNotBefore; i < spread && wm != 0 && wm <= toks[spread-1].iatS.Unix() {
					watermarkInSpread.Store(true)
				}
				at := now()
				if r := verify(tk.tok, after, at); r != auth.Revoked && !(r == auth.Expired && at.After(tk.exp.Add(30*time.Second))) {
					t.Errorf("token %d refused as %q (want revoked) at %v, just after its revocation returned", i, r, at.Sub(tk.at))
				}
				checked.Add(1)
			}
		})
	}
	for i, tk := range toks {
		present.Store(max(present.Load(), tk.at.Add(10*time.Millisecond).UnixNano()))
		if t.Failed() {
			break
		}
		work <- i
	}
	close(work)
	workers.Wait()
	close(stop)
	mgmt.Wait()
	checkItem("at the end")
	if t.Failed() {
		return
	}
	t.Logf("key item: %d bytes when created, at most %d during the run (bound %d), at most %d listed tokens; %d revocations checked as they returned; %d reported a lost race and were made again; %d management writes",
		bound-revokedBudget, maxSize.Load(), bound, maxEntries.Load(), checked.Load(), retried.Load(), patches.Load())
	if watermarkInSpread.Load() {
		t.Error("a watermark was set while at most ~30 revocations were live: expired entries are not pruned")
	}

	final, err := st.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if final.TokensNotBefore == 0 {
		t.Error("8,000 revocations in a burst set no watermark")
	}
	if final.Version != 1+patches.Load() || patches.Load() == 0 {
		t.Errorf("version %d after %d management writes: a write was lost or doubled", final.Version, patches.Load())
	}
	end := now()
	revokedAtEnd := 0
	for i, tk := range toks {
		r := verify(tk.tok, final, end)
		switch {
		case r == auth.Accepted:
			t.Fatalf("revoked token %d accepted at the end", i)
		case !end.After(tk.exp.Add(30*time.Second)) && r != auth.Revoked:
			t.Fatalf("unexpired revoked token %d refused as %q, want revoked", i, r)
		case r == auth.Revoked:
			revokedAtEnd++
		}
	}
	if revokedAtEnd < 1000 {
		t.Fatalf("only %d tokens still unexpired at the end: the check says little", revokedAtEnd)
	}
	later := end.Add(time.Second)
	a, err := signer.Sign(ctx, token.Grant{KeyID: id, JTI: token.NewJTI(), Scopes: scope.MustParseList([]string{"orders:read"}), SecretN: 1}, later)
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(a.Token, final, later); r != auth.Accepted {
		t.Fatalf("a token issued after the last revocation is refused: %q", r)
	}
	fmt.Printf("revocations: %d, key item at most %d bytes (bound %d), %d refused as revoked at the end\n", len(toks), maxSize.Load(), bound, revokedAtEnd)
}
