// Package natsbus implements pubsub.Bus on NATS, so that several gateway
// processes share one bus: a message published on any node reaches the
// matching subscriptions of every node.
//
// New takes a *nats.Conn that the caller owns and keeps owning (Close does
// not close it). Topics map to subjects level for level ('/' → '.'), '+' to
// '*' and '#' to '>', with a reversible percent escape for what NATS forbids
// in a token (see SubjectForTopic); a filter ending in "/#" subscribes to two
// subjects ("a" and "a.>") since it also matches its parent. The semantics are
// those of package pubsub, '$' rule included (the bus checks each message
// with pubsub.Match). WithSubjectPrefix keeps the bus's subjects apart from
// other traffic on the account.
//
// Queue groups are NATS queue subscriptions: the server picks one member per
// message among all nodes. A member whose queue is full loses the message
// (counted, or disconnected by its policy): unlike the local bus, the server
// has already chosen it. Headers are NATS headers ("-bin" values base64
// encoded; see ErrInvalidHeader).
//
// Delivery: nats.go runs one goroutine per NATS subscription; its callback
// decodes the subject, shares one *pubsub.Message per delivery, and offers it
// to the subscription's bounded queue without blocking, applying the
// subscription's pubsub.SlowConsumerPolicy when full. Ahead of that queue,
// nats.go holds at most max(queue size, 1024) messages and
// WithPendingBytesLimit (default 64 MiB) bytes per subscription (the
// callback empties it as fast as messages arrive, so it fills only when the
// callback's goroutine does not get to run); what nats.go drops there is
// counted in Dropped and, under the Disconnect policy, ends the
// subscription. nats.go also reports those drops to the connection's async
// error handler (nats.ErrorHandler), which belongs to the caller.
//
// Bounds (defaults): live subscriptions per bus 100,000
// (WithMaxSubscriptions); a subject 3072 bytes (WithMaxSubjectLen, below the
// server's 4096-byte control line); Subscribe's wait for the server 5 s when
// its context has no deadline (WithFlushTimeout); a message at most the
// server's max_payload (1 MiB by default, an error from Publish).
//
// All methods of Bus and of its subscriptions are safe for concurrent use.
// Subscriptions' goroutines belong to nats.go and end with them (Unsubscribe,
// Close, or the connection's close). The package keeps no global mutable
// state, never logs and never panics.
package natsbus
