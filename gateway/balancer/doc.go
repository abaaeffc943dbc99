// Package balancer holds the gateway's pickers: given the endpoints of an
// upstream that may take a call now, a Picker chooses one.
//
//	round_robin           each endpoint in turn
//	weighted_round_robin  smooth weighted round robin (nginx's): over any
//	                      window of sum(weights) picks each endpoint is picked
//	                      exactly its weight times, interleaved, deterministically
//	least_request         power of two choices: two distinct endpoints drawn at
//	                      random, the one with fewer calls in flight wins
//	random                uniform
//
// # Contract
//
//   - A Picker is safe for concurrent use and holds no global state: each
//     upstream makes its own.
//   - Pick allocates nothing. It does not block (weighted_round_robin takes a
//     short mutex around O(n) arithmetic; the others are lock-free).
//   - The slice given to Pick is a snapshot the caller does not change while
//     it may still be passed to Pick. weighted_round_robin keeps per-snapshot
//     state: passing a different slice (another backing array or length)
//     starts its sequence afresh.
//   - Pick on an empty slice returns ErrNoEndpoint, which carries
//     codes.Unavailable.
//   - Random choices come from an injectable source (WithRandom); the
//     default is math/rand/v2's IntN, which is safe for concurrent use.
//
// The package starts no goroutines, does not log and does not panic.
package balancer
