package sweeper

import (
	"strings"
	"testing"
)

// TestSubjectIsValidForSNS: printable ASCII, one line, under 100 characters, for any name.
func TestSubjectIsValidForSNS(t *testing.T) {
	days := 7
	for _, name := range []string{"ci", strings.Repeat("é", 128), "a\nb\tc\x00", strings.Repeat("n", 128), "日本語のキー"} {
		for _, kind := range []string{KindExpiry, KindStale} {
			s := (&Reminder{Kind: kind, Name: name, DaysLeft: &days, IdleDays: &days}).Subject()
			if len(s) >= 100 || len(s) == 0 {
				t.Errorf("%q: subject of %d characters", name, len(s))
			}
			for _, c := range []byte(s) {
				if c < ' ' || c > '~' {
					t.Fatalf("%q: subject %q has a byte %#x outside printable ASCII", name, s, c)
				}
			}
		}
	}
	if s := (&Reminder{Kind: KindExpiry, Name: "ci", DaysLeft: &days}).Subject(); s != "Keyward: key ci expires in 7 days" {
		t.Errorf("subject = %q", s)
	}
}
