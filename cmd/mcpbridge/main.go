// Command mcpbridge is the mcpbridge gateway: one route table in front of
// gRPC and MCP/1 (Message Communication Protocol) services.
//
// Usage:
//
//	mcpbridge [--config FILE] [--log-format text|json] [--log-level LEVEL]
//	mcpbridge validate --config FILE
//
// Without --config it runs an embedded default: the gateway on
// 127.0.0.1:7070 (MCP), 127.0.0.1:9090 (gRPC), 127.0.0.1:8080 (HTTP/JSON)
// and 127.0.0.1:9901 (admin),
// in front of the example UserService that the same process serves on
// 127.0.0.1:50051 (gRPC) and 127.0.0.1:50052 (MCP).
//
// Signals: SIGINT and SIGTERM stop gracefully (listeners close, MCP clients
// get GOAWAY, calls in flight get server.shutdown_grace to finish); a second
// one exits at once. SIGHUP reloads the configuration file; so does a change
// to it when server.watch_interval is not 0s. A bad configuration is
// rejected and the running one stays.
//
// validate checks a configuration and prints every error with its line, or
// "ok"; it exits 1 when there are errors.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mcpbridge/mcpbridge/gateway/builtin"
	"github.com/mcpbridge/mcpbridge/gateway/config"
	"github.com/mcpbridge/mcpbridge/gateway/daemon"
)

//go:embed default.yaml
var defaultConfig []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // a second signal kills at once
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, hup)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, hup <-chan os.Signal) int {
	if len(args) > 0 && args[0] == "validate" {
		return validate(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("mcpbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration `file` (default: the embedded default with the example service)")
	logFormat := fs.String("log-format", "", "log format, text or json (overrides server.log.format)")
	logLevel := fs.String("log-level", "", "log level: debug, info, warn, error (overrides server.log.level)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mcpbridge: unexpected arguments %q (subcommands: validate)\n", fs.Args())
		return 2
	}
	reg := builtin.NewRegistry()
	var cfg *config.Config
	var err error
	if *cfgPath == "" {
		cfg, err = config.Parse("default.yaml (embedded)", defaultConfig, config.WithRegistry(reg))
	} else {
		cfg, err = config.Load(*cfgPath, config.WithRegistry(reg))
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcpbridge: %v\n", err)
		return 1
	}
	log, err := newLogger(stderr, pick(*logFormat, cfg.Server.Log.Format), pick(*logLevel, cfg.Server.Log.Level))
	if err != nil {
		fmt.Fprintf(stderr, "mcpbridge: %v\n", err)
		return 2
	}
	var example *exampleBackend
	if *cfgPath == "" {
		if example, err = startExample(log); err != nil {
			log.Error("starting the example service", "err", err)
			return 1
		}
		defer example.stop()
	}
	d, err := daemon.New(cfg, daemon.Options{Registry: reg, Logger: log})
	if err != nil {
		log.Error("configuration", "err", err)
		return 1
	}
	if err := d.Start(); err != nil {
		log.Error("starting", "err", err)
		d.Close()
		return 1
	}
	if example != nil {
		fmt.Fprintf(stdout, "mcpbridge: gateway on mcp=%s grpc=%s http=%s admin=%s, example UserService behind it\n", d.Addr("mcp"), d.Addr("grpc"), d.Addr("http"), d.Addr("admin"))
		fmt.Fprintln(stdout, "  try: go run ./examples/mcpclient --addr", d.Addr("mcp"))
		if a := d.Addr("http"); a != nil {
			fmt.Fprintf(stdout, "  try: curl %s/v1/users/1\n", a)
		}
	}

	reload := func(why string) {
		if *cfgPath == "" {
			log.Warn("reload asked, but the embedded default has no file to reload", "trigger", why)
			return
		}
		next, err := config.Load(*cfgPath, config.WithRegistry(reg))
		if err == nil {
			var restart []string
			restart, err = d.Reload(next)
			if err == nil {
				log.Info("configuration reloaded", "trigger", why, "routes", len(next.Routes), "upstreams", len(next.Upstreams))
				if len(restart) > 0 {
					log.Warn("static settings changed; they apply after a restart", "keys", strings.Join(restart, ", "))
				}
				return
			}
		}
		log.Error("configuration rejected; the running one stays", "trigger", why, "err", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if *cfgPath != "" && cfg.Server.WatchInterval > 0 {
		go func() {
			_ = config.Watch(watchCtx, *cfgPath, cfg, func(_ *config.Config, err error) {
				if err != nil {
					log.Error("configuration file changed but is invalid; the running one stays", "err", err)
					return
				}
				reload("file change")
			}, config.WithRegistry(reg), config.WithPollInterval(cfg.Server.WatchInterval.Std()))
		}()
	}

	for {
		select {
		case <-hup:
			reload("SIGHUP")
			continue
		case <-ctx.Done():
		}
		break
	}
	stopWatch()
	grace := d.Config().Server.ShutdownGrace.Std()
	log.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	start := time.Now()
	if err := d.Shutdown(sctx); err != nil {
		log.Warn("grace period over; remaining calls were cut", "err", err)
	}
	log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	return 0
}

func pick(flagValue, cfgValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return cfgValue
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// validate checks a configuration file.
func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mcpbridge validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration `file` to check (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "mcpbridge validate: --config FILE is required")
		return 2
	}
	reg := builtin.NewRegistry()
	cfg, err := config.Load(*cfgPath, config.WithRegistry(reg))
	if err == nil {
		err = cfg.Validate(reg)
	}
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stdout, e.Error())
			}
			fmt.Fprintf(stdout, "%d error(s)\n", len(errs))
		} else {
			fmt.Fprintln(stdout, err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d upstreams, %d routes)\n", *cfgPath, len(cfg.Upstreams), len(cfg.Routes))
	return 0
}
