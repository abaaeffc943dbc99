package predicate_test

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpbridge/mcpbridge/gateway"
	"github.com/mcpbridge/mcpbridge/gateway/predicate"
)

func TestPath(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		path     string
		want     bool
	}{
		{"literal", []string{"/user.v1.UserService/GetUser"}, "/user.v1.UserService/GetUser", true},
		{"literal case matters", []string{"/user.v1.UserService/GetUser"}, "/user.v1.userservice/GetUser", false},
		{"service, every method", []string{"/user.v1.UserService/**"}, "/user.v1.UserService/ListUsers", true},
		{"** matches zero segments", []string{"/a/**"}, "/a", true},
		{"** matches trailing slash", []string{"/a/**"}, "/a/", true},
		{"** matches many", []string{"/a/**"}, "/a/b/c/d", true},
		{"** in the middle", []string{"/a/**/z"}, "/a/b/c/z", true},
		{"** in the middle, zero", []string{"/a/**/z"}, "/a/z", true},
		{"** in the middle, no end", []string{"/a/**/z"}, "/a/b/c", false},
		{"two **", []string{"/**/b/**/d"}, "/x/b/y/b/d", true},
		{"* is one segment", []string{"/a/*"}, "/a/b", true},
		{"* is not two", []string{"/a/*"}, "/a/b/c", false},
		{"* needs a segment", []string{"/a/*"}, "/a", false},
		{"* matches an empty segment", []string{"/a/*"}, "/a/", true},
		{"* within a segment", []string{"/user.v1.*/Get*"}, "/user.v1.UserService/GetUser", true},
		{"* within a segment, no match", []string{"/user.v1.*/Get*"}, "/user.v1.UserService/ListUsers", false},
		{"? is one character", []string{"/v?/x"}, "/v2/x", true},
		{"? is not two", []string{"/v?/x"}, "/v22/x", false},
		{"{var} is one segment", []string{"/api/{svc}/x"}, "/api/users/x", true},
		{"{var} is not two", []string{"/api/{svc}"}, "/api/users/x", false},
		{"several patterns, second", []string{"/a/**", "/b/*"}, "/b/c", true},
		{"several patterns, none", []string{"/a/**", "/b/*"}, "/c/d", false},
		{"root", []string{"/"}, "/", true},
		{"/** matches root", []string{"/**"}, "/", true},
		{"no leading slash never matches", []string{"/**"}, "a/b", false},
		{"empty path", []string{"/**"}, "", false},
		{"trailing slash is a segment", []string{"/a/b"}, "/a/b/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := predicate.NewPath(tt.patterns...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Match(context.Background(), &gateway.Request{Path: tt.path})
			if err != nil || got != tt.want {
				t.Fatalf("Path(%q).Match(%q) = %v, %v; want %v", tt.patterns, tt.path, got, err, tt.want)
			}
		})
	}
}

func TestPathCapture(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		path     string
		want     map[string]string
	}{
		{"two vars", []string{"/api/{service}/{method}"}, "/api/Users/Get", map[string]string{"service": "Users", "method": "Get"}},
		{"after **", []string{"/**/{last}"}, "/a/b/c", map[string]string{"last": "c"}},
		{"backtracking keeps the final match", []string{"/**/{x}/end"}, "/a/b/end", map[string]string{"x": "b"}},
		{"first matching pattern", []string{"/v1/{a}", "/v2/{b}"}, "/v2/z", map[string]string{"b": "z"}},
		{"matching pattern without vars", []string{"/v1/**", "/{a}/x"}, "/v1/x", nil},
		{"no match", []string{"/v1/{a}"}, "/v2/z", nil},
		{"no vars", []string{"/v1/*"}, "/v1/z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := predicate.NewPath(tt.patterns...)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Capture(&gateway.Request{Path: tt.path}); !maps.Equal(got, tt.want) {
				t.Fatalf("Capture(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestPathErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    gateway.Args
		wantErr string
	}{
		{"no leading slash", gateway.ShorthandArgs("a/**"), `pattern "a/**" must start with '/'`},
		{"partial **", gateway.ShorthandArgs("/a**"), "** must be a whole segment"},
		{"partial var", gateway.ShorthandArgs("/x{a}"), "a {variable} must be a whole segment"},
		{"bad var", gateway.ShorthandArgs("/{1a}"), `bad variable name "1a"`},
		{"var twice", gateway.ShorthandArgs("/{a}/{a}"), `variable "a" twice`},
		{"no pattern", gateway.ShorthandArgs(""), `missing argument "patterns"`},
		{"second bad", gateway.ShorthandArgs("/ok/**, bad"), `pattern "bad" must start with '/'`},
		{"named unknown", gateway.NamedArgs(map[string][]string{"pattern": {"/a"}}), `unknown argument "pattern" (known: patterns)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := predicate.PathFromArgs(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("PathFromArgs() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestPathFromArgsForms(t *testing.T) {
	for _, a := range []gateway.Args{
		gateway.ShorthandArgs("/a/**, /b/*"),
		gateway.PositionalArgs("/a/**", "/b/*"),
		gateway.NamedArgs(map[string][]string{"patterns": {"/a/**", "/b/*"}}),
	} {
		p, err := predicate.PathFromArgs(a)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := p.Match(context.Background(), &gateway.Request{Path: "/b/x"}); !ok {
			t.Fatalf("Path from %+v does not match /b/x", a)
		}
	}
}

// globRegexp is a reference implementation of Path's globs.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	segs := strings.Split(pattern[1:], "/")
	for i, s := range segs {
		switch {
		case s == "**" && i == len(segs)-1:
			b.WriteString("(?:/[^/]*)*")
		case s == "**":
			b.WriteString("(?:/[^/]*)*")
		case strings.HasPrefix(s, "{"):
			b.WriteString("/[^/]*")
		default:
			b.WriteString("/")
			for _, c := range s {
				switch c {
				case '*':
					b.WriteString("[^/]*")
				case '?':
					b.WriteString("[^/]")
				default:
					b.WriteString(regexp.QuoteMeta(string(c)))
				}
			}
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// FuzzPath checks Path against the regexp reference on any pattern and path.
func FuzzPath(f *testing.F) {
	for _, s := range [][2]string{
		{"/a/**", "/a/b/c"}, {"/**/b/**/d", "/x/b/y/b/d"}, {"/a/*", "/a/"}, {"/v?/x*y", "/v1/xzzy"},
		{"/{a}/**/z", "/q/z"}, {"/", "/"}, {"/**", "/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(path) || len(pattern) > 64 || len(path) > 64 {
			return
		}
		p, err := predicate.NewPath(pattern)
		if err != nil {
			return
		}
		want := globRegexp(pattern).MatchString(path)
		got, _ := p.Match(context.Background(), &gateway.Request{Path: path})
		if got != want {
			t.Fatalf("Path(%q).Match(%q) = %v, reference says %v", pattern, path, got, want)
		}
	})
}

func BenchmarkPath(b *testing.B) {
	p, err := predicate.NewPath("/a/**/x*y/{v}/end", "/user.v1.UserService/**")
	if err != nil {
		b.Fatal(err)
	}
	req := &gateway.Request{Path: "/user.v1.UserService/GetUser"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := p.Match(ctx, req); !ok {
			b.Fatal("no match")
		}
	}
}
