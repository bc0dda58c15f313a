package console

import (
	"bytes"
	"fmt"
	"strconv"
)

// DefaultIdleMinutes is the idle timeout of a deployment that sets none.
const DefaultIdleMinutes = 15

// MaxIdleMinutes bounds the idle timeout: a day. A console left signed in longer is a
// credential left on a desk.
const MaxIdleMinutes = 24 * 60

// IdleEnv is the environment variable that carries the deployment's idle timeout, in
// minutes (template parameter ConsoleIdleMinutes).
const IdleEnv = "CONSOLE_IDLE_MINUTES"

// Config is what the deployment decides about the console.
type Config struct {
	// IdleMinutes is how long the page stays signed in without a key press or pointer
	// use (1 to MaxIdleMinutes; 0 means DefaultIdleMinutes).
	IdleMinutes int
}

// ConfigFromEnv reads the Config from the environment (getenv is os.Getenv).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	if v := getenv(IdleEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, fmt.Errorf("console: %s=%q is not a whole number of minutes", IdleEnv, v)
		}
		c.IdleMinutes = n
	}
	return c, c.check()
}

func (c Config) check() error {
	if c.IdleMinutes < 0 || c.IdleMinutes > MaxIdleMinutes {
		return fmt.Errorf("console: idle timeout %d minutes: want 1 to %d", c.IdleMinutes, MaxIdleMinutes)
	}
	return nil
}

func (c Config) idleMinutes() int {
	if c.IdleMinutes == 0 {
		return DefaultIdleMinutes
	}
	return c.IdleMinutes
}

// idleMeta is the page's setting as index.html carries it: a meta element (the strict
// CSP allows no inline script, and a meta element costs the page no request).
func idleMeta(minutes int) []byte {
	return []byte(`<meta name="keyward-idle-minutes" content="` + strconv.Itoa(minutes) + `">`)
}

// withConfig is index.html with the deployment's settings in place of the defaults it
// is written with.
func withConfig(index []byte, c Config) ([]byte, error) {
	def := idleMeta(DefaultIdleMinutes)
	if bytes.Count(index, def) != 1 {
		return nil, fmt.Errorf("console: %s must carry %s exactly once", Index, def)
	}
	return bytes.Replace(index, def, idleMeta(c.idleMinutes()), 1), nil
}
