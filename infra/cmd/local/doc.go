// Command local runs Keyward on a laptop without Docker: `local serve` builds each
// function's bootstrap for the host through the Makefile's build-<LogicalId> targets,
// creates the table and secrets from template.yaml on the services that
// infra/services.sh started, and serves the HttpApi routes through the real binaries
// (package gateway). `local sweep` invokes SweeperFunction once against that stack.
//
// Files: .local/bin/<LogicalId>/bootstrap, .local/root-key (the root credential),
// .local/stack.json (the running stack's endpoints, for sweep). env.json (SAM
// --env-vars format) overrides the template's environment.
package main
