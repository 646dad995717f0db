package membership

import (
	"slices"
	"testing"
)

// mem builds a member for table tests.
func mem(id, group string, st State, hasState bool) Member {
	return Member{ID: id, Group: group, RaftAddr: id + ":7000", State: st, HasRaftState: hasState}
}

func TestBootstrapPeers(t *testing.T) {
	a := mem("a", "g1", StateAlive, false)
	b := mem("b", "g1", StateAlive, false)
	c := mem("c", "g1", StateAlive, false)
	d := mem("d", "g1", StateAlive, false)
	for _, tc := range []struct {
		name    string
		members []Member
		expect  int
		self    string
		voters  []string
		ok      bool
	}{
		{name: "fewer than expect", members: []Member{a, b}, expect: 3, self: "a"},
		{name: "exactly expect", members: []Member{c, a, b}, expect: 3, self: "b", voters: []string{"a", "b", "c"}, ok: true},
		{name: "more than expect, self among smallest", members: []Member{d, c, b, a}, expect: 3, self: "c", voters: []string{"a", "b", "c"}, ok: true},
		{name: "more than expect, self not among voters", members: []Member{d, c, b, a}, expect: 3, self: "d", voters: []string{"a", "b", "c"}},
		{name: "self unknown", members: []Member{a, b, c}, expect: 3, self: "z", voters: []string{"a", "b", "c"}},
		{name: "alive member has state", members: []Member{a, b, mem("c", "g1", StateAlive, true)}, expect: 3, self: "a"},
		{name: "dead member has state", members: []Member{a, b, c, mem("e", "g1", StateDead, true)}, expect: 3, self: "a"},
		{name: "left member has state", members: []Member{a, b, c, mem("e", "g1", StateLeft, true)}, expect: 3, self: "a"},
		{name: "other group's state ignored", members: []Member{a, b, c, mem("x", "g2", StateAlive, true)}, expect: 3, self: "a", voters: []string{"a", "b", "c"}, ok: true},
		{name: "other groups not counted", members: []Member{a, b, mem("x", "g2", StateAlive, false), mem("y", "g2", StateAlive, false)}, expect: 3, self: "a"},
		{name: "other group's smaller ids not voters", members: []Member{mem("0", "g2", StateAlive, false), b, c, d}, expect: 3, self: "b", voters: []string{"b", "c", "d"}, ok: true},
		{name: "dead members not counted", members: []Member{a, b, mem("c", "g1", StateDead, false)}, expect: 3, self: "a"},
		{name: "left and suspect members not counted", members: []Member{a, b, mem("c", "g1", StateLeft, false), mem("d", "g1", StateSuspect, false)}, expect: 3, self: "a"},
		{name: "dead member with smaller id skipped", members: []Member{mem("0", "g1", StateDead, false), a, b, c}, expect: 3, self: "a", voters: []string{"a", "b", "c"}, ok: true},
		{name: "expect one", members: []Member{a}, expect: 1, self: "a", voters: []string{"a"}, ok: true},
		{name: "expect zero disables", members: []Member{a}, expect: 0, self: "a"},
		{name: "no members", expect: 3, self: "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.members)
			voters, ok := BootstrapPeers(tc.members, "g1", tc.expect, tc.self)
			var ids []string
			for _, v := range voters {
				ids = append(ids, v.ID)
			}
			if ok != tc.ok || !slices.Equal(ids, tc.voters) {
				t.Errorf("BootstrapPeers = %v, %v; want %v, %v", ids, ok, tc.voters, tc.ok)
			}
			if !slices.Equal(in, tc.members) {
				t.Error("BootstrapPeers reordered its input")
			}
		})
	}
}

// TestBootstrapPeersAgree checks the property the safety argument rests on:
// every founding node, given the same view in any order, gets the same
// voters, and exactly the voters get ok.
func TestBootstrapPeersAgree(t *testing.T) {
	view := []Member{
		mem("n3", "g1", StateAlive, false), mem("n1", "g1", StateAlive, false),
		mem("n2", "g1", StateAlive, false), mem("n4", "g2", StateAlive, false),
	}
	var first []Member
	oks := 0
	for i, self := range []string{"n1", "n2", "n3"} {
		rotated := append(slices.Clone(view[i:]), view[:i]...)
		voters, ok := BootstrapPeers(rotated, "g1", 3, self)
		if !ok {
			t.Fatalf("%s: not ok", self)
		}
		oks++
		if first == nil {
			first = voters
		} else if !slices.Equal(first, voters) {
			t.Fatalf("%s got voters %v, another node got %v", self, voters, first)
		}
	}
	if oks != 3 {
		t.Fatalf("%d founding nodes bootstrap, want 3", oks)
	}
}
