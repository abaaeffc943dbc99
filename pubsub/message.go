package pubsub

// Message is one publication.
//
// A Message is shared, not copied: the local bus hands the very pointer given
// to Publish to every matching subscriber. So once Publish is called, neither
// the publisher nor any subscriber may modify the Message, its Payload or its
// Header; a subscriber that wants to change one copies it first (Clone).
type Message struct {
	// Topic is the concrete topic name (never a filter), valid by
	// ValidateTopic.
	Topic string
	// Payload is the body, opaque to the bus (protobuf by default on MCP).
	Payload []byte
	// Header is the metadata (MCP/1 metadata, gRPC metadata, MQTT 5 user
	// properties); nil when there is none.
	Header Header
}

// Clone returns a deep copy of m that the caller may modify.
func (m *Message) Clone() *Message {
	c := &Message{Topic: m.Topic, Header: m.Header.Clone()}
	if m.Payload != nil {
		c.Payload = append([]byte(nil), m.Payload...)
	}
	return c
}
