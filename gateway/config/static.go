package config

import (
	"reflect"
	"strings"
)

// StaticChanges returns the key paths of the static settings (server,
// listeners) that differ between old and new, such as
// "listeners.mcp.addr" or "server.shutdown_grace", in declaration order. A
// reload applies only the dynamic part (upstreams, routes); the caller
// reports these as needing a restart.
func StaticChanges(old, new *Config) []string {
	var out []string
	diff("server", reflect.ValueOf(old.Server), reflect.ValueOf(new.Server), &out)
	diff("listeners", reflect.ValueOf(old.Listeners), reflect.ValueOf(new.Listeners), &out)
	diff("pubsub", reflect.ValueOf(old.PubSub), reflect.ValueOf(new.PubSub), &out)
	return out
}

func diff(path string, a, b reflect.Value, out *[]string) {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				*out = append(*out, path)
			}
			return
		}
		diff(path, a.Elem(), b.Elem(), out)
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				name = f.Name
			}
			diff(path+"."+name, a.Field(i), b.Field(i), out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, path)
		}
	}
}
