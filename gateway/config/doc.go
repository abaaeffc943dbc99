// Package config reads the gateway's YAML configuration, validates it with
// line numbers, and compiles its routes into a gateway.Table.
//
// The flow is
//
//	reg := config.NewRegistry()        // built by the caller; see gateway/builtin
//	cfg, err := config.Load(path, config.WithRegistry(reg))
//	table, err := config.Compile(cfg, reg, handlerFor)
//	router.Swap(table)
//	go config.Watch(ctx, path, cfg, onChange, config.WithRegistry(reg))
//
// # Contract
//
//   - Parsing is strict: unknown keys, wrong types, bad durations and sizes,
//     duplicate keys and every semantic problem Validate finds are errors. All
//     of them are reported at once, as Errors, each with the file's line and
//     column and the key path ("routes[0].predicates[1]").
//   - Every default is applied while parsing and written down in the field's
//     doc comment; the Config Parse returns is the effective configuration.
//   - The configuration has a static part (Server, Listeners: read at start,
//     a change needs a restart; see StaticChanges) and a dynamic part
//     (Upstreams, Routes: a reload compiles and swaps them).
//   - Predicates and filters come only from the Registry the caller passes;
//     this package registers none and holds no global state. It starts no
//     goroutine except inside Watch, which runs on the caller's goroutine
//     until its context ends. It does not log and does not panic.
package config
