package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
)

// FuzzParse: Parse never panics, every error it reports has a position in
// the file, and what it accepts Compile accepts.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	reg := builtin.NewRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.yaml", data, config.WithRegistry(reg))
		if err != nil {
			errs, ok := err.(config.Errors)
			if !ok {
				t.Fatalf("Parse() error is %T", err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("error without file or message: %#v", e)
				}
			}
			return
		}
		if _, err := config.Compile(cfg, reg, stubHandlers); err != nil {
			t.Fatalf("Parse() accepted what Compile refuses:\n%v", err)
		}
	})
}
