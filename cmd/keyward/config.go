package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// config is the profiles file.
type config struct {
	Current  string             `json:"current,omitempty"`
	Profiles map[string]profile `json:"profiles"`
}

// profile is one named deployment and credential.
type profile struct {
	URL    string `json:"url"`
	APIKey string `json:"api_key,omitempty"`
}

// configPath is KEYWARD_CONFIG, or keyward/config.json in the user config dir.
func (a *app) configPath() string {
	if p := a.getenv("KEYWARD_CONFIG"); p != "" {
		return p
	}
	dir := a.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			dir = "."
		}
	}
	return filepath.Join(dir, "keyward", "config.json")
}

// loadConfig reads the profiles file; a missing one is an empty config.
func loadConfig(path string) (*config, error) {
	cfg := &config{Profiles: map[string]profile{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("profiles: %s: %w", path, err)
	}
	if cfg.Profiles == nil {
		cfg.Profiles = map[string]profile{}
	}
	return cfg, nil
}

// save writes the profiles file atomically, mode 0600 in a 0700 directory: it holds
// credentials.
func (cfg *config) save(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return writeSecretFile(path, append(data, '\n'))
}

// names returns the profile names, sorted.
func (cfg *config) names() []string {
	out := make([]string, 0, len(cfg.Profiles))
	for n := range cfg.Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// writeSecretFile replaces path with data, mode 0600, through a temporary file in the
// same directory and a rename, so that no reader ever sees it partial or readable by
// others.
func writeSecretFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	return commitSecretFile(f, path, data)
}

// commitSecretFile writes data to the temporary file f (made by CreateTemp, mode
// 0600) and renames it to path.
func commitSecretFile(f *os.File, path string, data []byte) error {
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}
