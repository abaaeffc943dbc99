package natsbus

import (
	"fmt"
	"strings"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

// The mapping between topics and NATS subjects. A level becomes a token,
// '/' becomes '.', and in filters a '+' level becomes '*' and a '#' level
// '>'. NATS forbids some bytes in a token and empty tokens, so a level is
// escaped, reversibly:
//
//   - the bytes '%', '.', '*', '>', space and every other byte ≤ 0x20, and
//     DEL (0x7f) become '%' and two upper-case hex digits ("a.b" → "a%2Eb");
//   - a '$' that starts the topic becomes "%24", so that no topic reaches the
//     NATS system subjects ("$SYS/x" → "%24SYS.x", "$JS/API" → "%24JS.API");
//   - an empty level becomes the token "%" alone ("a//b" → "a.%.b"), which no
//     escaped level can be, since a '%' in a level is always followed by two
//     hex digits.
//
// Every other byte, UTF-8 included, is kept as is.

// needsEscape reports whether byte c of a level must be escaped.
func needsEscape(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '%' || c == '.' || c == '*' || c == '>'
}

const hexDigits = "0123456789ABCDEF"

// SubjectForTopic returns the NATS subject for a valid topic name, without
// a bus's subject prefix.
func SubjectForTopic(topic string) string { return encode("", topic, false) }

// SubjectsForFilter returns the NATS subjects whose union matches what the
// valid filter matches, without a bus's subject prefix: one subject, or two
// for a filter ending in "/#", which also matches its parent ("a/#" →
// "a" and "a.>"). A topic starting with '$' may match a subject whose first
// token is a wildcard; the bus itself drops it, by pubsub.Match.
func SubjectsForFilter(filter string) []string {
	return subjectsForFilter("", filter)
}

func subjectsForFilter(prefix, filter string) []string {
	if parent, ok := strings.CutSuffix(filter, "/#"); ok {
		return []string{encode(prefix, parent, true), encode(prefix, filter, true)}
	}
	return []string{encode(prefix, filter, true)}
}

// TopicForSubject returns the topic name for a subject made by
// SubjectForTopic (or by any publisher following the same scheme). It fails
// with an error wrapping pubsub.ErrInvalidTopic for a subject that decodes to
// no valid topic name: a wildcard token, a malformed escape, a '/' in a
// token.
func TopicForSubject(subject string) (string, error) { return decode("", subject) }

// encode maps a topic name, or a filter if filter is set, to a subject under
// prefix ("" for none). It allocates once.
func encode(prefix, name string, filter bool) string {
	n := len(name)
	if prefix != "" {
		n += len(prefix) + 1
	}
	if name != "" && name[0] == '$' {
		n += 2
	}
	prev := byte('/') // an empty level is a '/' at the start, after a '/', or at the end
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '/' && prev == '/':
			n++
		case needsEscape(c):
			n += 2
		}
		prev = c
	}
	if prev == '/' {
		n++
	}

	var sb strings.Builder
	sb.Grow(n)
	if prefix != "" {
		sb.WriteString(prefix)
		sb.WriteByte('.')
	}
	first := true
	for rest := name; ; first = false {
		level, next, more := strings.Cut(rest, "/")
		switch {
		case level == "":
			sb.WriteByte('%')
		case filter && level == "+":
			sb.WriteByte('*')
		case filter && level == "#":
			sb.WriteByte('>')
		default:
			start := 0
			for i := 0; i < len(level); i++ {
				c := level[i]
				if !needsEscape(c) && (c != '$' || i != 0 || !first) {
					continue
				}
				sb.WriteString(level[start:i])
				sb.WriteByte('%')
				sb.WriteByte(hexDigits[c>>4])
				sb.WriteByte(hexDigits[c&15])
				start = i + 1
			}
			sb.WriteString(level[start:])
		}
		if !more {
			return sb.String()
		}
		sb.WriteByte('.')
		rest = next
	}
}

// decode maps a subject under prefix back to a valid topic name.
func decode(prefix, subject string) (string, error) {
	if prefix != "" {
		rest, ok := strings.CutPrefix(subject, prefix)
		if !ok || rest == "" || rest[0] != '.' {
			return "", subjectError(subject, "not under the bus's subject prefix %q", prefix)
		}
		subject = rest[1:]
	}
	if subject == "" {
		return "", subjectError(subject, "empty")
	}
	var topic string
	if strings.IndexByte(subject, '%') < 0 && strings.IndexByte(subject, '/') < 0 {
		topic = strings.ReplaceAll(subject, ".", "/")
	} else {
		var sb strings.Builder
		sb.Grow(len(subject))
		for rest := subject; ; {
			token, next, more := strings.Cut(rest, ".")
			if token != "%" { // "%" alone is an empty level
				for i := 0; i < len(token); i++ {
					switch c := token[i]; c {
					case '/':
						return "", subjectError(subject, "'/' in token %q", token)
					case '%':
						if i+2 >= len(token) {
							return "", subjectError(subject, "incomplete escape %q in token %q", token[i:], token)
						}
						hi, lo := unhex(token[i+1]), unhex(token[i+2])
						if hi < 0 || lo < 0 {
							return "", subjectError(subject, "bad escape %q in token %q", token[i:i+3], token)
						}
						c = byte(hi<<4 | lo)
						if c == '/' {
							return "", subjectError(subject, "escaped '/' in token %q", token)
						}
						sb.WriteByte(c)
						i += 2
					default:
						sb.WriteByte(c)
					}
				}
			}
			if !more {
				break
			}
			sb.WriteByte('/')
			rest = next
		}
		topic = sb.String()
	}
	if err := pubsub.ValidateTopic(topic); err != nil {
		return "", fmt.Errorf("natsbus: NATS subject %q: %w", subject, err)
	}
	return topic, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

func subjectError(subject, format string, args ...any) error {
	return fmt.Errorf("%w: NATS subject %q: %s", pubsub.ErrInvalidTopic, subject, fmt.Sprintf(format, args...))
}
