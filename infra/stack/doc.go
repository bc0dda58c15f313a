// Package stack reads template.yaml, the only description of what Keyward deploys,
// for the local stack and the tests: the DynamoDB table definition, the functions
// with their environment, the HTTP API routes and authorizers, and, for the IAM
// tests, what each function's Policies grant (FunctionGrants) and the roles of a
// translated template (Roles).
//
// The template is parsed with yaml.Node so that CloudFormation's short tags (!Ref,
// !Sub, !GetAtt, !If, ...) survive; each is rewritten to its long JSON form
// ({"Ref": ...}, {"Fn::GetAtt": [...]}) before anything reads it. Conditions, Fn::If
// and AWS::NoValue are decided on the parameter values given (defaults for the rest).
// Nothing in this package copies the schema: if the template changes, the local table
// changes.
package stack
