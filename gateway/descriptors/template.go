package descriptors

import (
	"fmt"
	"net/url"
	"strings"
)

// Template is a compiled google.api.http path template:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// "**" matches zero or more segments and may only be the last segment. A
// variable without "=" matches one segment ("{x}" is "{x=*}").
type Template struct {
	src      string
	segs     []seg
	vars     []tvar
	verb     string
	multi    bool // the last segment is "**"
	literals int  // literal segments, for ordering
}

type segKind uint8

const (
	segLiteral segKind = iota
	segOne             // *
	segMulti           // **
)

type seg struct {
	kind segKind
	lit  string
}

// tvar is a variable: the field path it sets and the segments [start, end)
// it covers (end is -1 when it ends with "**").
type tvar struct {
	field      string
	start, end int
}

// String returns the template as written.
func (t *Template) String() string { return t.src }

// Verb returns the template's custom verb, "" if none.
func (t *Template) Verb() string { return t.verb }

// Fields returns the field paths of the template's variables, in order.
func (t *Template) Fields() []string {
	out := make([]string, len(t.vars))
	for i, v := range t.vars {
		out[i] = v.field
	}
	return out
}

// ParseTemplate parses a google.api.http path template.
func ParseTemplate(s string) (*Template, error) {
	p := &tparser{src: s}
	t, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("path template %q: %w", s, err)
	}
	return t, nil
}

type tparser struct {
	src string
	i   int
	t   *Template
}

func (p *tparser) parse() (*Template, error) {
	p.t = &Template{src: p.src}
	if !strings.HasPrefix(p.src, "/") {
		return nil, fmt.Errorf("must start with '/'")
	}
	p.i = 1
	if err := p.segments(false); err != nil {
		return nil, err
	}
	if p.i < len(p.src) && p.src[p.i] == ':' {
		verb := p.src[p.i+1:]
		if verb == "" || strings.ContainsAny(verb, "/{}*:") {
			return nil, fmt.Errorf("bad verb %q", verb)
		}
		p.t.verb = verb
		p.i = len(p.src)
	}
	if p.i != len(p.src) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.src[p.i], p.i)
	}
	for i, s := range p.t.segs {
		if s.kind == segMulti && i != len(p.t.segs)-1 {
			return nil, fmt.Errorf("'**' must be the last segment")
		}
		if s.kind == segLiteral {
			p.t.literals++
		}
	}
	if n := len(p.t.segs); n > 0 && p.t.segs[n-1].kind == segMulti {
		p.t.multi = true
		for i := range p.t.vars {
			if p.t.vars[i].end == n {
				p.t.vars[i].end = -1
			}
		}
	}
	return p.t, nil
}

// segments parses Segments; inVar stops at '}'.
func (p *tparser) segments(inVar bool) error {
	for {
		if err := p.segment(inVar); err != nil {
			return err
		}
		if p.i < len(p.src) && p.src[p.i] == '/' {
			p.i++
			continue
		}
		return nil
	}
}

func (p *tparser) segment(inVar bool) error {
	rest := p.src[p.i:]
	switch {
	case strings.HasPrefix(rest, "**"):
		p.t.segs = append(p.t.segs, seg{kind: segMulti})
		p.i += 2
	case strings.HasPrefix(rest, "*"):
		p.t.segs = append(p.t.segs, seg{kind: segOne})
		p.i++
	case strings.HasPrefix(rest, "{"):
		if inVar {
			return fmt.Errorf("nested variable at offset %d", p.i)
		}
		return p.variable()
	default:
		j := strings.IndexAny(rest, "/{}*:=")
		if j < 0 {
			j = len(rest)
		}
		if j == 0 {
			if rest == "" {
				return fmt.Errorf("empty segment at the end")
			}
			return fmt.Errorf("unexpected %q at offset %d", rest[0], p.i)
		}
		lit := rest[:j]
		if u, err := url.PathUnescape(lit); err != nil {
			return fmt.Errorf("bad literal %q: %v", lit, err)
		} else {
			lit = u
		}
		p.t.segs = append(p.t.segs, seg{kind: segLiteral, lit: lit})
		p.i += j
	}
	return nil
}

func (p *tparser) variable() error {
	p.i++ // {
	rest := p.src[p.i:]
	j := strings.IndexAny(rest, "=}")
	if j < 0 {
		return fmt.Errorf("unterminated variable")
	}
	field := rest[:j]
	for _, id := range strings.Split(field, ".") {
		if !isIdent(id) {
			return fmt.Errorf("bad field path %q", field)
		}
	}
	for _, v := range p.t.vars {
		if v.field == field {
			return fmt.Errorf("field %q bound twice", field)
		}
	}
	p.i += j
	v := tvar{field: field, start: len(p.t.segs)}
	if p.src[p.i] == '=' {
		p.i++
		if err := p.segments(true); err != nil {
			return err
		}
	} else {
		p.t.segs = append(p.t.segs, seg{kind: segOne})
	}
	if p.i >= len(p.src) || p.src[p.i] != '}' {
		return fmt.Errorf("unterminated variable %q", field)
	}
	p.i++
	v.end = len(p.t.segs)
	p.t.vars = append(p.t.vars, v)
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Match matches an escaped URL path (as url.URL.EscapedPath returns it)
// against t. It returns the variables' values, unescaped, in the order of
// Fields, and whether the path matched. Multi-segment variables keep "%2F"
// escaped, as the specification asks.
func (t *Template) Match(path string) ([]string, bool) {
	if len(path) == 0 || path[0] != '/' {
		return nil, false
	}
	path = path[1:]
	if t.verb != "" {
		var ok bool
		if path, ok = strings.CutSuffix(path, ":"+t.verb); !ok {
			return nil, false
		}
	}
	// Split without allocating a slice when there are no variables.
	var parts [16]string
	segs := parts[:0]
	if path != "" || !t.multi {
		for {
			i := strings.IndexByte(path, '/')
			if i < 0 {
				segs = append(segs, path)
				break
			}
			segs = append(segs, path[:i])
			path = path[i+1:]
		}
	}
	n := len(t.segs)
	if t.multi {
		if len(segs) < n-1 {
			return nil, false
		}
	} else if len(segs) != n {
		return nil, false
	}
	for i, s := range t.segs {
		switch s.kind {
		case segLiteral:
			if segs[i] != s.lit {
				return nil, false
			}
		case segOne:
			if segs[i] == "" {
				return nil, false
			}
		}
	}
	if len(t.vars) == 0 {
		return nil, true
	}
	vals := make([]string, len(t.vars))
	for k, v := range t.vars {
		end := v.end
		if end < 0 {
			end = len(segs)
		}
		if end-v.start == 1 {
			u, err := url.PathUnescape(segs[v.start])
			if err != nil {
				return nil, false
			}
			vals[k] = u
			continue
		}
		var b strings.Builder
		for i := v.start; i < end; i++ {
			if i > v.start {
				b.WriteByte('/')
			}
			u, err := url.PathUnescape(strings.ReplaceAll(segs[i], "%2F", "%252F"))
			if err != nil {
				return nil, false
			}
			b.WriteString(u)
		}
		vals[k] = b.String()
	}
	return vals, true
}
