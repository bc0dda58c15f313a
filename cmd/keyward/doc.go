// Command keyward is Keyward's command-line client: named profiles (login, profiles),
// key management (keys create|list|get|update|rotate|finish|revoke|delete), events
// and the audit log (events, audit --follow), access tokens (token) and whoami, on
// the pkg/client package.
//
// Invariants:
//   - A secret (an API key, the root credential, an access token) is never read from
//     the command line: credentials come from a file, stdin or KEYWARD_API_KEY, and a
//     run whose arguments hold anything shaped like a secret is refused (exit 2)
//     before any request is sent, without echoing it.
//   - A new secret is shown once: on stdout with a warning on stderr, or written to
//     --secret-file (mode 0600, prepared before the request so that a bad path fails
//     before the key exists) and then not printed.
//   - Profiles live in <user config dir>/keyward/config.json (KEYWARD_CONFIG
//     overrides), written atomically with mode 0600 in a 0700 directory;
//     KEYWARD_URL and KEYWARD_API_KEY override the profile.
//   - Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 forbidden, 5 unauthorized;
//     an API error prints its detail and code on one line on stderr.
//   - Output is a table on a terminal and JSON otherwise; -o chooses.
//   - Nothing slow runs before a command does (no network, no config read for
//     --help), so that `keyward --help` starts in a few milliseconds.
package main
