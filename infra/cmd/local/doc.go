// Command local runs Keyward on a laptop without Docker: `local serve` builds each
// function's bootstrap for the host through the Makefile's build-<LogicalId> targets,
// creates the table and secrets from template.yaml on the services that
// infra/services.sh started, and serves the HttpApi routes through the real binaries
// (package gateway). `local sweep` invokes SweeperFunction once against that stack.
//
// Files, in .local (or $KEYWARD_LOCAL_DIR): bin/<LogicalId>/bootstrap, root-key (the
// root credential), stack.json (the running stack's endpoints, for sweep) and, when
// KEYWARD_DDB_PATH keeps the table on disk, secrets.json (the pepper and root, so that
// stored keys still verify after a restart). Otherwise all local state is in memory.
// env.json (SAM --env-vars format) overrides the template's environment.
//
// The template's parameters keep their defaults (AuthorizerAcceptsRoot=false: the
// authorizer refuses the root credential here too), except Issuer: the stack listens
// first and its address, http://127.0.0.1:$PORT, is every function's ISSUER.
package main
