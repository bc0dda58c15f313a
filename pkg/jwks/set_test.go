package jwks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestParseRefusesWhatIsNotAPrivateSet(t *testing.T) {
	for _, value := range []string{"", "placeholder", `{"keys":[]}`, `[]`} {
		if _, err := Parse(value); !errors.Is(err, ErrNoKeys) {
			t.Errorf("Parse(%q) = %v, want ErrNoKeys", value, err)
		}
	}
	set, err := (*Set)(nil).Rotated(ES256, t0, MinRetention)
	if err != nil {
		t.Fatal(err)
	}
	// The public set is a JWK set too, but nothing can sign with it.
	pub, err := set.PublicJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(string(pub)); err == nil || errors.Is(err, ErrNoKeys) {
		t.Errorf("Parse(public set) = %v, want a refusal of a key without its private half", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	set, err := (*Set)(nil).Rotated(EdDSA, t0, MinRetention)
	if err != nil {
		t.Fatal(err)
	}
	if set, err = set.Rotated(ES256, t0.Add(time.Hour), MinRetention); err != nil {
		t.Fatal(err)
	}
	value, err := set.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(value)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Keys) != 2 || back.Current().KeyID != set.Current().KeyID {
		t.Fatalf("round trip: %d keys, current %s; want 2, %s", len(back.Keys), back.Current().KeyID, set.Current().KeyID)
	}
	if !back.Keys[0].RetiredAt.IsZero() || !back.Keys[1].RetiredAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("retirement times %v, %v; want zero, %v", back.Keys[0].RetiredAt, back.Keys[1].RetiredAt, t0.Add(time.Hour))
	}
	if err := SelfTest(back); err != nil {
		t.Errorf("SelfTest after a round trip: %v", err)
	}
}

// TestRotatedKeepsWhatStillVerifies: the previous key always stays; older ones stay
// while retired less than the retention, which is never under MinRetention.
func TestRotatedKeepsWhatStillVerifies(t *testing.T) {
	set, err := (*Set)(nil).Rotated(ES256, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	first := set.Current().KeyID
	for i := 1; i <= 3; i++ {
		if set, err = set.Rotated(ES256, t0.Add(time.Duration(i)*time.Hour), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Rotated at 1h, 2h, 3h with retention raised to 2h: the keys retired at 3h (the
	// previous one) and 2h stay; the first, retired at 1h, is 2h old and goes.
	if len(set.Keys) != 3 {
		t.Fatalf("%d keys, want 3 (current, previous, one still in retention)", len(set.Keys))
	}
	if _, ok := set.Find(first); ok {
		t.Error("a key retired MinRetention ago is still published")
	}
	for _, k := range set.Public().Keys {
		if !k.IsPublic() || k.Use != "sig" {
			t.Errorf("published key %s: public %v, use %q", k.KeyID, k.IsPublic(), k.Use)
		}
	}
}

func TestGenerate(t *testing.T) {
	for _, alg := range []string{RS256, ES256, EdDSA, ""} {
		k, err := Generate(alg, t0)
		if err != nil {
			t.Fatalf("Generate(%q): %v", alg, err)
		}
		want := alg
		if want == "" {
			want = RS256
		}
		if k.Algorithm != want || !strings.HasPrefix(k.KeyID, "20300101-") || k.IsPublic() {
			t.Errorf("Generate(%q) = alg %s kid %s public %v", alg, k.Algorithm, k.KeyID, k.IsPublic())
		}
		if err := SelfTest(&Set{Keys: []Key{{JWK: k}}}); err != nil {
			t.Errorf("SelfTest(%s): %v", want, err)
		}
	}
	if _, err := Generate("HS256", t0); err == nil {
		t.Error("Generate(HS256): a shared-secret algorithm was accepted")
	}
}

// TestRotationEvent: an event as Secrets Manager sends it decodes into the type
// Handle takes, and Handle refuses one without the secret and the token.
func TestRotationEvent(t *testing.T) {
	raw := `{"Step":"createSecret","SecretId":"arn:aws:secretsmanager:us-east-1:000000000000:secret:s","ClientRequestToken":"tok","RotationToken":"r"}`
	var e events.SecretsManagerSecretRotationEvent
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatal(err)
	}
	if e.Step != StepCreate || e.SecretID == "" || e.ClientRequestToken != "tok" {
		t.Errorf("decoded %+v", e)
	}
	if err := (&Rotator{}).Handle(t.Context(), events.SecretsManagerSecretRotationEvent{Step: StepCreate}); err == nil {
		t.Error("Handle without SecretId and ClientRequestToken: no error")
	}
}
