package client

import (
	"encoding/json"
	"time"
)

// Key is a key object as the API shows it; it never carries a secret.
type Key struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	Owner        string         `json:"owner"`
	Scopes       []string       `json:"scopes"`
	Status       string         `json:"status"`
	Start        string         `json:"start"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	CreatedBy    string         `json:"created_by"`
	ExpiresAt    time.Time      `json:"expires_at"`
	LastUsedAt   *time.Time     `json:"last_used_at"`
	LastUsedIP   *string        `json:"last_used_ip"`
	Rotation     *Rotation      `json:"rotation"`
	Metadata     map[string]any `json:"metadata"`
	AllowedCIDRs []string       `json:"allowed_cidrs"`
}

// Rotation is a key's rotation state while a previous secret is still valid.
type Rotation struct {
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

// KeyWithSecret is the answer to create and rotate: the key and its new secret, which
// the API shows in this answer only.
type KeyWithSecret struct {
	Key
	Secret string `json:"secret"`
}

// Key statuses.
const (
	StatusActive   = "active"
	StatusRotating = "rotating"
	StatusExpired  = "expired"
	StatusRevoked  = "revoked"
)

// KeyCreate is the body of POST /v1/keys. Name and Scopes are required; ExpiresAt and
// ExpiresInDays are exclusive, and without either the deployment's default applies.
type KeyCreate struct {
	Name          string         `json:"name"`
	Scopes        []string       `json:"scopes"`
	Description   string         `json:"description,omitempty"`
	Owner         string         `json:"owner,omitempty"`
	ExpiresAt     *time.Time     `json:"expires_at,omitempty"`
	ExpiresInDays *int           `json:"expires_in_days,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty"`
	AllowedCIDRs  []string       `json:"allowed_cidrs,omitempty"`
}

// KeyPatch is the body of PATCH /v1/keys/{id} (JSON merge patch): a nil field is left
// as it is. Metadata is merged; json.RawMessage("null") clears it. AllowedCIDRs set
// to a pointer to an empty slice clears the list.
type KeyPatch struct {
	Name         *string         `json:"name,omitempty"`
	Description  *string         `json:"description,omitempty"`
	Owner        *string         `json:"owner,omitempty"`
	Scopes       []string        `json:"scopes,omitempty"`
	ExpiresAt    *time.Time      `json:"expires_at,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	AllowedCIDRs *[]string       `json:"allowed_cidrs,omitempty"`
}

// Page is one page of a list; NextCursor is nil on the last page.
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// KeyPage is a page of GET /v1/keys.
type KeyPage = Page[Key]

// EventPage is a page of a key's events or of the audit log, newest first.
type EventPage = Page[Event]

// Event is one audit event.
type Event struct {
	ID     string         `json:"id"`
	Time   time.Time      `json:"time"`
	Type   string         `json:"type"`
	KeyID  string         `json:"key_id"`
	Actor  string         `json:"actor"`
	IP     string         `json:"ip"`
	Detail map[string]any `json:"detail"`
}

// ListKeys are the query parameters of GET /v1/keys; zero values are left out.
type ListKeys struct {
	Owner  string
	Status string
	Limit  int
	Cursor string
}

// ListEvents are the query parameters of GET /v1/keys/{id}/events and GET /v1/audit
// (Type only for the audit log); zero values are left out.
type ListEvents struct {
	Type   string
	Limit  int
	Cursor string
}

// Rotate is the body of POST /v1/keys/{id}/rotate. A nil GraceSeconds takes the
// API's default (86400); 0 makes the previous secret invalid at once.
type Rotate struct {
	GraceSeconds *int64 `json:"grace_seconds,omitempty"`
}

// BatchDeleteResult is the answer of POST /v1/keys/batch-delete: ids deleted, ids
// unknown or not readable by the caller, and ids it may read but not delete.
type BatchDeleteResult struct {
	Deleted   []string `json:"deleted"`
	NotFound  []string `json:"not_found"`
	Forbidden []string `json:"forbidden"`
}

// MaxBatchDelete is how many ids one batch delete takes.
const MaxBatchDelete = 100

// Whoami is the answer of GET /v1/whoami.
type Whoami struct {
	KeyID  string   `json:"key_id"`
	Owner  string   `json:"owner"`
	Scopes []string `json:"scopes"`
	Auth   string   `json:"auth"`
}

// Token is the token endpoint's answer. Expiry is not on the wire: the client sets it
// from expires_in when the answer arrives.
type Token struct {
	AccessToken      string    `json:"access_token"`
	TokenType        string    `json:"token_type"`
	ExpiresIn        int64     `json:"expires_in"`
	RefreshToken     string    `json:"refresh_token,omitempty"`
	RefreshExpiresIn int64     `json:"refresh_expires_in,omitempty"`
	Scope            string    `json:"scope,omitempty"`
	Expiry           time.Time `json:"-"`
}

// Introspection is the answer of POST /v1/oauth/introspect (RFC 7662).
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Sub       string `json:"sub,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Nbf       int64  `json:"nbf,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Aud       any    `json:"aud,omitempty"`
	Jti       string `json:"jti,omitempty"`
}

// Discovery is the authorization server metadata (RFC 8414).
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint,omitempty"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
}

// VerifyRequest is the body of POST /v1/keys/verify: the key, and optionally a scope
// it must hold, the address it is used from and the use's cost (1 to 1,000,000;
// 0 means 1).
type VerifyRequest struct {
	Key   string `json:"key"`
	Scope string `json:"scope,omitempty"`
	IP    string `json:"ip,omitempty"`
	Cost  int64  `json:"cost,omitempty"`
}

// Verification is the answer of POST /v1/keys/verify. Code is VALID or why not
// (NOT_FOUND, EXPIRED, REVOKED, INSUFFICIENT_SCOPE, IP_NOT_ALLOWED, RATE_LIMITED,
// USAGE_EXCEEDED, LOCKED); the other fields are nil where they do not apply.
type Verification struct {
	Valid     bool          `json:"valid"`
	Code      string        `json:"code"`
	KeyID     *string       `json:"key_id"`
	Owner     *string       `json:"owner"`
	Scopes    []string      `json:"scopes"`
	Remaining *int64        `json:"remaining"`
	RateLimit *VerifyWindow `json:"ratelimit"`
}

// VerifyWindow is a key's current rate-limit window: its limit, the uses left in it,
// and when it ends.
type VerifyWindow struct {
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	Reset     time.Time `json:"reset"`
}
