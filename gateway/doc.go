// Package gateway is the protocol-neutral core of the mcpbridge gateway: the
// Request every front door presents, the Handler and Middleware that serve it,
// and the compiled route Table that picks a Route for each call.
//
// The request path is
//
//	front door → Request → Table.Lookup → Route (filters → upstream Handler)
//
// and this package knows no front door, no upstream and no configuration
// format: front doors adapt their protocol to a Request and a Stream,
// package gateway/config compiles a configuration into a Table, and the
// upstream Handlers come from the caller.
//
// # Contract
//
//   - A Table is immutable once NewTable returns it. Lookup, Serve and Routes
//     are safe for concurrent use.
//   - A Router holds the current Table in an atomic pointer. Swap replaces it
//     at once; a call that has looked up its Route finishes on the Table it
//     started with, so a reload never disturbs calls in flight.
//   - Routes are tried in order; the predicates of a Route are evaluated in
//     order and must all match. A predicate's error ends the lookup and is
//     returned as is. When no Route matches, Lookup returns an error that
//     wraps ErrNoRoute and carries codes.Unimplemented.
//   - Weighted routes (a predicate implementing Weighted) split traffic
//     within their group: per lookup the Table draws once per group and only
//     the drawn member's weight predicate matches.
//   - Predicates and Middleware never modify the Request they are given: a
//     Middleware that rewrites passes a copy to the next Handler
//     (Request.Clone, or a shallow copy when only scalar fields change). The
//     Header and Vars of a Request are shared by shallow copies, so every
//     holder treats them as read-only.
//   - Handlers return nil or a gRPC status error (google.golang.org/grpc/status).
//
// The package starts no goroutines, does not log and does not panic.
package gateway
