// Command local runs Keyward on a laptop without Docker: `local serve` builds each
// function's bootstrap for the host through the Makefile's build-<LogicalId> targets,
// creates the table and secrets from template.yaml on the services that
// infra/services.sh started, and serves the HttpApi routes through the real binaries
// (package gateway). `local sweep` invokes SweeperFunction once against that stack.
//
// `local serve` first takes 127.0.0.1:$PORT (3000 by default): a busy port fails at
// once, in one line, before any service starts or .local/ is touched. It then runs
// infra/services.sh around itself, passing the listener down as file descriptor 3
// (KEYWARD_LISTEN_FD); run under infra/services.sh directly, it listens itself. A
// signal is passed on as SIGTERM and services.sh stops everything it started.
//
// Startup logs each phase with its time (services, tables, secrets and first signing
// key, builds, functions ready). Ready means every function can do its job: before
// anything is served, the keys function lists keys (table and secrets reached), the
// token function publishes its signing keys and discovery document, the authorizer
// refuses a request without a credential (403: it read its route table), and the
// console function serves its page.
// Clients that connect earlier wait; a probe that fails names the function and ends
// the stack.
//
// Files, in .local (or $KEYWARD_LOCAL_DIR): bin/<LogicalId>/bootstrap, root-key (the
// root credential), stack.json (written once ready and removed on exit: base_url,
// port, pid, issuer and the services' endpoints, for sweep and the walkthrough) and, when
// KEYWARD_DDB_PATH keeps the table on disk, secrets.json (the pepper and root, so that
// stored keys still verify after a restart). Otherwise all local state is in memory.
// env.json (SAM --env-vars format) overrides the template's environment.
//
// The template's parameters keep their defaults (AuthorizerAcceptsRoot=false: the
// authorizer refuses the root credential here too), except Issuer: the stack listens
// first and its address, http://127.0.0.1:$PORT, is every function's ISSUER.
package main
