package descriptors

import "testing"

// FuzzTemplate: parsing any template and matching any path never panics,
// and a template matches the path it describes when it has no wildcards.
func FuzzTemplate(f *testing.F) {
	for _, s := range [][2]string{
		{"/v1/users/{user_id}", "/v1/users/1"}, {"/v1/{name=files/**}:get", "/v1/files/a/b:get"},
		{"/**", "/"}, {"/v1/*/x", "/v1/y/x"}, {"/a:b", "/a:b"}, {"/{x=**}", "/%2F/%zz"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tmpl, path string) {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		vals, ok := tp.Match(path)
		if ok && len(vals) != len(tp.Fields()) {
			t.Fatalf("%s ~ %s: %d values for %d fields", tmpl, path, len(vals), len(tp.Fields()))
		}
		if len(tp.vars) == 0 && !tp.multi && !hasWildcard(tp) {
			if _, ok := tp.Match(tmpl); !ok && isPlain(tmpl) {
				t.Fatalf("literal template %s does not match itself", tmpl)
			}
		}
	})
}

func hasWildcard(t *Template) bool {
	for _, s := range t.segs {
		if s.kind != segLiteral {
			return true
		}
	}
	return false
}

func isPlain(s string) bool {
	for _, c := range s {
		if c == '%' {
			return false
		}
	}
	return true
}
