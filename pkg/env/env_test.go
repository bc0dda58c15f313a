package env

import (
	"strings"
	"testing"
	"time"
)

const name = "KEYWARD_TEST_VAR"

func TestString(t *testing.T) {
	t.Setenv(name, "")
	if got := String(name, "def"); got != "def" {
		t.Errorf("unset: %q, want the default", got)
	}
	t.Setenv(name, "set")
	if got := String(name, "def"); got != "set" {
		t.Errorf("set: %q, want set", got)
	}
}

func TestRequiredNamesTheVariable(t *testing.T) {
	t.Setenv(name, "")
	if _, err := Required(name); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("unset: %v, want an error naming %s", err, name)
	}
	t.Setenv(name, "v")
	if v, err := Required(name); err != nil || v != "v" {
		t.Fatalf("set: %q, %v", v, err)
	}
}

func TestNumbers(t *testing.T) {
	for _, tt := range []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", 7, false}, {"0", 0, false}, {"42", 42, false},
		{"-1", 0, true}, {"1.5", 0, true}, {"x", 0, true}, {" 3", 0, true}, {"3s", 0, true},
	} {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv(name, tt.value)
			n, err := Int(name, 7)
			if (err != nil) != tt.wantErr || n != tt.want {
				t.Fatalf("Int(%q) = %d, %v; want %d, error %v", tt.value, n, err, tt.want, tt.wantErr)
			}
			if err != nil && (!strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tt.value)) {
				t.Errorf("error %q names neither the variable nor its value", err)
			}
			if s, err := Seconds(name, 7); (err != nil) != tt.wantErr || s != time.Duration(tt.want)*time.Second {
				t.Errorf("Seconds(%q) = %v, %v", tt.value, s, err)
			}
			if d, err := Days(name, 7); (err != nil) != tt.wantErr || d != time.Duration(tt.want)*24*time.Hour {
				t.Errorf("Days(%q) = %v, %v", tt.value, d, err)
			}
		})
	}
}

func TestBoolIsStrict(t *testing.T) {
	for value, want := range map[string]bool{"": false, "false": false, "true": true} {
		t.Setenv(name, value)
		if got, err := Bool(name); err != nil || got != want {
			t.Errorf("Bool(%q) = %v, %v; want %v", value, got, err, want)
		}
	}
	for _, value := range []string{"TRUE", "True", "1", "0", "yes", "no", "on", " true", "true "} {
		t.Setenv(name, value)
		if _, err := Bool(name); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Bool(%q): %v, want an error naming %s", value, err, name)
		}
	}
}

func TestLocal(t *testing.T) {
	t.Setenv(DynamoDBEndpointVar, "")
	t.Setenv("KEYWARD_LOCAL", "1") // no second spelling: the endpoint decides
	if Local() {
		t.Error("Local() without a DynamoDB endpoint override")
	}
	t.Setenv(DynamoDBEndpointVar, "http://127.0.0.1:8000")
	if !Local() {
		t.Error("not Local() with AWS_ENDPOINT_URL_DYNAMODB set")
	}
}
