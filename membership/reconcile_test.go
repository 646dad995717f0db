package membership

import (
	"reflect"
	"testing"
	"time"
)

func TestReconcilerPlan(t *testing.T) {
	alive := func(id string) Member { return mem(id, "g1", StateAlive, true) }
	srv := func(id string) Server { return Server{ID: id, Address: id + ":7000"} }
	for _, tc := range []struct {
		name    string
		members []Member
		servers []Server
		want    Plan
	}{
		{
			name:    "all in configuration",
			members: []Member{alive("a"), alive("b"), alive("c")},
			servers: []Server{srv("a"), srv("b"), srv("c")},
			want:    Plan{},
		},
		{
			name:    "new alive members added sorted",
			members: []Member{alive("e"), alive("a"), alive("d")},
			servers: []Server{srv("a")},
			want:    Plan{Add: []Server{srv("d"), srv("e")}},
		},
		{
			name:    "other groups ignored",
			members: []Member{alive("a"), mem("x", "g2", StateAlive, false)},
			servers: []Server{srv("a")},
			want:    Plan{},
		},
		{
			name:    "dead, left and suspect members not added",
			members: []Member{alive("a"), mem("d", "g1", StateDead, false), mem("l", "g1", StateLeft, false), mem("s", "g1", StateSuspect, false)},
			servers: []Server{srv("a")},
			want:    Plan{},
		},
		{
			name:    "member without raft address not added",
			members: []Member{alive("a"), {ID: "n", Group: "g1", State: StateAlive}},
			servers: []Server{srv("a")},
			want:    Plan{},
		},
		{
			name:    "dead and unknown servers reported, never removed",
			members: []Member{alive("a"), mem("b", "g1", StateDead, true), mem("c", "g1", StateLeft, true)},
			servers: []Server{srv("a"), srv("b"), srv("c"), srv("z")},
			want: Plan{Missing: []Missing{
				{Server: srv("b"), Known: true, State: StateDead},
				{Server: srv("c"), Known: true, State: StateLeft},
				{Server: srv("z"), Known: false, State: StateDead},
			}},
		},
		{
			name:    "changed raft address re-added",
			members: []Member{alive("a"), {ID: "b", Group: "g1", RaftAddr: "b:7001", State: StateAlive}},
			servers: []Server{srv("a"), srv("b")},
			want:    Plan{Add: []Server{{ID: "b", Address: "b:7001"}}},
		},
		{
			name:    "address owned by another id is a conflict",
			members: []Member{alive("a"), {ID: "b2", Group: "g1", RaftAddr: "b:7000", State: StateAlive}},
			servers: []Server{srv("a"), srv("b")},
			want: Plan{
				Missing:   []Missing{{Server: srv("b"), Known: false, State: StateDead}},
				Conflicts: []Member{{ID: "b2", Group: "g1", RaftAddr: "b:7000", State: StateAlive}},
			},
		},
		{
			name:    "empty configuration adds every alive member",
			members: []Member{alive("b"), alive("a")},
			want:    Plan{Add: []Server{srv("a"), srv("b")}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReconciler("g1", nil)
			if got := r.Plan(tc.members, tc.servers); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestReconcilerDeadFor(t *testing.T) {
	now := time.Unix(1_000, 0)
	r := NewReconciler("g1", func() time.Time { return now })
	servers := []Server{{ID: "a", Address: "a:7000"}, {ID: "b", Address: "b:7000"}}
	up := []Member{mem("a", "g1", StateAlive, true), mem("b", "g1", StateAlive, true)}
	bDead := []Member{mem("a", "g1", StateAlive, true), mem("b", "g1", StateDead, true)}

	r.Plan(up, servers)
	if d := r.DeadFor("b"); d != 0 {
		t.Fatalf("DeadFor(b) while alive = %v", d)
	}
	r.Plan(bDead, servers)
	now = now.Add(90 * time.Second)
	if d := r.DeadFor("b"); d != 90*time.Second {
		t.Fatalf("DeadFor(b) = %v, want 90s", d)
	}
	now = now.Add(30 * time.Second)
	p := r.Plan(bDead, servers)
	if len(p.Missing) != 1 || p.Missing[0].For != 120*time.Second {
		t.Fatalf("Missing = %+v, want b for 2m", p.Missing)
	}
	if d := r.DeadFor("a"); d != 0 {
		t.Fatalf("DeadFor(a) = %v, want 0", d)
	}
	r.Plan(up, servers) // b came back: the clock restarts
	if d := r.DeadFor("b"); d != 0 {
		t.Fatalf("DeadFor(b) after it came back = %v", d)
	}
	r.Plan(bDead, servers)
	r.Plan(bDead[:1], servers[:1]) // an operator removed b
	now = now.Add(time.Hour)
	if d := r.DeadFor("b"); d != 0 {
		t.Fatalf("DeadFor(b) after removal = %v", d)
	}
	if d := r.DeadFor("never"); d != 0 {
		t.Fatalf("DeadFor(unknown) = %v", d)
	}
}
