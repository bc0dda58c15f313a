// Package awsclient builds the AWS SDK configuration and the service clients every
// bootstrap uses, in one place, so that the functions and the bench's minimal twins
// (infra/twins) run the SDK configured the same way.
//
// Invariants: endpoints follow the SDK's own variables (AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SECRETS_MANAGER, ...), which is how the local stack points the
// functions at DynamoDB Local and moto; nothing here weakens what is checked against
// AWS itself (signing, TLS, response checksums stay on there).
package awsclient
