package scope

import "testing"

func TestParse(t *testing.T) {
	good := []string{"*", "keys:read", "orders:read", "credentials:delete@cred/prod-*", "a", "a.b_c-d:e", "s3:get@arn:aws:s3:::bucket/*", "x@y", "keys:read@owner:alice@example.com", "a@b@c"}
	for _, s := range good {
		p, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if p.String() != s {
			t.Errorf("Parse(%q).String() = %q", s, p.String())
		}
	}
	bad := []string{"", "Keys:read", "-a", ":a", "keys read", "a@", "a@b c", "a@*b", "**", "a*", "é", "a@b\n"}
	for _, s := range bad {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", s)
		}
	}
}

func TestCovers(t *testing.T) {
	cases := []struct {
		held []string
		want []string
		ok   bool
	}{
		{[]string{"*"}, []string{"keys:write", "x@y", "keys:read@owner:alice@example.com", "a@b@c"}, true},
		{[]string{"keys:read"}, []string{"keys:read"}, true},
		{[]string{"keys:read"}, []string{"keys:write"}, false},
		{[]string{"keys:read"}, []string{"*"}, false},
		{[]string{"orders:read"}, []string{"orders:read@o/1"}, true},
		{[]string{"orders:read@o/1"}, []string{"orders:read"}, false},
		{[]string{"orders:read@o/1"}, []string{"orders:read@o/1"}, true},
		{[]string{"orders:read@o/1"}, []string{"orders:read@o/12"}, false},
		{[]string{"cred:del@cred/*"}, []string{"cred:del@cred/prod-1"}, true},
		{[]string{"cred:del@cred/*"}, []string{"cred:del@cred/prod-*"}, true},
		{[]string{"cred:del@cred/prod-*"}, []string{"cred:del@cred/*"}, false},
		{[]string{"cred:del@cred/prod-*"}, []string{"cred:del@cred/dev-1"}, false},
		{[]string{"a", "b"}, []string{"a", "b"}, true},
		{[]string{"a"}, []string{"a", "b"}, false},
	}
	for _, c := range cases {
		held, err := ParseList(c.held)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ParseList(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := held.Covers(want); got != c.ok {
			t.Errorf("%v covers %v = %v, want %v", c.held, c.want, got, c.ok)
		}
	}
}

func TestParseList(t *testing.T) {
	if _, err := ParseList(nil); err == nil {
		t.Error("empty list accepted")
	}
	set, err := ParseList([]string{"a", "a", "b"})
	if err != nil || set.Join() != "a b" {
		t.Errorf("ParseList dedup = %v, %v", set, err)
	}
	narrowed := MustParseList([]string{"a", "b@x*"}).Intersect(MustParseList([]string{"b@xy", "c"}))
	if narrowed.Join() != "b@xy" {
		t.Errorf("Intersect = %q", narrowed.Join())
	}
}
