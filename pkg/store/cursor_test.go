package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestCursorRoundTrip(t *testing.T) {
	lek := map[string]types.AttributeValue{
		"pk":  &types.AttributeValueMemberS{Value: "KEY#a"},
		"lsk": &types.AttributeValueMemberS{Value: "1#123#a"},
	}
	c, ok := cursorFrom("OWNER#bob", lek)
	if !ok {
		t.Fatal("no cursor from a LastEvaluatedKey")
	}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || got.Key["lsk"] != "1#123#a" || got.Part != "OWNER#bob" {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	// A cursor from one listing is refused by another: no hopping between partitions
	// (refused before any query, so no client is needed).
	segs := []segment{{part: "OWNER#eve"}, {part: "PREFIX#e"}}
	keep := func(map[string]types.AttributeValue) (int, bool, error) { return 0, true, nil }
	if _, err := querySegments(context.Background(), nil, segs, 10, encodeCursor(c), keep); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("cross-partition cursor accepted: %v", err)
	}
	for _, bad := range []string{"%%%", "e30", "bnVsbA"} {
		if _, err := decodeCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("decodeCursor(%q) = %v", bad, err)
		}
	}
	if _, ok := cursorFrom("x", nil); ok {
		t.Error("cursor from an empty LastEvaluatedKey")
	}
}

func TestListSKOrdersNewestFirstWithinStatus(t *testing.T) {
	older := &Key{ID: "a", Status: StatusActive}
	newer := &Key{ID: "b", Status: StatusRotating}
	older.CreatedAt = older.CreatedAt.AddDate(2026, 0, 0)
	newer.CreatedAt = older.CreatedAt.Add(time.Second)
	if !(listSK(newer) < listSK(older)) {
		t.Errorf("newer key does not sort first: %s vs %s", listSK(newer), listSK(older))
	}
	if !(listSK(older) < listSK(&Key{ID: "c", Status: StatusRevoked, CreatedAt: older.CreatedAt})) {
		t.Error("revoked keys do not sort after live ones")
	}
}
