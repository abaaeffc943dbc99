package natsbus

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

func TestSubjectForTopic(t *testing.T) {
	tests := []struct {
		name, topic, subject string
	}{
		{"plain", "orders/eu/created", "orders.eu.created"},
		{"one level", "a", "a"},
		{"dot", "a.b/c", "a%2Eb.c"},
		{"star and gt", "*/>/a*b", "%2A.%3E.a%2Ab"},
		{"space and tab", "a b/\tc", "a%20b.%09c"},
		{"percent", "100%/x", "100%25.x"},
		{"empty middle", "a//b", "a.%.b"},
		{"empty first", "/a", "%.a"},
		{"empty last", "a/", "a.%"},
		{"only slash", "/", "%.%"},
		{"many empty", "///", "%.%.%.%"},
		{"dollar first", "$SYS/x", "%24SYS.x"},
		{"dollar later", "a/$x/b$", "a.$x.b$"},
		{"dollar alone", "$", "%24"},
		{"utf8 kept", "zähler/€", "zähler.€"},
		{"del and control", "a\x7f/\x01", "a%7F.%01"},
		{"percent lookalike", "%/%%", "%25.%25%25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SubjectForTopic(tt.topic)
			if got != tt.subject {
				t.Fatalf("SubjectForTopic(%q) = %q, want %q", tt.topic, got, tt.subject)
			}
			back, err := TopicForSubject(got)
			if err != nil || back != tt.topic {
				t.Fatalf("TopicForSubject(%q) = %q, %v; want %q", got, back, err, tt.topic)
			}
		})
	}
}

func TestSubjectsForFilter(t *testing.T) {
	tests := []struct {
		filter string
		want   []string
	}{
		{"a/b", []string{"a.b"}},
		{"a/+", []string{"a.*"}},
		{"+", []string{"*"}},
		{"#", []string{">"}},
		{"a/#", []string{"a", "a.>"}},
		{"+/#", []string{"*", "*.>"}},
		{"a/+/#", []string{"a.*", "a.*.>"}},
		{"/#", []string{"%", "%.>"}},
		{"$SYS/#", []string{"%24SYS", "%24SYS.>"}},
		{"a.b/+/c d", []string{"a%2Eb.*.c%20d"}},
		{"a//+/", []string{"a.%.*.%"}},
	}
	for _, tt := range tests {
		if got := SubjectsForFilter(tt.filter); !slices.Equal(got, tt.want) {
			t.Errorf("SubjectsForFilter(%q) = %q, want %q", tt.filter, got, tt.want)
		}
	}
}

func TestSubjectPrefix(t *testing.T) {
	if got := encode("mcp.bus", "$a/b", false); got != "mcp.bus.%24a.b" {
		t.Errorf("encode = %q", got)
	}
	if got := subjectsForFilter("p", "a/#"); !slices.Equal(got, []string{"p.a", "p.a.>"}) {
		t.Errorf("subjectsForFilter = %q", got)
	}
	if got, err := decode("mcp.bus", "mcp.bus.%24a.b"); err != nil || got != "$a/b" {
		t.Errorf("decode = %q, %v", got, err)
	}
	for _, subject := range []string{"other.a", "mcp.busx.a", "mcp.bus", "mcp.bus."} {
		if _, err := decode("mcp.bus", subject); err == nil {
			t.Errorf("decode(%q) accepted a subject outside the prefix", subject)
		}
	}
}

func TestTopicForSubjectErrors(t *testing.T) {
	tests := []struct {
		subject, want string
	}{
		{"", "empty"},
		{"a.%2", `incomplete escape "%2"`},
		{"a.%", ""}, // valid: empty last level
		{"a.b%", `incomplete escape "%"`},
		{"a.%zz", `bad escape "%zz"`},
		{"a/b.c", `'/' in token "a/b"`},
		{"a.%2F", `escaped '/' in token "%2F"`},
		{"a.+", "wildcard '+'"},
		{"a.%00", "NUL byte"},
	}
	for _, tt := range tests {
		got, err := TopicForSubject(tt.subject)
		if tt.want == "" {
			if err != nil {
				t.Errorf("TopicForSubject(%q): %v", tt.subject, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("TopicForSubject(%q) = %q, want an error containing %q", tt.subject, got, tt.want)
			continue
		}
		if !errors.Is(err, pubsub.ErrInvalidTopic) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("TopicForSubject(%q) error %q, want ErrInvalidTopic containing %q", tt.subject, err, tt.want)
		}
	}
}

// validSubject reports whether s is a literal NATS subject nats.go and the
// server accept, that cannot reach a system subject.
func validSubject(s string, wildcards bool) bool {
	if strings.ContainsAny(s, " \t\r\n") || strings.HasPrefix(s, "$") {
		return false
	}
	for tok := range strings.SplitSeq(s, ".") {
		if tok == "" {
			return false
		}
		if !wildcards && strings.ContainsAny(tok, "*>") {
			return false
		}
		if wildcards && strings.ContainsAny(tok, "*>") && tok != "*" && tok != ">" {
			return false
		}
	}
	return true
}

func FuzzSubjectRoundTrip(f *testing.F) {
	for _, s := range []string{"a/b", "/", "$SYS/a b", "a.b/*/>", "%41", "a//b/", "zähler/€"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if pubsub.ValidateTopic(topic) != nil {
			return
		}
		subject := SubjectForTopic(topic)
		if !validSubject(subject, false) {
			t.Fatalf("topic %q gives bad subject %q", topic, subject)
		}
		back, err := TopicForSubject(subject)
		if err != nil || back != topic {
			t.Fatalf("round trip of %q via %q: %q, %v", topic, subject, back, err)
		}
		// The topic as a filter maps to its own subject.
		if got := SubjectsForFilter(topic); len(got) != 1 || got[0] != subject {
			t.Fatalf("SubjectsForFilter(%q) = %q, want [%q]", topic, got, subject)
		}
	})
}

func FuzzFilterSubjects(f *testing.F) {
	for _, s := range []string{"a/#", "+/+", "#", "$SYS/#", "a b/+/c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		if pubsub.ValidateFilter(filter) != nil {
			return
		}
		for _, s := range SubjectsForFilter(filter) {
			if !validSubject(s, true) {
				t.Fatalf("filter %q gives bad subject %q", filter, s)
			}
		}
	})
}
