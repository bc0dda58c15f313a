package gateway

import (
	"slices"
	"testing"
)

func TestWithGodebug(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		want    []string
		missing bool
	}{
		{"no GODEBUG", []string{"A=1"}, []string{"A=1", "GODEBUG=" + Godebug}, true},
		{"other settings kept", []string{"GODEBUG=gctrace=1", "A=1"}, []string{"A=1", "GODEBUG=gctrace=1," + Godebug}, true},
		{"a schedtrace already set", []string{"GODEBUG=gctrace=1,schedtrace=1000"}, []string{"GODEBUG=gctrace=1,schedtrace=1000"}, false},
		{"empty GODEBUG", []string{"GODEBUG="}, []string{"GODEBUG=" + Godebug}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, missing := withGodebug(tt.env)
			if !slices.Equal(got, tt.want) || missing != tt.missing {
				t.Errorf("withGodebug(%q) = %q, %v; want %q, %v", tt.env, got, missing, tt.want, tt.missing)
			}
		})
	}
}
