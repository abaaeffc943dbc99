package pubsub

import (
	"strings"
	"sync/atomic"
)

// The subscription trie: one node per filter level, keyed by the level's
// text, with the '+' and '#' children kept apart. Matching a topic walks its
// levels, following at each node the exact child and the '+' child and
// taking the '#' child's subscriptions, so its cost grows with the topic's
// level count and the number of wildcard branches, not with the number of
// subscriptions. The trie is guarded by its bus's lock; it has none.

// queueGroup is one queue group of a bus: all live subscriptions with the
// same queue name, whatever their filters.
type queueGroup struct {
	id      uint64 // orders a match's groups so a group's members stay in a stable order
	name    string
	members int           // live members, under the bus lock
	next    atomic.Uint64 // round-robin cursor, advanced by publishers
}

// nodeGroup is the members of one queue group whose filter ends at one node.
type nodeGroup struct {
	group   *queueGroup
	members []*localSub
}

type node struct {
	children map[string]*node // exact levels; nil until needed
	plus     *node
	hash     *node
	subs     []*localSub // subscriptions in no group whose filter ends here
	groups   []*nodeGroup
}

func (n *node) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.hash == nil && len(n.subs) == 0 && len(n.groups) == 0
}

// matchSet collects what a topic matches: slices of subscriptions (the
// nodes' own slices, not copies) and queue-group pieces. It is valid only
// while the bus lock is held.
type matchSet struct {
	shard  int  // the bus shard this matchSet's user read-locks
	dollar bool // the topic starts with '$'
	subs   [][]*localSub
	groups []*nodeGroup
}

func (ms *matchSet) reset() {
	clear(ms.subs)
	clear(ms.groups)
	ms.subs, ms.groups = ms.subs[:0], ms.groups[:0]
}

func (ms *matchSet) take(n *node) {
	if len(n.subs) > 0 {
		ms.subs = append(ms.subs, n.subs)
	}
	ms.groups = append(ms.groups, n.groups...)
}

// match adds to ms the subscriptions of n's subtree that match the levels of
// topic from byte pos on. pos > len(topic) means every level is consumed.
// root is true at the trie's root, where wildcards do not match a '$' topic.
func (n *node) match(topic string, pos int, root bool, ms *matchSet) {
	for {
		if pos > len(topic) {
			ms.take(n)
			if n.hash != nil { // "a/#" matches "a"
				ms.take(n.hash)
			}
			return
		}
		wild := !root || !ms.dollar
		if n.hash != nil && wild {
			ms.take(n.hash)
		}
		end := strings.IndexByte(topic[pos:], '/')
		if end < 0 {
			end = len(topic)
		} else {
			end += pos
		}
		if n.plus != nil && wild {
			n.plus.match(topic, end+1, false, ms)
		}
		c := n.children[topic[pos:end]]
		if c == nil {
			return
		}
		n, pos, root = c, end+1, false
	}
}

// insert adds s under its filter, in group g if g is not nil. The filter must
// be valid.
func (n *node) insert(s *localSub, g *queueGroup) {
	for rest := s.filter; ; {
		level, next, more := strings.Cut(rest, "/")
		var c *node
		switch level {
		case "+":
			if n.plus == nil {
				n.plus = &node{}
			}
			c = n.plus
		case "#":
			if n.hash == nil {
				n.hash = &node{}
			}
			c = n.hash
		default:
			c = n.children[level]
			if c == nil {
				if n.children == nil {
					n.children = make(map[string]*node)
				}
				c = &node{}
				n.children[level] = c
			}
		}
		n = c
		if !more {
			break
		}
		rest = next
	}
	if g == nil {
		s.idx = len(n.subs)
		n.subs = append(n.subs, s)
		return
	}
	var ng *nodeGroup
	for _, x := range n.groups {
		if x.group == g {
			ng = x
			break
		}
	}
	if ng == nil {
		ng = &nodeGroup{group: g}
		n.groups = append(n.groups, ng)
	}
	s.idx = len(ng.members)
	ng.members = append(ng.members, s)
}

// remove takes s, inserted earlier, out of the trie and prunes the nodes
// left empty.
func (n *node) remove(s *localSub) {
	var path [MaxLevels + 1]*node
	var keys [MaxLevels]string
	depth := 0
	path[0] = n
	for rest := s.filter; ; depth++ {
		level, next, more := strings.Cut(rest, "/")
		keys[depth] = level
		switch level {
		case "+":
			n = n.plus
		case "#":
			n = n.hash
		default:
			n = n.children[level]
		}
		if n == nil {
			return // not in the trie
		}
		path[depth+1] = n
		if !more {
			depth++
			break
		}
		rest = next
	}
	if s.group == nil {
		n.subs = removeAt(n.subs, s)
	} else {
		for i, ng := range n.groups {
			if ng.group != s.group {
				continue
			}
			ng.members = removeAt(ng.members, s)
			if len(ng.members) == 0 {
				last := len(n.groups) - 1
				n.groups[i] = n.groups[last]
				n.groups[last] = nil
				n.groups = n.groups[:last]
			}
			break
		}
	}
	for d := depth; d > 0 && path[d].empty(); d-- {
		parent := path[d-1]
		switch keys[d-1] {
		case "+":
			parent.plus = nil
		case "#":
			parent.hash = nil
		default:
			delete(parent.children, keys[d-1])
			if len(parent.children) == 0 {
				parent.children = nil
			}
		}
	}
}

// removeAt removes s from list, where it sits at s.idx, by moving the last
// element into its place.
func removeAt(list []*localSub, s *localSub) []*localSub {
	i := s.idx
	if i >= len(list) || list[i] != s {
		return list
	}
	last := len(list) - 1
	list[i] = list[last]
	list[i].idx = i
	list[last] = nil
	if last == 0 {
		return nil
	}
	return list[:last]
}
