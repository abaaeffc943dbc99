package descriptors

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Method is one RPC method of an Index.
type Method struct {
	// Path is the method's call path, "/package.Service/Method".
	Path string
	// Desc is the method's descriptor.
	Desc protoreflect.MethodDescriptor
	// Input and Output are the request and response message types.
	Input, Output protoreflect.MessageDescriptor
	// ClientStreaming and ServerStreaming give the call's shape.
	ClientStreaming, ServerStreaming bool
	// Bindings are the method's google.api.http rules (the main rule and
	// its additional bindings), compiled.
	Bindings []*Binding

	aux atomic.Value
}

// Aux returns what SetAux stored, nil if nothing: a slot for a user of the
// index (the transcoder) to keep what it precomputes per method, so that it
// lives as long as the index.
func (m *Method) Aux() any { return m.aux.Load() }

// SetAux stores v (always of the same concrete type) in the method's slot.
func (m *Method) SetAux(v any) { m.aux.Store(v) }

// Binding is one compiled google.api.http rule.
type Binding struct {
	Method *Method
	// HTTPMethod is GET, PUT, POST, DELETE, PATCH or a custom kind.
	HTTPMethod string
	// Template is the URL path template.
	Template *Template
	// Body is "" (no body), "*" (the whole request message) or the name of
	// the top-level request field the body maps to (BodyField).
	Body      string
	BodyField protoreflect.FieldDescriptor
	// ResponseBody is the response field sent as the body; nil means the
	// whole response message.
	ResponseBody protoreflect.FieldDescriptor
	// PathFields are the request fields the template's variables set,
	// parallel to Template.Fields().
	PathFields [][]protoreflect.FieldDescriptor
}

// Index is an immutable set of service descriptors, indexed for the
// gateway: methods by call path and HTTP bindings by HTTP method. Build it
// with NewIndex; it is safe for concurrent use.
type Index struct {
	files    *protoregistry.Files
	types    *dynamicpb.Types
	methods  map[string]*Method
	bindings map[string][]*Binding // by HTTP method, best match first
	services []string
	problems []string
}

// NewIndex indexes the services of set, whose files must include all their
// dependencies (in any order). Bindings that cannot be compiled (a bad
// template, a field that does not exist) are left out and reported by
// Problems; a set that does not link is an error.
func NewIndex(set *descriptorpb.FileDescriptorSet) (*Index, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("descriptors: %w", err)
	}
	x := &Index{
		files:    files,
		types:    dynamicpb.NewTypes(files),
		methods:  map[string]*Method{},
		bindings: map[string][]*Binding{},
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := range svcs.Len() {
			x.addService(svcs.Get(i))
		}
		return true
	})
	slices.Sort(x.services)
	for _, bs := range x.bindings {
		slices.SortStableFunc(bs, compareBindings)
	}
	return x, nil
}

// compareBindings orders the bindings of one HTTP method: the most specific
// template first (a custom verb, more literal segments, more segments, no
// trailing "**").
func compareBindings(a, b *Binding) int {
	ta, tb := a.Template, b.Template
	if (ta.verb != "") != (tb.verb != "") {
		if ta.verb != "" {
			return -1
		}
		return 1
	}
	if ta.literals != tb.literals {
		return tb.literals - ta.literals
	}
	if ta.multi != tb.multi {
		if ta.multi {
			return 1
		}
		return -1
	}
	return len(tb.segs) - len(ta.segs)
}

func (x *Index) addService(sd protoreflect.ServiceDescriptor) {
	x.services = append(x.services, string(sd.FullName()))
	ms := sd.Methods()
	for i := range ms.Len() {
		md := ms.Get(i)
		m := &Method{
			Path:            "/" + string(sd.FullName()) + "/" + string(md.Name()),
			Desc:            md,
			Input:           md.Input(),
			Output:          md.Output(),
			ClientStreaming: md.IsStreamingClient(),
			ServerStreaming: md.IsStreamingServer(),
		}
		x.methods[m.Path] = m
		rule := httpRule(md)
		if rule == nil {
			continue
		}
		rules := append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...)
		for _, r := range rules {
			b, err := compileBinding(m, r)
			if err != nil {
				x.problems = append(x.problems, fmt.Sprintf("%s: %v", m.Path, err))
				continue
			}
			m.Bindings = append(m.Bindings, b)
			x.bindings[b.HTTPMethod] = append(x.bindings[b.HTTPMethod], b)
		}
	}
}

// httpRule returns md's google.api.http option, or nil.
func httpRule(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil
	}
	if !proto.HasExtension(opts, annotations.E_Http) {
		// Options built from bytes may hold the extension as unknown
		// fields: parse them again with the extension known.
		if len(opts.ProtoReflect().GetUnknown()) == 0 {
			return nil
		}
		b, err := proto.Marshal(opts)
		if err != nil {
			return nil
		}
		opts = &descriptorpb.MethodOptions{}
		if err := proto.Unmarshal(b, opts); err != nil || !proto.HasExtension(opts, annotations.E_Http) {
			return nil
		}
	}
	r, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	return r
}

func compileBinding(m *Method, r *annotations.HttpRule) (*Binding, error) {
	b := &Binding{Method: m}
	var path string
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		b.HTTPMethod, path = "GET", p.Get
	case *annotations.HttpRule_Put:
		b.HTTPMethod, path = "PUT", p.Put
	case *annotations.HttpRule_Post:
		b.HTTPMethod, path = "POST", p.Post
	case *annotations.HttpRule_Delete:
		b.HTTPMethod, path = "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		b.HTTPMethod, path = "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		b.HTTPMethod, path = strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
	default:
		return nil, fmt.Errorf("google.api.http rule without a pattern")
	}
	t, err := ParseTemplate(path)
	if err != nil {
		return nil, err
	}
	b.Template = t
	for _, f := range t.Fields() {
		fp, err := FieldPath(m.Input, f, false)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", b.HTTPMethod, path, err)
		}
		last := fp[len(fp)-1]
		if last.IsList() || last.IsMap() || (last.Kind() == protoreflect.MessageKind && !IsScalarWKT(last.Message())) {
			return nil, fmt.Errorf("%s %s: path variable %q is not a singular scalar field", b.HTTPMethod, path, f)
		}
		b.PathFields = append(b.PathFields, fp)
	}
	switch b.Body = r.GetBody(); b.Body {
	case "", "*":
	default:
		fd := m.Input.Fields().ByName(protoreflect.Name(b.Body))
		if fd == nil {
			return nil, fmt.Errorf("%s %s: body field %q not in %s", b.HTTPMethod, path, b.Body, m.Input.FullName())
		}
		b.BodyField = fd
	}
	if rb := r.GetResponseBody(); rb != "" {
		fd := m.Output.Fields().ByName(protoreflect.Name(rb))
		if fd == nil {
			return nil, fmt.Errorf("%s %s: response_body field %q not in %s", b.HTTPMethod, path, rb, m.Output.FullName())
		}
		b.ResponseBody = fd
	}
	return b, nil
}

// FieldPath resolves a dotted field path ("a.b.c") in md: every element
// but the last must be a singular message field. byJSON also accepts each
// element's JSON name (lowerCamel), as query parameters may use it.
func FieldPath(md protoreflect.MessageDescriptor, path string, byJSON bool) ([]protoreflect.FieldDescriptor, error) {
	var out []protoreflect.FieldDescriptor
	cur := md
	for name := range strings.SplitSeq(path, ".") {
		if cur == nil {
			return nil, fmt.Errorf("field path %q: %s is not a message", path, out[len(out)-1].Name())
		}
		fd := cur.Fields().ByName(protoreflect.Name(name))
		if fd == nil && byJSON {
			fd = cur.Fields().ByJSONName(name)
		}
		if fd == nil {
			return nil, fmt.Errorf("no field %q in %s", name, cur.FullName())
		}
		out = append(out, fd)
		cur = nil
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() && !IsScalarWKT(fd.Message()) {
			cur = fd.Message()
		}
	}
	return out, nil
}

// IsScalarWKT reports whether md is a well-known type whose JSON form is a
// scalar (a string, number or bool): wrappers, Timestamp, Duration and
// FieldMask.
func IsScalarWKT(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return true
	}
	return false
}

// Method returns the method whose call path is path ("/pkg.Service/Method"),
// or nil.
func (x *Index) Method(path string) *Method {
	if x == nil {
		return nil
	}
	return x.methods[path]
}

// MatchHTTP returns the binding an HTTP request maps to, with the values of
// its template's variables; nil if none matches. path is the escaped URL
// path.
func (x *Index) MatchHTTP(method, path string) (*Binding, []string) {
	if x == nil {
		return nil, nil
	}
	for _, b := range x.bindings[method] {
		if vals, ok := b.Template.Match(path); ok {
			return b, vals
		}
	}
	return nil, nil
}

// AllowedMethods returns the HTTP methods that have a binding matching
// path, for a 405 answer.
func (x *Index) AllowedMethods(path string) []string {
	if x == nil {
		return nil
	}
	var out []string
	for m, bs := range x.bindings {
		for _, b := range bs {
			if _, ok := b.Template.Match(path); ok {
				out = append(out, m)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// Types resolves the index's message and extension types (for google.protobuf.Any
// in JSON).
func (x *Index) Types() *dynamicpb.Types { return x.types }

// Files returns the index's files.
func (x *Index) Files() *protoregistry.Files { return x.files }

// Services returns the full names of the indexed services, sorted.
func (x *Index) Services() []string { return slices.Clone(x.services) }

// Methods returns the number of indexed methods.
func (x *Index) Methods() int { return len(x.methods) }

// Problems describes the google.api.http rules left out, one line each.
func (x *Index) Problems() []string { return slices.Clone(x.problems) }
