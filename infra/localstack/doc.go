// Package localstack is Keyward's stack on a laptop, shared by `make local`
// (infra/cmd/local), the tests that drive the real bootstraps, and the bench figures:
// it reads template.yaml and env.json, builds each function's bootstrap through the
// Makefile's build-<LogicalId> target (the recipe sam build uses), creates the tables
// and seeds the secrets the template declares on the local services, and gives each
// function the environment Lambda would. Seeding the secrets also does what Secrets
// Manager does at deploy for a RotationSchedule with RotateImmediatelyOnUpdate: the
// signing-key secret gets its first key there, once, in one process, before any
// function starts (no cold start writes it, so none can race another).
//
// Invariants: the table schema and the function environments come only from
// template.yaml (and env.json's overrides), never from a copy; the template's
// parameters keep their defaults but for Issuer, the stack's own address
// (http://127.0.0.1:$PORT); local state (binaries, the root credential, the running
// stack's endpoints) lives in one directory, <repo>/.local unless KEYWARD_LOCAL_DIR
// names another, so that a test's stack never touches a developer's.
package localstack
