package pubsubsvc

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pubsubv1 "github.com/mcpbridge/mcpbridge/proto/pubsub/v1"
	"github.com/mcpbridge/mcpbridge/pubsub"
)

// An Option configures New.
type Option interface{ apply(*service) }

type optionFunc func(*service)

func (f optionFunc) apply(s *service) { f(s) }

// WithSubscribeOptions adds bus options to every subscription the service
// opens, before the request's queue group: typically pubsub.WithQueueSize
// and pubsub.WithSlowConsumerPolicy. Default none (the bus's defaults: a
// queue of pubsub.DefaultQueueSize messages, pubsub.DropNewest).
func WithSubscribeOptions(opts ...pubsub.SubscribeOption) Option {
	return optionFunc(func(s *service) { s.subOpts = append(s.subOpts, opts...) })
}

// service implements pubsubv1.PubSubServer on a bus.
type service struct {
	pubsubv1.UnimplementedPubSubServer
	bus     pubsub.Bus
	subOpts []pubsub.SubscribeOption
}

// New returns the pubsub.v1.PubSub service on bus. The service does not close
// bus.
func New(bus pubsub.Bus, opts ...Option) pubsubv1.PubSubServer {
	s := &service{bus: bus}
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	return s
}

// Publish publishes the request's message on the bus.
func (s *service) Publish(ctx context.Context, req *pubsubv1.PublishRequest) (*pubsubv1.PublishResponse, error) {
	h, err := headerFromProto(req.GetHeaders())
	if err != nil {
		return nil, err
	}
	m := &pubsub.Message{Topic: req.GetTopic(), Payload: req.GetPayload(), Header: h}
	if err := s.bus.Publish(ctx, m); err != nil {
		return nil, toStatus(err).Err()
	}
	return &pubsubv1.PublishResponse{}, nil
}

// Subscribe streams the messages matching the request's filter.
func (s *service) Subscribe(req *pubsubv1.SubscribeRequest, stream grpc.ServerStreamingServer[pubsubv1.Message]) error {
	ctx := stream.Context()
	opts := s.subOpts
	if q := req.GetQueue(); q != "" {
		opts = append(opts[:len(opts):len(opts)], pubsub.WithQueue(q))
	}
	sub, err := s.bus.Subscribe(ctx, req.GetFilter(), opts...)
	if err != nil {
		return toStatus(err).Err()
	}
	defer sub.Unsubscribe()
	// The header tells the client that the subscription is in place.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	c := sub.C()
	for {
		select {
		case m, ok := <-c:
			if !ok {
				return endStatus(sub.Err()).Err()
			}
			if err := stream.Send(toProto(m)); err != nil {
				return err
			}
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// endStatus is the status of a call whose subscription the bus ended.
func endStatus(err error) *status.Status {
	if errors.Is(err, pubsub.ErrSlowConsumer) {
		return status.New(codes.ResourceExhausted, "slow consumer: the subscription's queue overflowed while the stream was backed up; subscribe again")
	}
	if st := toStatus(err); st != nil {
		return st
	}
	return status.New(codes.Unavailable, "the subscription ended")
}

// toStatus converts a bus error to a status. The bus's own errors describe
// the caller's topic, filter or options and are passed on; others (a
// transport's) are not, as they may describe the server's internals.
func toStatus(err error) *status.Status {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pubsub.ErrInvalidTopic), errors.Is(err, pubsub.ErrInvalidFilter),
		errors.Is(err, pubsub.ErrInvalidOption), errors.Is(err, pubsub.ErrNilMessage):
		return status.New(codes.InvalidArgument, err.Error())
	case errors.Is(err, pubsub.ErrTooManySubscriptions), errors.Is(err, pubsub.ErrSlowConsumer):
		return status.New(codes.ResourceExhausted, err.Error())
	case errors.Is(err, pubsub.ErrClosed):
		return status.New(codes.Unavailable, "pubsub: the bus is closed")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err)
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.New(codes.Unknown, "pubsub: the bus failed")
}

// headerFromProto converts a request's headers to a message header.
func headerFromProto(in map[string]string) (pubsub.Header, error) {
	if len(in) == 0 {
		return nil, nil
	}
	h := make(pubsub.Header, len(in))
	for k, v := range in {
		if k == "" {
			return nil, status.Error(codes.InvalidArgument, "pubsub: header with an empty key")
		}
		k = strings.ToLower(k)
		if !strings.HasSuffix(k, "-bin") {
			h[k] = append(h[k], v)
			continue
		}
		for part := range strings.SplitSeq(v, ",") {
			b, err := decodeBin(part)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "pubsub: header %q: the value is not base64", k)
			}
			h[k] = append(h[k], string(b))
		}
	}
	return h, nil
}

// decodeBin decodes a "-bin" value, padded or not, as gRPC does.
func decodeBin(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// toProto converts a bus message for the stream.
func toProto(m *pubsub.Message) *pubsubv1.Message {
	out := &pubsubv1.Message{Topic: m.Topic, Payload: m.Payload}
	if len(m.Header) == 0 {
		return out
	}
	out.Headers = make(map[string]string, len(m.Header))
	for k, vs := range m.Header {
		if len(vs) == 0 || !utf8.ValidString(k) {
			continue
		}
		if strings.HasSuffix(k, "-bin") {
			parts := make([]string, len(vs))
			for i, v := range vs {
				parts[i] = base64.StdEncoding.EncodeToString([]byte(v))
			}
			out.Headers[k] = strings.Join(parts, ",")
			continue
		}
		var kept []string
		for _, v := range vs {
			if utf8.ValidString(v) {
				kept = append(kept, v)
			}
		}
		if len(kept) > 0 {
			out.Headers[k] = strings.Join(kept, ", ")
		}
	}
	return out
}
