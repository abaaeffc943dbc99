package descriptors

import (
	"slices"
	"testing"

	userv1 "github.com/mcpbridge/mcpbridge/proto/user/v1"
	"google.golang.org/protobuf/types/descriptorpb"
)

func TestTemplateParse(t *testing.T) {
	for _, tc := range []struct {
		src    string
		fields []string
		verb   string
		err    bool
	}{
		{src: "/v1/users/{user_id}", fields: []string{"user_id"}},
		{src: "/v1/users:import", verb: "import"},
		{src: "/v1/{name=projects/*/users/*}", fields: []string{"name"}},
		{src: "/v1/{name=files/**}:get", fields: []string{"name"}, verb: "get"},
		{src: "/v1/{a.b.c}/x/{d}", fields: []string{"a.b.c", "d"}},
		{src: "/**"},
		{src: "/v1/*/x"},
		{src: "v1/users", err: true},
		{src: "/v1/**/x", err: true},
		{src: "/v1/{x", err: true},
		{src: "/v1/{x={y}}", err: true},
		{src: "/v1/{x}/{x}", err: true},
		{src: "/v1/{1x}", err: true},
		{src: "/v1/", err: true},
		{src: "/v1:", err: true},
		{src: "/v1/a}", err: true},
	} {
		tp, err := ParseTemplate(tc.src)
		if tc.err {
			if err == nil {
				t.Errorf("%s: no error", tc.src)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.src, err)
			continue
		}
		if got := tp.Fields(); !slices.Equal(got, tc.fields) && len(got)+len(tc.fields) > 0 {
			t.Errorf("%s: fields %v, want %v", tc.src, got, tc.fields)
		}
		if tp.Verb() != tc.verb {
			t.Errorf("%s: verb %q, want %q", tc.src, tp.Verb(), tc.verb)
		}
	}
}

func TestTemplateMatch(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		vals       []string
		ok         bool
	}{
		{"/v1/users/{user_id}", "/v1/users/1", []string{"1"}, true},
		{"/v1/users/{user_id}", "/v1/users/a%20b", []string{"a b"}, true},
		{"/v1/users/{user_id}", "/v1/users/a%2Fb", []string{"a/b"}, true},
		{"/v1/users/{user_id}", "/v1/users/", nil, false},
		{"/v1/users/{user_id}", "/v1/users/1/2", nil, false},
		{"/v1/users/{user_id}", "/v1/users", nil, false},
		{"/v1/users:import", "/v1/users:import", nil, true},
		{"/v1/users:import", "/v1/users", nil, false},
		{"/v1/users", "/v1/users:import", nil, false},
		{"/v1/{name=projects/*/users/*}", "/v1/projects/p/users/u", []string{"projects/p/users/u"}, true},
		{"/v1/{name=projects/*/users/*}", "/v1/projects/p/groups/u", nil, false},
		{"/v1/{name=files/**}:get", "/v1/files/a/b/c:get", []string{"files/a/b/c"}, true},
		{"/v1/{name=files/**}:get", "/v1/files/a%2Fb:get", []string{"files/a%2Fb"}, true},
		{"/v1/{name=files/**}", "/v1/files", []string{"files"}, true},
		{"/v1/{name=**}", "/v1/a/b", []string{"a/b"}, true},
		{"/v1/*/x", "/v1/anything/x", nil, true},
		{"/v1/{id}:cancel", "/v1/7:cancel", []string{"7"}, true},
		{"/v1/{id}", "/v1/7:cancel", []string{"7:cancel"}, true},
		{"/v1/{id}", "/v1/%zz", nil, false},
	} {
		tp, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		vals, ok := tp.Match(tc.path)
		if ok != tc.ok || !slices.Equal(vals, tc.vals) {
			t.Errorf("%s ~ %s: %q %v, want %q %v", tc.tmpl, tc.path, vals, ok, tc.vals, tc.ok)
		}
	}
}

// exampleSet is the example UserService's file and its dependencies.
func exampleSet() *descriptorpb.FileDescriptorSet {
	return FileSet(userv1.File_proto_user_v1_user_proto)
}

func TestIndex(t *testing.T) {
	x, err := NewIndex(exampleSet())
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Problems()) > 0 {
		t.Errorf("problems: %v", x.Problems())
	}
	if !slices.Contains(x.Services(), "user.v1.UserService") {
		t.Errorf("services %v", x.Services())
	}
	m := x.Method("/user.v1.UserService/ListUsers")
	if m == nil || !m.ServerStreaming || m.ClientStreaming || len(m.Bindings) != 1 {
		t.Fatalf("ListUsers: %+v", m)
	}
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/v1/users/1", "/user.v1.UserService/GetUser"},
		{"GET", "/v1/users", "/user.v1.UserService/ListUsers"},
		{"POST", "/v1/users:import", "/user.v1.UserService/ImportUsers"},
		{"POST", "/v1/users/1", ""},
		{"GET", "/v2/users", ""},
	} {
		b, _ := x.MatchHTTP(tc.method, tc.path)
		got := ""
		if b != nil {
			got = b.Method.Path
		}
		if got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	if got := x.AllowedMethods("/v1/users/1"); !slices.Equal(got, []string{"GET"}) {
		t.Errorf("allowed %v", got)
	}
}

func TestFieldPath(t *testing.T) {
	md := (&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor()
	fp, err := FieldPath(md, "options.java_package", false)
	if err != nil || len(fp) != 2 || fp[1].Name() != "java_package" {
		t.Errorf("%v %v", fp, err)
	}
	if _, err := FieldPath(md, "options.javaPackage", true); err != nil {
		t.Errorf("json name: %v", err)
	}
	if _, err := FieldPath(md, "options.javaPackage", false); err == nil {
		t.Error("json name accepted without byJSON")
	}
	if _, err := FieldPath(md, "name.x", false); err == nil {
		t.Error("path through a scalar accepted")
	}
}
