package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGoldenGood parses each testdata/good/*.yaml and compares the effective
// configuration, as JSON, with the .json beside it.
func TestGoldenGood(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good configs: %v", err)
	}
	reg := builtin.NewRegistry()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(filepath.Base(file), data, config.WithRegistry(reg))
			if err != nil {
				t.Fatalf("Parse() errors:\n%v", err)
			}
			got, err := json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, strings.TrimSuffix(file, ".yaml")+".json", append(got, '\n'))
			if _, err := config.Compile(cfg, reg, stubHandlers); err != nil {
				t.Fatalf("Compile() errors:\n%v", err)
			}
		})
	}
}

// TestGoldenBad parses each testdata/bad/*.yaml and compares the errors,
// one per line, with the .errors beside it.
func TestGoldenBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	reg := builtin.NewRegistry()
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(filepath.Base(file), data, config.WithRegistry(reg))
			if err == nil {
				t.Fatalf("Parse() accepted a bad config: %+v", cfg)
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse() error is %T, want config.Errors", err)
			}
			for _, e := range errs {
				if e.Line == 0 {
					t.Errorf("error without a line: %v", e)
				}
			}
			checkGolden(t, strings.TrimSuffix(file, ".yaml")+".errors", []byte(err.Error()+"\n"))
		})
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
