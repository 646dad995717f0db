package checker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/raftmq/raftmq/client"
)

// Consumer-group read settings.
const (
	groupMaxWait   = 500 * time.Millisecond
	groupHeartbeat = 200 * time.Millisecond
	groupPoll      = 50 * time.Millisecond
)

// groupReader records what a consumer group delivers.
type groupReader struct {
	mu sync.Mutex // guards reads and got
	// reads are the deliveries in order (per queue, the handler's order).
	reads []Read
	// got counts, per queue, the distinct offsets delivered inside the
	// target range.
	got       map[uint32]int
	delivered map[pos]bool
	minOff    map[uint32]uint64
	target    map[uint32]uint64
}

func (g *groupReader) handle(_ context.Context, m *client.Message) error {
	q := *m.QueueID
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reads = append(g.reads, newRead(groupSource, q, m.QueueOffset, m.MsgID, m.Body))
	p := pos{q, m.QueueOffset}
	if !g.delivered[p] {
		g.delivered[p] = true
		if m.QueueOffset >= g.minOff[q] && m.QueueOffset < g.target[q] {
			g.got[q]++
		}
	}
	return nil
}

// done reports whether every queue's target range was delivered, and how
// much was.
func (g *groupReader) done() (bool, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var have, want uint64
	ok := true
	for q, end := range g.target {
		n := end - g.minOff[q]
		have += uint64(g.got[q])
		want += n
		if uint64(g.got[q]) < n {
			ok = false
		}
	}
	return ok, fmt.Sprintf("%d of %d offsets delivered", have, want)
}

// consumeGroup consumes the topic from the earliest offset as consumer
// group group until every offset in [minOff, target) of every queue was
// delivered or Config.ConsumeTimeout passed.
func (c *Checker) consumeGroup(ctx context.Context, group string, minOff, target map[uint32]uint64) ([]Read, error) {
	g := &groupReader{got: map[uint32]int{}, delivered: map[pos]bool{}, minOff: minOff, target: target}
	c.mu.Lock()
	cl := c.cl
	c.mu.Unlock()
	cons, err := client.NewConsumer(cl, group, client.WithStartPosition(client.StartEarliest),
		client.WithMaxWait(groupMaxWait), client.WithHeartbeatInterval(groupHeartbeat),
		client.WithFetchMaxMessages(fetchMaxMessages), client.WithMemberID(group+"-reader"))
	if err != nil {
		return nil, err
	}
	if err := cons.Subscribe(c.cfg.Topic, g.handle); err != nil {
		return nil, err
	}
	if err := cons.Start(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConsumeTimeout)
	defer cancel()
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	var waitErr error
	for {
		ok, progress := g.done()
		if ok {
			break
		}
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
			waitErr = fmt.Errorf("%s within %v", progress, c.cfg.ConsumeTimeout)
		}
		break
	}
	if err := cons.Close(); err != nil {
		// Committing the group's offsets on Close is not part of the read.
		c.log.Warn("checker: closing the consumer group", "group", group, "err", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reads, waitErr
}
