package keysapi

import (
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// keyView is the key object of the contract (docs/api.md).
type keyView struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	Owner        string            `json:"owner"`
	Scopes       []string          `json:"scopes"`
	Status       string            `json:"status"`
	Start        string            `json:"start"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	CreatedBy    string            `json:"created_by"`
	ExpiresAt    time.Time         `json:"expires_at"`
	LastUsedAt   *time.Time        `json:"last_used_at"`
	LastUsedIP   *string           `json:"last_used_ip"`
	Rotation     *rotationView     `json:"rotation"`
	Metadata     map[string]any    `json:"metadata"`
	AllowedCIDRs []string          `json:"allowed_cidrs"`
	RateLimit    *limits.RateLimit `json:"ratelimit"`
	Remaining    *int64            `json:"remaining"`
	Refill       *limits.Refill    `json:"refill"`
	// Secret is set only in the answers to create and rotate.
	Secret string `json:"secret,omitempty"`
}

type rotationView struct {
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

func viewOf(k *store.Key, now time.Time) keyView {
	v := keyView{
		ID: k.ID, Name: k.Name, Description: k.Description, Owner: k.Owner,
		Scopes: nonNil(k.Scopes), Status: k.EffectiveStatus(now), Start: k.Start,
		CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(), CreatedBy: k.CreatedBy,
		ExpiresAt: k.ExpiresAt.UTC(), Metadata: k.Metadata, AllowedCIDRs: nonNil(k.AllowedCIDRs),
		RateLimit: k.RateLimit, Remaining: k.Remaining, Refill: k.Refill,
	}
	if v.Metadata == nil {
		v.Metadata = map[string]any{}
	}
	if k.LastUsedAt != nil {
		t := k.LastUsedAt.UTC()
		v.LastUsedAt = &t
		ip := k.LastUsedIP
		v.LastUsedIP = &ip
	}
	if v.Status == store.StatusRotating {
		v.Rotation = &rotationView{PreviousExpiresAt: k.Previous.ExpiresAt.UTC()}
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// eventView is the event object of the contract.
type eventView struct {
	ID     string         `json:"id"`
	Time   time.Time      `json:"time"`
	Type   string         `json:"type"`
	KeyID  string         `json:"key_id"`
	Actor  string         `json:"actor"`
	IP     string         `json:"ip"`
	Detail map[string]any `json:"detail"`
}

type pageView[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func eventsPage(p store.Page[*store.Event]) pageView[eventView] {
	out := pageView[eventView]{Items: make([]eventView, 0, len(p.Items))}
	for _, e := range p.Items {
		d := e.Detail
		if d == nil {
			d = map[string]any{}
		}
		out.Items = append(out.Items, eventView{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, KeyID: e.KeyID, Actor: e.Actor, IP: e.IP, Detail: d})
	}
	if p.Next != "" {
		out.NextCursor = &p.Next
	}
	return out
}
