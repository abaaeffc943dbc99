package config

import (
	"strconv"
	"strings"
)

// position is where a key path's node is in the file, 1-based.
type position struct{ line, col int }

// child returns the key path of key under parent: "server.log".
func child(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// index returns the key path of item i of the list at parent: "routes[0]".
func index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// named returns the key path of the user-chosen key name under parent:
// "upstreams.user-service", or upstreams["odd name"] for names that are not
// plain words.
func named(parent, name string) string {
	if name != "" && strings.IndexFunc(name, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return child(parent, name)
	}
	return parent + "[" + strconv.Quote(name) + "]"
}

// parent returns the key path one level up from p, and false at the top.
func parent(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	if strings.HasSuffix(p, "\"]") {
		if i := strings.LastIndex(p, "[\""); i >= 0 {
			return p[:i], true
		}
	}
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return "", true
	}
	return p[:i], true
}
