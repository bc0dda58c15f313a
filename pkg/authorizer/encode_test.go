package authorizer

import (
	stdjson "encoding/json"
	"testing"
)

// FuzzAppendString: any string is written as the JSON string encoding/json writes:
// the same value once decoded, so no owner, key id or scope can break the answer's
// JSON or smuggle a field into it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "kw_x", `a"b\c`, "\x00\x1f\x7f", "é\u2028\U0001F600", "\xff\xfe", "a\xc3", `","isAuthorized":true`, "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := stdjson.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: not a JSON string: %v", s, b, err)
		}
		std, _ := stdjson.Marshal(s)
		var want string
		if err := stdjson.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("appendString(%q) reads %q, encoding/json's %q", s, got, want)
		}
	})
}
