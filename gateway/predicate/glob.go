package predicate

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A glob is one compiled path pattern: "/"-separated segments where "*"
// matches any run of characters within one segment, "?" one character,
// "**" (a whole segment) any number of segments including none, and
// "{name}" (a whole segment) one segment, captured as name.
type glob struct {
	text string
	segs []segment
	vars int // number of {name} segments
}

type segKind uint8

const (
	segLiteral segKind = iota
	segAny             // "*" or "{name}": any one segment
	segGlob            // * and ? within the segment
	segDeep            // "**"
)

type segment struct {
	kind segKind
	text string // the literal or the glob
	name string // the variable, for {name}
}

func compileGlob(p string) (glob, error) {
	if !strings.HasPrefix(p, "/") {
		return glob{}, fmt.Errorf("pattern %q must start with '/'", p)
	}
	g := glob{text: p}
	names := map[string]bool{}
	for s := range strings.SplitSeq(p[1:], "/") {
		switch {
		case s == "**":
			g.segs = append(g.segs, segment{kind: segDeep})
		case strings.Contains(s, "**"):
			return glob{}, fmt.Errorf("pattern %q: ** must be a whole segment", p)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if !isIdent(name) {
				return glob{}, fmt.Errorf("pattern %q: bad variable name %q", p, name)
			}
			if names[name] {
				return glob{}, fmt.Errorf("pattern %q: variable %q twice", p, name)
			}
			names[name] = true
			g.segs = append(g.segs, segment{kind: segAny, name: name})
			g.vars++
		case strings.ContainsAny(s, "{}"):
			return glob{}, fmt.Errorf("pattern %q: a {variable} must be a whole segment", p)
		case s == "*":
			g.segs = append(g.segs, segment{kind: segAny})
		case strings.ContainsAny(s, "*?"):
			g.segs = append(g.segs, segment{kind: segGlob, text: s})
		default:
			g.segs = append(g.segs, segment{kind: segLiteral, text: s})
		}
	}
	return g, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// match reports whether path matches g. When vars is non-nil it receives the
// {name} captures of the match. It allocates nothing else.
//
// The path's segments are walked by offset in rest (the path without its
// leading '/'); off == len(rest)+1 means every segment is consumed. On a
// mismatch the last "**" takes one more segment and the match resumes after
// it: the classic wildcard algorithm, linear in practice.
func (g *glob) match(path string, vars map[string]string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	rest := path[1:]
	end := len(rest) + 1
	next := func(off int) int {
		if i := strings.IndexByte(rest[off:], '/'); i >= 0 {
			return off + i + 1
		}
		return end
	}
	seg := func(off int) string {
		n := next(off)
		if n == end {
			return rest[off:]
		}
		return rest[off : n-1]
	}
	pi, off := 0, 0
	starPi, starOff := -1, 0
	for {
		if pi < len(g.segs) && g.segs[pi].kind == segDeep {
			starPi, starOff = pi, off
			pi++
			continue
		}
		if pi < len(g.segs) && off < end {
			if s := seg(off); g.segs[pi].matches(s) {
				if vars != nil && g.segs[pi].name != "" {
					vars[g.segs[pi].name] = s
				}
				pi++
				off = next(off)
				continue
			}
		}
		if pi == len(g.segs) && off == end {
			return true
		}
		if starPi < 0 || starOff == end {
			return false
		}
		starOff = next(starOff)
		pi, off = starPi+1, starOff
	}
}

func (s *segment) matches(v string) bool {
	switch s.kind {
	case segLiteral:
		return s.text == v
	case segAny:
		return true
	default:
		return wildcard(s.text, v)
	}
}

// wildcard matches v against a pattern of literal text, '*' (any run of
// characters) and '?' (one character: a UTF-8 sequence, or one byte that is
// not one).
func wildcard(p, v string) bool {
	pi, vi := 0, 0
	star, mark := -1, 0
	for vi < len(v) {
		switch {
		case pi < len(p) && p[pi] == '?':
			_, n := utf8.DecodeRuneInString(v[vi:])
			pi++
			vi += n
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, vi
			pi++
		case pi < len(p) && p[pi] == v[vi]:
			pi++
			vi++
		case star >= 0:
			_, n := utf8.DecodeRuneInString(v[mark:])
			mark += n
			pi, vi = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
