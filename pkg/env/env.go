package env

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// String returns the variable name, or def when it is unset or empty.
func String(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Required returns the variable name, or an error naming it when it is unset or empty.
func Required(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// Int reads a non-negative whole number, def when unset.
func Int(name string, def int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, s)
	}
	return n, nil
}

// Seconds reads a whole number of seconds, def seconds when unset.
func Seconds(name string, def int) (time.Duration, error) {
	n, err := Int(name, def)
	return time.Duration(n) * time.Second, err
}

// Days reads a whole number of days, def days when unset.
func Days(name string, def int) (time.Duration, error) {
	n, err := Int(name, def)
	return time.Duration(n) * 24 * time.Hour, err
}

// Bool reads a boolean variable strictly: "true", "false", or unset (false). Any
// other spelling ("1", "TRUE", "yes") is an error, so a typo never means false.
func Bool(name string) (bool, error) {
	switch s := os.Getenv(name); s {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: want true or false", name, s)
	}
}

// DynamoDBEndpointVar is the SDK's own DynamoDB endpoint override. The local stack
// (infra/services.sh) sets it for every process it runs; a deployed function has no
// reason to.
const DynamoDBEndpointVar = "AWS_ENDPOINT_URL_DYNAMODB"

// Local reports whether the process runs against the local stack: its DynamoDB
// endpoint is overridden (AWS_ENDPOINT_URL_DYNAMODB). It is the only such check, and
// everything that behaves differently locally follows it: the sweeper's typed clock
// (NOW) and its bus and topic created if missing, DynamoDB Local's checksum quirk,
// and whether the local gateway and the tests find the services running.
func Local() bool {
	return os.Getenv(DynamoDBEndpointVar) != ""
}
