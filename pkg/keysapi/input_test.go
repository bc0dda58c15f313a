package keysapi

import (
	"fmt"
	"testing"
)

func TestMergePatch(t *testing.T) {
	target := map[string]any{"a": "b", "c": map[string]any{"d": "e", "f": "g"}, "x": 1}
	patch := map[string]any{"a": "z", "c": map[string]any{"f": nil, "h": "i"}, "x": nil, "n": map[string]any{"k": nil, "m": 2}}
	got := fmt.Sprint(mergePatch(target, patch))
	if want := "map[a:z c:map[d:e h:i] n:map[m:2]]"; got != want {
		t.Fatalf("mergePatch = %s, want %s", got, want)
	}
	if fmt.Sprint(target) != "map[a:b c:map[d:e f:g] x:1]" {
		t.Fatal("mergePatch changed its input")
	}
}

func TestCheckCIDRs(t *testing.T) {
	got, err := checkCIDRs([]string{"10.1.2.3/8", "::1", "2001:db8::1/64"})
	if err != nil || fmt.Sprint(got) != "[10.0.0.0/8 ::1/128 2001:db8::/64]" {
		t.Fatalf("checkCIDRs = %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", ""} {
		if _, err := checkCIDRs([]string{bad}); err == nil {
			t.Errorf("checkCIDRs(%q) accepted", bad)
		}
	}
}
