package keysapi

import (
	"fmt"
	"testing"
)

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
