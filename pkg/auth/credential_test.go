package auth

import "testing"

func TestCredential(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"bearer", map[string]string{"authorization": "Bearer abc"}, "abc"},
		{"bearer any case", map[string]string{"Authorization": "bEaReR  abc "}, "abc"},
		{"apikey scheme", map[string]string{"authorization": "ApiKey abc"}, "abc"},
		{"x-api-key", map[string]string{"X-API-Key": "abc"}, "abc"},
		{"authorization wins", map[string]string{"authorization": "Bearer a", "x-api-key": "b"}, "a"},
		{"unknown scheme", map[string]string{"authorization": "Basic abc"}, ""},
		{"no scheme", map[string]string{"authorization": "abc"}, ""},
		{"none", map[string]string{"content-type": "x"}, ""},
		{"nil", nil, ""},
		// Several spellings of one header: the lowercase one, whatever the map's order.
		{"two spellings", map[string]string{"Authorization": "Bearer b", "authorization": "Bearer a", "AUTHORIZATION": "Bearer c"}, "a"},
		{"two x-api-key spellings", map[string]string{"X-Api-Key": "b", "x-api-key": "a"}, "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 20 { // map order varies from call to call
				if got := Credential(c.headers); got != c.want {
					t.Fatalf("Credential = %q, want %q", got, c.want)
				}
			}
		})
	}
}
