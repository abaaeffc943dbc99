package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"
)

// MaxFileSize bounds a configuration file.
const MaxFileSize = 8 << 20

// Option configures Parse, Load and Watch.
type Option interface {
	apply(*options)
}

type options struct {
	reg      *Registry
	interval time.Duration
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func newOptions(opts []Option) options {
	o := options{interval: DefaultWatchInterval}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// WithRegistry makes parsing check predicate and filter names against reg
// and run their factories on their arguments, so that their problems are
// reported with the others, and rewrites names to their registered
// spelling. Without it, predicates and filters are checked only by Compile.
func WithRegistry(reg *Registry) Option {
	return optionFunc(func(o *options) { o.reg = reg })
}

// WithPollInterval sets how often Watch polls the file. Default 2s
// (DefaultWatchInterval); a value of 0 or less keeps the default.
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.interval = d
		}
	})
}

// Parse reads a configuration from data; name is the file name errors
// report. It returns the effective configuration (every default applied)
// or Errors listing every problem found, in file order.
func Parse(name string, data []byte, opts ...Option) (*Config, error) {
	return parse(name, data, newOptions(opts))
}

func parse(name string, data []byte, o options) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), MaxFileSize)}}
	}
	c, d := decode(name, data)
	errs := d.errs
	if c != nil {
		c.file, c.pos = name, d.pos
		built, verrs := c.check(o.reg, d.broken)
		errs = append(errs, verrs...)
		for i, b := range built {
			for j, n := range b.predNames {
				if n != "" {
					c.Routes[i].Predicates[j].Name = n
				}
			}
			for j, n := range b.filterNames {
				if n != "" {
					c.Routes[i].Filters[j].Name = n
				}
			}
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	c.digest = hex.EncodeToString(sum[:])
	return c, nil
}

// Load reads and parses the configuration file at path; errors name the
// file as path.
func Load(path string, opts ...Option) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opts...)
}

// readFile reads at most MaxFileSize+1 bytes of path, so that Parse can
// refuse a file too big without reading all of it.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}
