package pubsub

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds on topic names and filters.
const (
	// MaxTopicLen is the longest topic name or filter, in bytes (MQTT's
	// limit).
	MaxTopicLen = 65535
	// MaxLevels is the most levels a topic name or filter may have
	// ("a/b/c" has 3). It bounds the matching work per publish.
	MaxLevels = 32
)

// nameError is an invalid topic name or filter: the sentinel it wraps, the
// name, and what exactly is wrong with it.
type nameError struct {
	sentinel error
	name     string
	reason   string
}

func (e *nameError) Error() string {
	return fmt.Sprintf("%v %s: %s", e.sentinel, quoteShort(e.name), e.reason)
}

func (e *nameError) Unwrap() error { return e.sentinel }

// quoteShort quotes s for an error message, cut to its first 64 bytes.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
}

func topicError(name, format string, args ...any) error {
	return &nameError{sentinel: ErrInvalidTopic, name: name, reason: fmt.Sprintf(format, args...)}
}

func filterError(filter, format string, args ...any) error {
	return &nameError{sentinel: ErrInvalidFilter, name: filter, reason: fmt.Sprintf(format, args...)}
}

// ValidateTopic reports whether name is a valid topic name: 1 to MaxTopicLen
// bytes of UTF-8 without NUL, at most MaxLevels '/'-separated levels, and no
// wildcard ('+' or '#'). Levels may be empty ("a//b", "/a", "a/"). A name
// that starts with '$' is valid; wildcard-led filters do not match it. The
// error wraps ErrInvalidTopic.
func ValidateTopic(name string) error {
	if name == "" {
		return topicError(name, "empty")
	}
	if len(name) > MaxTopicLen {
		return topicError(name, "%d bytes, over the limit of %d", len(name), MaxTopicLen)
	}
	levels := 1
	ascii := true
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/':
			levels++
		case c == '+' || c == '#':
			return topicError(name, "wildcard %q at byte %d: wildcards belong in filters, not topic names", c, i)
		case c == 0:
			return topicError(name, "NUL byte at byte %d", i)
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if levels > MaxLevels {
		return topicError(name, "%d levels, over the limit of %d", levels, MaxLevels)
	}
	if !ascii && !utf8.ValidString(name) {
		return topicError(name, "not valid UTF-8")
	}
	return nil
}

// ValidateFilter reports whether filter is a valid topic filter: the rules
// of ValidateTopic, except that a level may be exactly "+" (any one level,
// including an empty one) or, as the last level only, exactly "#" (any number
// of further levels, zero included: "a/#" matches "a"). A wildcard mixed with
// other characters in a level ("a+", "#b") is invalid. The error wraps
// ErrInvalidFilter.
func ValidateFilter(filter string) error {
	if filter == "" {
		return filterError(filter, "empty")
	}
	if len(filter) > MaxTopicLen {
		return filterError(filter, "%d bytes, over the limit of %d", len(filter), MaxTopicLen)
	}
	levels := 0
	ascii := true
	start := 0
	for i := 0; i <= len(filter); i++ {
		if i < len(filter) {
			switch c := filter[i]; {
			case c == 0:
				return filterError(filter, "NUL byte at byte %d", i)
			case c >= utf8.RuneSelf:
				ascii = false
				continue
			case c != '/':
				continue
			}
		}
		levels++
		if levels > MaxLevels {
			return filterError(filter, "more than %d levels", MaxLevels)
		}
		level := filter[start:i]
		if w := strings.IndexAny(level, "+#"); w >= 0 {
			if len(level) != 1 {
				return filterError(filter, "level %d %q mixes wildcard %q with other characters; a wildcard must be a whole level", levels, level, level[w])
			}
			if level == "#" && i != len(filter) {
				return filterError(filter, "'#' at level %d is not the last level; '#' may only end a filter", levels)
			}
		}
		start = i + 1
	}
	if !ascii && !utf8.ValidString(filter) {
		return filterError(filter, "not valid UTF-8")
	}
	return nil
}

// IsWildcard reports whether filter contains a wildcard level ('+' or '#'),
// that is, whether it can match more than one topic name.
func IsWildcard(filter string) bool {
	for rest := filter; ; {
		level, next, more := strings.Cut(rest, "/")
		if level == "+" || level == "#" {
			return true
		}
		if !more {
			return false
		}
		rest = next
	}
}

// Match reports whether the topic name matches the filter, with the rules
// above: '+' matches exactly one level (an empty one too), a trailing '#'
// matches zero or more levels, and a topic name starting with '$' is not
// matched by a filter whose first level is a wildcard. Both arguments are
// assumed valid (ValidateTopic, ValidateFilter); Match allocates nothing.
func Match(filter, topic string) bool {
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "a/#" matches "a"
		}
		filter, topic = frest, trest
	}
}
