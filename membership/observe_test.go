package membership

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// bareMembership is a Membership without memberlist, for driving observe
// and the member table directly.
func bareMembership(now *time.Time, reap time.Duration) *Membership {
	cfg := nodeConfig("self", "g1", 0)
	cfg.ReapAfter = reap
	return &Membership{
		cfg:        cfg,
		log:        slog.New(slog.DiscardHandler),
		now:        func() time.Time { return *now },
		members:    make(map[string]*record),
		gossipAddr: "127.0.0.1:7946",
	}
}

func mlNode(t *testing.T, id string, m nodeMeta) *memberlist.Node {
	t.Helper()
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: id, Addr: net.IPv4(127, 0, 0, 2), Port: 7946, Meta: b}
}

func TestObserveTransitions(t *testing.T) {
	base := nodeMeta{Group: "g1", GRPCAddr: "h:1", RaftAddr: "h:2"}
	withState := base
	withState.HasRaftState = true
	leaving := withState
	leaving.Leaving = true
	type step struct {
		meta      nodeMeta
		gone      bool
		intent    bool
		wantEvent EventType // 0: no event
		wantState State
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"join, update, fail, rejoin", []step{
			{meta: base, wantEvent: EventJoin, wantState: StateAlive},
			{meta: withState, wantEvent: EventUpdate, wantState: StateAlive},
			{meta: withState, gone: true, wantEvent: EventFail, wantState: StateDead},
			{meta: withState, gone: true, wantState: StateDead},
			{meta: withState, wantEvent: EventJoin, wantState: StateAlive},
		}},
		{"graceful leave via metadata", []step{
			{meta: base, wantEvent: EventJoin, wantState: StateAlive},
			{meta: leaving, wantEvent: EventLeave, wantState: StateLeft},
			{meta: leaving, gone: true, wantState: StateLeft},
		}},
		{"graceful leave via intent before metadata", []step{
			{meta: base, wantEvent: EventJoin, wantState: StateAlive},
			{intent: true, wantEvent: EventLeave, wantState: StateLeft},
			{meta: base, gone: true, wantState: StateLeft},
			{meta: base, wantEvent: EventJoin, wantState: StateAlive},
		}},
		{"intent for unknown member ignored", []step{
			{intent: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_000, 0)
			m := bareMembership(&now, 0)
			events, cancel := m.Subscribe()
			defer cancel()
			for i, s := range tc.steps {
				if s.intent {
					m.observeIntent([]byte(`{"v":1,"t":"leave","id":"x"}`))
				} else {
					m.observe(mlNode(t, "x", s.meta), s.gone)
				}
				if s.wantEvent != 0 {
					e := <-events
					if e.Type != s.wantEvent || e.Member.State != s.wantState || e.Member.ID != "x" {
						t.Fatalf("step %d: event %v %+v, want %v in state %v", i, e.Type, e.Member, s.wantEvent, s.wantState)
					}
				}
				if s.intent && s.wantEvent == 0 {
					if _, ok := memberOf(m, "x"); ok {
						t.Fatalf("step %d: intent created a member", i)
					}
					continue
				}
				if !sees(m, "x", s.wantState) {
					got, _ := memberOf(m, "x")
					t.Fatalf("step %d: x is %v, want %v", i, got.State, s.wantState)
				}
			}
			select {
			case e := <-events:
				t.Fatalf("unexpected extra event %v %+v", e.Type, e.Member)
			default:
			}
		})
	}
}

func TestObserveIgnoresForeignMetadata(t *testing.T) {
	now := time.Unix(1_000, 0)
	m := bareMembership(&now, 0)
	m.observe(&memberlist.Node{Name: "alien", Meta: []byte("not raftmq")}, false)
	m.observeIntent([]byte("junk"))
	if _, ok := memberOf(m, "alien"); ok {
		t.Fatal("a node with foreign metadata was recorded")
	}
}

func TestDeadMembersReaped(t *testing.T) {
	now := time.Unix(1_000, 0)
	m := bareMembership(&now, time.Hour)
	meta := nodeMeta{Group: "g1", GRPCAddr: "h:1", RaftAddr: "h:2"}
	m.observe(mlNode(t, "dead", meta), false)
	m.observe(mlNode(t, "dead", meta), true)
	m.observe(mlNode(t, "alive", meta), false)
	now = now.Add(time.Hour)
	if _, ok := memberOf(m, "dead"); !ok {
		t.Fatal("dead member reaped before ReapAfter")
	}
	now = now.Add(time.Second)
	if _, ok := memberOf(m, "dead"); ok {
		t.Fatal("dead member not reaped after ReapAfter")
	}
	if !sees(m, "alive", StateAlive) || !sees(m, "self", StateAlive) {
		t.Fatalf("alive members reaped: %+v", m.Members())
	}
}
