package pubsub

import "errors"

// Sentinel errors. Errors returned by this package and by the Bus
// implementations wrap them; test with errors.Is.
var (
	// ErrInvalidTopic: a topic name failed ValidateTopic (or a Bus's own
	// limit on names, such as natsbus's subject length).
	ErrInvalidTopic = errors.New("pubsub: invalid topic name")
	// ErrInvalidFilter: a topic filter failed ValidateFilter (or a Bus's own
	// limit on filters).
	ErrInvalidFilter = errors.New("pubsub: invalid topic filter")
	// ErrInvalidOption: a SubscribeOption or bus option had a value out of
	// range, such as a queue size below 1 or a queue name with white space.
	ErrInvalidOption = errors.New("pubsub: invalid option")
	// ErrClosed: the bus is closed. Publish and Subscribe return it after
	// Close, and Subscription.Err returns it for subscriptions Close ended.
	ErrClosed = errors.New("pubsub: bus closed")
	// ErrTooManySubscriptions: Subscribe would exceed the bus's bound on
	// live subscriptions.
	ErrTooManySubscriptions = errors.New("pubsub: too many subscriptions")
	// ErrSlowConsumer: the subscription's queue was full under the
	// Disconnect policy, so the bus ended it (Subscription.Err).
	ErrSlowConsumer = errors.New("pubsub: slow consumer disconnected")
	// ErrUnsubscribed: Subscription.Err after Unsubscribe.
	ErrUnsubscribed = errors.New("pubsub: unsubscribed")
	// ErrNilMessage: Publish was given a nil *Message.
	ErrNilMessage = errors.New("pubsub: nil message")
)
