package client

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/raftmq/raftmq/client/internal/fakebroker"
)

// TestDataLossReadsAnotherReplica: a replica that answers DATA_LOSS (its
// copy failed its checksum) is skipped; the consumer reads every message
// from another replica without waiting for it, and a message read by id
// moves on to the next seed.
func TestDataLossReadsAnotherReplica(t *testing.T) {
	cl := startCluster(t, 3)
	c := dial(t, cl.addrs())
	createTopic(t, c, "orders", 2)
	p := newProducer(t, c)
	const n = 20
	var first string
	for i := range n {
		r, err := p.Send(context.Background(), "orders", &Message{Body: fmt.Appendf(nil, "m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r[0].MsgID
		}
	}
	damage := make([]fakebroker.Fault, 1000) // more than the test will use
	for i := range damage {
		damage[i] = fakebroker.Fault{Code: codes.DataLoss, Msg: "store: corrupt data: record at 42"}
	}
	cl.nodes[0].Inject("Fetch", damage...)
	cl.nodes[0].Inject("GetMessage", damage[0])

	if got := len(consumeN(t, c, "g", "orders", n)); got != n {
		t.Fatalf("consumed %d messages, want %d", got, n)
	}
	if cl.nodes[1].Calls("Fetch")+cl.nodes[2].Calls("Fetch") == 0 {
		t.Fatal("no fetch went to another replica")
	}
	m, err := c.GetMessage(context.Background(), first)
	if err != nil || string(m.Body) != "m0" {
		t.Fatalf("GetMessage after DATA_LOSS on the first seed: %v %v", m, err)
	}
}
