package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"time"
)

// Watch polls the configuration file at path until ctx ends, and calls fn
// each time what the path holds changes: with the newly parsed Config, or
// with the error (Errors for a bad configuration, or the error reading the
// file). It returns ctx's error.
//
// current is the Config the caller runs (from Load), or nil. Watch checks
// the file at once and then every poll interval (WithPollInterval, default
// 2s): it compares size, modification time and file identity first and reads
// and hashes the file only when one of them changed (or the last change is
// too recent for them to be trusted), so a touch that keeps the content
// calls nothing. Contents equal to current's (by Digest) call
// nothing either. Polling the path, not the file, follows editors and
// deployment tools that replace the file by renaming another over it; a
// file missing for a moment is reported once, as an error.
//
// fn runs on Watch's goroutine, one call at a time; while it runs, polling
// waits. WithRegistry makes Watch parse like Load with the same option.
func Watch(ctx context.Context, path string, current *Config, fn func(*Config, error), opts ...Option) error {
	if fn == nil {
		return errors.New("config: Watch: nil fn")
	}
	w := &watcher{path: path, o: newOptions(opts), fn: fn}
	if current != nil {
		w.last = current.digest
	}
	w.poll()
	t := time.NewTicker(w.o.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			w.poll()
		}
	}
}

// racyWindow is how long after a modification the file's size and time
// are not trusted to reveal the next one: file systems keep modification
// times with a coarse clock, so a second write of the same size soon after
// the first can leave both unchanged. Until the file has been read this long
// after its modification time, every poll reads it (like git's "racily
// clean" entries).
const racyWindow = 3 * time.Second

type watcher struct {
	path   string
	o      options
	fn     func(*Config, error)
	last   string      // what was last delivered: a content digest or "error: ..."
	stat   os.FileInfo // the file as last read; nil when unknown
	readAt time.Time   // when it was read
}

func (w *watcher) poll() {
	fi, err := os.Stat(w.path)
	if err != nil {
		w.stat = nil
		w.deliver("error: "+err.Error(), nil, err)
		return
	}
	if w.stat != nil && os.SameFile(w.stat, fi) && w.stat.Size() == fi.Size() &&
		w.stat.ModTime().Equal(fi.ModTime()) && w.readAt.Sub(fi.ModTime()) > racyWindow {
		return
	}
	w.readAt = time.Now()
	data, err := readFile(w.path)
	if err != nil {
		w.stat = nil
		w.deliver("error: "+err.Error(), nil, err)
		return
	}
	w.stat = fi
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if digest == w.last {
		return
	}
	cfg, err := parse(w.path, data, w.o)
	w.last = digest
	w.fn(cfg, err)
}

// deliver calls fn with an error unless it is the one last delivered.
func (w *watcher) deliver(key string, cfg *Config, err error) {
	if key == w.last {
		return
	}
	w.last = key
	w.fn(cfg, err)
}
