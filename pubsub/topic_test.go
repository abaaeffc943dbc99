package pubsub_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcpbridge/mcpbridge/pubsub"
)

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		name    string
		topic   string
		wantErr string // substring of the error; "" means valid
	}{
		{name: "simple", topic: "orders/eu/created"},
		{name: "one level", topic: "a"},
		{name: "empty levels", topic: "a//b"},
		{name: "leading slash", topic: "/a"},
		{name: "trailing slash", topic: "a/"},
		{name: "only slash", topic: "/"},
		{name: "dollar", topic: "$SYS/broker/load"},
		{name: "space and dots", topic: "a b/c.d/*>"},
		{name: "utf8", topic: "zähler/€/温度"},
		{name: "max levels", topic: strings.Repeat("a/", pubsub.MaxLevels-1) + "a"},
		{name: "max length", topic: strings.Repeat("x", pubsub.MaxTopicLen)},
		{name: "empty", topic: "", wantErr: "empty"},
		{name: "plus", topic: "a/+/b", wantErr: `wildcard '+' at byte 2`},
		{name: "hash", topic: "a/#", wantErr: `wildcard '#' at byte 2`},
		{name: "plus inside level", topic: "a+b", wantErr: `wildcard '+' at byte 1`},
		{name: "NUL", topic: "a/\x00", wantErr: "NUL byte at byte 2"},
		{name: "too long", topic: strings.Repeat("x", pubsub.MaxTopicLen+1), wantErr: "65536 bytes, over the limit of 65535"},
		{name: "too many levels", topic: strings.Repeat("a/", pubsub.MaxLevels) + "a", wantErr: "33 levels, over the limit of 32"},
		{name: "bad utf8", topic: "a/\xff", wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pubsub.ValidateTopic(tt.topic)
			checkNameErr(t, err, pubsub.ErrInvalidTopic, tt.wantErr)
		})
	}
}

func TestValidateFilter(t *testing.T) {
	tests := []struct {
		name    string
		filter  string
		wantErr string
	}{
		{name: "exact", filter: "orders/eu/created"},
		{name: "plus", filter: "orders/+/created"},
		{name: "plus only", filter: "+"},
		{name: "plus plus", filter: "+/+"},
		{name: "hash only", filter: "#"},
		{name: "trailing hash", filter: "orders/#"},
		{name: "plus then hash", filter: "+/#"},
		{name: "empty levels", filter: "a//+/"},
		{name: "leading slash hash", filter: "/#"},
		{name: "dollar", filter: "$SYS/#"},
		{name: "max levels", filter: strings.Repeat("+/", pubsub.MaxLevels-1) + "#"},
		{name: "empty", filter: "", wantErr: "empty"},
		{name: "hash not last", filter: "a/#/b", wantErr: "'#' at level 2 is not the last level"},
		{name: "hash first not last", filter: "#/a", wantErr: "'#' at level 1 is not the last level"},
		{name: "plus mixed", filter: "a+/b", wantErr: `level 1 "a+" mixes wildcard '+'`},
		{name: "plus mixed after", filter: "a/+b", wantErr: `level 2 "+b" mixes wildcard '+'`},
		{name: "hash mixed", filter: "a/b#", wantErr: `level 2 "b#" mixes wildcard '#'`},
		{name: "double hash", filter: "a/##", wantErr: `level 2 "##" mixes wildcard '#'`},
		{name: "plus hash in one level", filter: "+#", wantErr: `level 1 "+#" mixes wildcard '+'`},
		{name: "NUL", filter: "a/\x00/#", wantErr: "NUL byte at byte 2"},
		{name: "too long", filter: strings.Repeat("x", pubsub.MaxTopicLen+1), wantErr: "over the limit of 65535"},
		{name: "too many levels", filter: strings.Repeat("+/", pubsub.MaxLevels) + "#", wantErr: "more than 32 levels"},
		{name: "bad utf8", filter: "+/\xc3", wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pubsub.ValidateFilter(tt.filter)
			checkNameErr(t, err, pubsub.ErrInvalidFilter, tt.wantErr)
		})
	}
}

func checkNameErr(t *testing.T, err, sentinel error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %v does not wrap %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

// matchTests is shared by TestMatch and the local bus test, so the trie and
// Match are held to one table.
var matchTests = []struct {
	filter, topic string
	want          bool
}{
	{"a", "a", true},
	{"a", "b", false},
	{"a", "a/b", false},
	{"a/b", "a", false},
	{"a/b", "a/b", true},
	{"a/b", "a/b/", false},
	{"a/b/", "a/b/", true},
	{"+", "a", true},
	{"+", "a/b", false},
	{"+", "/", false},
	{"+/+", "/", true},
	{"+/+", "a/", true},
	{"a/+", "a/", true},
	{"a/+", "a", false},
	{"a/+", "a/b", true},
	{"a/+", "a/b/c", false},
	{"a/+/c", "a/b/c", true},
	{"a/+/c", "a//c", true},
	{"a/+/c", "a/b/d", false},
	{"+/b", "a/b", true},
	{"/+", "/a", true},
	{"/+", "a", false},
	{"#", "a", true},
	{"#", "a/b/c", true},
	{"#", "/", true},
	{"#", "/a", true},
	{"a/#", "a", true},
	{"a/#", "a/", true},
	{"a/#", "a/b", true},
	{"a/#", "a/b/c", true},
	{"a/#", "ab", false},
	{"a/#", "b/a", false},
	{"a/b/#", "a", false},
	{"a/b/#", "a/b", true},
	{"+/#", "a", true},
	{"+/#", "a/b", true},
	{"a/+/#", "a", false},
	{"a/+/#", "a/", true},
	{"a/+/#", "a/b", true},
	{"a/+/#", "a/b/c/d", true},
	{"/#", "/", true},
	{"/#", "/a", true},
	{"/#", "a", false},
	// '$' topics are not matched by a filter starting with a wildcard.
	{"#", "$SYS/x", false},
	{"#", "$SYS", false},
	{"+/x", "$SYS/x", false},
	{"+", "$SYS", false},
	{"+/#", "$SYS/x", false},
	{"$SYS/#", "$SYS/x", true},
	{"$SYS/#", "$SYS", true},
	{"$SYS/+", "$SYS/x", true},
	{"$SYS", "$SYS", true},
	{"a/#", "a/$x", true},
	{"a/+", "a/$x", true},
	{"#", "a$", true},
	// Non-ASCII and odd characters are plain level text.
	{"zähler/+", "zähler/€", true},
	{"a b/+", "a b/c.d", true},
	{"a.b", "a/b", false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		if err := pubsub.ValidateFilter(tt.filter); err != nil {
			t.Fatalf("bad test filter: %v", err)
		}
		if err := pubsub.ValidateTopic(tt.topic); err != nil {
			t.Fatalf("bad test topic: %v", err)
		}
		if got := pubsub.Match(tt.filter, tt.topic); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}

func TestIsWildcard(t *testing.T) {
	tests := []struct {
		filter string
		want   bool
	}{
		{"a/b", false},
		{"a/+", true},
		{"#", true},
		{"a/#", true},
		{"$SYS/x", false},
	}
	for _, tt := range tests {
		if got := pubsub.IsWildcard(tt.filter); got != tt.want {
			t.Errorf("IsWildcard(%q) = %v, want %v", tt.filter, got, tt.want)
		}
	}
}

func TestErrorMessageTruncatesLongNames(t *testing.T) {
	err := pubsub.ValidateTopic(strings.Repeat("x", 70000))
	if len(err.Error()) > 200 {
		t.Errorf("error message is %d bytes: %.100q...", len(err.Error()), err)
	}
}
