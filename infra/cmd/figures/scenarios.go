package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keyward/keyward/infra/twins/twin"
	"github.com/keyward/keyward/pkg/store"
)

// scenario is one function's hot path, as make bench drives it and its twin.
type scenario struct {
	id   string // the function's LogicalId
	twin string // infra/twins/<twin>
	// unit names what one measured unit is (one invocation, or a 4-step rotation);
	// units, warm and block are how many are measured, run first, and run in a row.
	unit               string
	units, warm, block int
	// events are the invocations of unit i, for the function or for its twin.
	events func(b *bench, i int, twin bool) [][]byte
	// cold is the event of a cold start, for the function or its twin.
	cold func(b *bench, twin bool) []byte
	// ok reports whether an answer is the success being measured ("" for any answer
	// that is not a function error).
	ok string
	// trips are the network round trips the function makes before its first answer
	// and its twin does not: each step's calls run in parallel, the steps in turn.
	trips []step
	// profile: the bench profiles this function and its twin.
	profile bool
}

// step is one init round trip, or several in parallel: its cost is its slowest call.
type step struct {
	name  string
	calls []string // kinds of call, see measureRoundTrips
}

func one(e []byte) [][]byte { return [][]byte{e} }

var scenarios = []scenario{
	{id: "AuthorizerFunction", twin: "authorizer", unit: "ms", units: 2000, warm: 200, block: 250, profile: true,
		events: func(b *bench, _ int, _ bool) [][]byte { return one(b.event("authorizer-http")) },
		cold:   func(b *bench, _ bool) []byte { return b.event("authorizer-http") },
		ok:     `"isAuthorized":true`,
		trips: []step{
			{"route table GetItem || pepper GetSecretValue (AWSCURRENT || AWSPREVIOUS)", []string{"dynamodb", "secretsmanager"}},
			// The first use of an owner's key on an instance reads the owner's shared
			// rate limit, consistently (auth.OwnerLimitTTL): it needs the key's owner,
			// so it follows the key's read, and the decision waits for it.
			{"owner limits GetItem", []string{"dynamodb"}},
			{"last-use UpdateItem", []string{"dynamodb"}},
		}},
	{id: "KeysFunction", twin: "keys", unit: "ms", units: 2000, warm: 200, block: 250, profile: true,
		events: func(b *bench, _ int, _ bool) [][]byte { return one(b.whoami()) },
		cold:   func(b *bench, _ bool) []byte { return b.whoami() },
		ok:     `"statusCode":200`,
		trips: []step{
			{"pepper || root GetSecretValue (each AWSCURRENT || AWSPREVIOUS)", []string{"secretsmanager"}},
			// The first use of an owner's key on an instance reads the owner's shared
			// rate limit, consistently (auth.OwnerLimitTTL): it needs the key's owner,
			// so it follows the key's read, and the decision waits for it.
			{"owner limits GetItem", []string{"dynamodb"}},
			{"last-use UpdateItem", []string{"dynamodb"}},
		}},
	{id: "TokenFunction", twin: "token", unit: "ms", units: 2000, warm: 200, block: 250, profile: true,
		events: func(b *bench, _ int, _ bool) [][]byte { return one(b.event("token-client-credentials")) },
		cold:   func(b *bench, _ bool) []byte { return b.event("token-client-credentials") },
		ok:     `"statusCode":200`,
		trips: []step{
			{"pepper (AWSCURRENT || AWSPREVIOUS) || signing keys GetSecretValue", []string{"secretsmanager"}},
			// The first use of an owner's key on an instance reads the owner's shared
			// rate limit, consistently (auth.OwnerLimitTTL): it needs the key's owner,
			// so it follows the key's read, and the decision waits for it.
			{"owner limits GetItem", []string{"dynamodb"}},
			{"last-use UpdateItem", []string{"dynamodb"}},
		}},
	{id: "SweeperFunction", twin: "sweeper", unit: "ms", units: 600, warm: 60, block: 100, profile: true,
		events: func(b *bench, _ int, _ bool) [][]byte { return one(b.event("scheduled")) },
		cold:   func(b *bench, _ bool) []byte { return b.event("scheduled") },
		trips: []step{
			{"local only: CreateEventBus || CreateTopic", []string{"eventbridge", "sns"}},
		}},
	{id: "SigningKeyRotationFunction", twin: "rotation", unit: "ms/rotation", units: 24, warm: 2, block: 4,
		events: func(b *bench, i int, twin bool) [][]byte { return b.rotation(i, twin) },
		cold: func(b *bench, isTwin bool) []byte {
			return b.rotationStep(isTwin, "bench-cold-"+twin.Random(16), "setSecret")
		}},
}

// whoami is GET /v1/whoami with the bench key and no authorizer context: KeysFunction
// then verifies the key itself (one consistent GetItem).
func (b *bench) whoami() []byte {
	var e map[string]any
	if err := json.Unmarshal(b.event("whoami"), &e); err != nil {
		panic(err)
	}
	delete(e["requestContext"].(map[string]any), "authorizer")
	out, _ := json.Marshal(e)
	return out
}

// rotation is the four steps of rotation i, under a token of its own.
func (b *bench) rotation(i int, isTwin bool) [][]byte {
	token := fmt.Sprintf("bench-%d-%s", i, twin.Random(16))
	var out [][]byte
	for _, st := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
		out = append(out, b.rotationStep(isTwin, token, st))
	}
	return out
}

// rotationStep is one step under token, for the function's secret or the twin's.
func (b *bench) rotationStep(twin bool, token, step string) []byte {
	secret := b.p.Refs["SigningKeysSecret"]
	if twin {
		secret += twinSecretSuffix
	}
	e, _ := json.Marshal(map[string]string{"SecretId": secret, "Step": step, "ClientRequestToken": token})
	return e
}

// twinEnv is what a twin is told beside its function's environment: the bench key's
// item, the token twin's signing key, the sweeper's due index.
func (b *bench) twinEnv() []string {
	return []string{
		twin.EnvPK + "=" + store.KeyPK(b.keyID), twin.EnvSK + "=KEY",
		twin.EnvSigningKey + "=" + base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(b.rsaKey)),
		twin.EnvDueIndex + "=" + store.DueIndex, twin.EnvDuePK + "=" + store.AttrDuePK, twin.EnvDueAt + "=" + store.AttrDueAt,
		twin.EnvDueShards + "=" + strings.Join(store.DueShardPKs(), ","),
	}
}
