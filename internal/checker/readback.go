package checker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/raftmq/raftmq/api/raftmqpb"
)

// Read-back settings.
const (
	fetchTimeout     = 10 * time.Second
	fetchMaxMessages = 1024
	maxRecvBytes     = 64 << 20
	settlePoll       = 50 * time.Millisecond
)

// queueRange is one queue's offsets on one replica: [Min, Max).
type queueRange struct{ Min, Max uint64 }

// replica is a direct connection to one replica.
type replica struct {
	addr   string
	conn   *grpc.ClientConn
	client pb.BrokerClient
}

// Check reads everything back and analyses it; call it after Stop. A
// source that cannot be read is reported in Report.ReadErrors (and makes
// the report not OK); the error is for a check that could not run at all
// (the topic cannot be described, ctx ended).
func (c *Checker) Check(ctx context.Context) (*Report, error) {
	c.mu.Lock()
	if c.phase != phaseStopped {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: Check in phase %d", ErrState, c.phase)
	}
	c.checks++
	group := fmt.Sprintf("checker-%s-%d", c.cfg.RunID, c.checks)
	cl := c.cl
	c.mu.Unlock()

	desc, err := cl.DescribeTopic(ctx, c.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("checker: describe %s: %w", c.cfg.Topic, err)
	}
	var queues []uint32
	for _, r := range desc.GetRoutes() {
		queues = append(queues, r.GetQueueId())
	}
	slices.Sort(queues)
	reps, err := dialReplicas(c.cfg.Replicas)
	if err != nil {
		return nil, err
	}
	defer closeReplicas(reps)

	// Each phase is logged with its time, so that a check that runs out
	// of ctx says where the time went.
	phase := time.Now()
	var readErrs []string
	ranges, settleErr := c.settle(ctx, reps, queues)
	if settleErr != nil {
		readErrs = append(readErrs, settleErr.Error())
	}
	c.log.Info("checker: replicas settled", "took", time.Since(phase), "err", settleErr)
	phase = time.Now()
	var reads []Read
	var sources []string
	for _, rep := range reps {
		src := replicaSource(rep.addr)
		sources = append(sources, src)
		rs, err := c.readReplica(ctx, rep, src, queues)
		reads = append(reads, rs...)
		if err != nil {
			readErrs = append(readErrs, fmt.Sprintf("%s: %v", src, err))
		}
	}
	c.log.Info("checker: replicas read", "took", time.Since(phase), "reads", len(reads), "errors", len(readErrs))
	phase = time.Now()
	minOff, target := groupTarget(ranges)
	greads, gerr := c.consumeGroup(ctx, group, minOff, target)
	c.log.Info("checker: group read", "took", time.Since(phase), "reads", len(greads), "err", gerr)
	sources = append(sources, groupSource)
	reads = append(reads, greads...)
	if gerr != nil {
		readErrs = append(readErrs, fmt.Sprintf("%s: %v", groupSource, gerr))
	}
	phase = time.Now()
	r := c.report(queues, sources, reads, minOff, readErrs)
	c.log.Info("checker: analysed", "took", time.Since(phase))
	return r, ctx.Err()
}

// report analyses the reads and stores them for WriteHistory.
func (c *Checker) report(queues []uint32, sources []string, reads []Read, minOff map[uint32]uint64, readErrs []string) *Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = reads
	r := analyze(input{run: c.cfg.RunID, sources: sources, sends: c.sends, faults: c.faults, reads: reads, minOffset: minOff})
	r.Topic, r.Queues, r.Elapsed, r.ReadErrors = c.cfg.Topic, len(queues), c.end.Sub(c.start), readErrs
	return r
}

func dialReplicas(addrs []string) ([]*replica, error) {
	var out []*replica
	for _, a := range addrs {
		conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvBytes)))
		if err != nil {
			closeReplicas(out)
			return nil, fmt.Errorf("checker: connect %s: %w", a, err)
		}
		out = append(out, &replica{addr: a, conn: conn, client: pb.NewBrokerClient(conn)})
	}
	return out, nil
}

func closeReplicas(reps []*replica) {
	for _, r := range reps {
		_ = r.conn.Close()
	}
}

// waitTopic waits until every replica describes topic.
func waitTopic(ctx context.Context, addrs []string, topic string) error {
	reps, err := dialReplicas(addrs)
	if err != nil {
		return err
	}
	defer closeReplicas(reps)
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	for _, rep := range reps {
		for {
			cctx, cancel := context.WithTimeout(ctx, fetchTimeout)
			_, err := rep.client.DescribeTopic(cctx, &pb.DescribeTopicRequest{Name: topic})
			cancel()
			if err == nil {
				break
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return fmt.Errorf("checker: topic %s not known to %s: %w", topic, rep.addr, err)
			}
		}
	}
	return nil
}

// fetch makes one Fetch call to rep with the fetch timeout.
func fetch(ctx context.Context, rep *replica, req *pb.FetchRequest) (*pb.FetchResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	return rep.client.Fetch(ctx, req)
}

// settle waits until every replica reports the same max offset for every
// queue and returns each replica's ranges (the last seen, if they never
// agreed; then the error says so).
func (c *Checker) settle(ctx context.Context, reps []*replica, queues []uint32) ([]map[uint32]queueRange, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SettleTimeout)
	defer cancel()
	tick := time.NewTicker(settlePoll)
	defer tick.Stop()
	for {
		ranges, err := replicaRanges(ctx, reps, c.cfg.Topic, queues)
		if err == nil && rangesAgree(ranges) {
			return ranges, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("replicas did not agree on their max offsets within %v: %v", c.cfg.SettleTimeout, describeRanges(reps, ranges))
			}
			return ranges, err
		}
	}
}

// replicaRanges asks every replica for every queue's offset range; a
// replica it cannot ask gets an empty map (and the error).
func replicaRanges(ctx context.Context, reps []*replica, topic string, queues []uint32) ([]map[uint32]queueRange, error) {
	out := make([]map[uint32]queueRange, len(reps))
	var errs []error
	for i, rep := range reps {
		out[i] = map[uint32]queueRange{}
		for _, q := range queues {
			resp, err := fetch(ctx, rep, &pb.FetchRequest{Topic: topic, QueueId: q, MaxMessages: 1})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s queue %d: %w", rep.addr, q, err))
				break
			}
			out[i][q] = queueRange{Min: resp.GetMinOffset(), Max: resp.GetMaxOffset()}
		}
	}
	return out, errors.Join(errs...)
}

func rangesAgree(ranges []map[uint32]queueRange) bool {
	for _, r := range ranges[1:] {
		if !maps.EqualFunc(r, ranges[0], func(a, b queueRange) bool { return a.Max == b.Max }) {
			return false
		}
	}
	return true
}

func describeRanges(reps []*replica, ranges []map[uint32]queueRange) string {
	s := ""
	for i, r := range ranges {
		s += fmt.Sprintf("[%s %v] ", reps[i].addr, r)
	}
	return s
}

// groupTarget returns, per queue, the lowest min and the highest max
// offset over the replicas: the group must deliver [min, max).
func groupTarget(ranges []map[uint32]queueRange) (minOff, maxOff map[uint32]uint64) {
	minOff, maxOff = map[uint32]uint64{}, map[uint32]uint64{}
	for _, r := range ranges {
		for q, qr := range r {
			if m, ok := minOff[q]; !ok || qr.Min < m {
				minOff[q] = qr.Min
			}
			maxOff[q] = max(maxOff[q], qr.Max)
		}
	}
	return minOff, maxOff
}

// readReplica reads every queue of rep from its min offset to its end.
func (c *Checker) readReplica(ctx context.Context, rep *replica, src string, queues []uint32) ([]Read, error) {
	var out []Read
	for _, q := range queues {
		rs, err := c.readQueue(ctx, rep, src, q)
		out = append(out, rs...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// readQueue reads queue q of rep from its min offset until the replica
// has nothing more.
func (c *Checker) readQueue(ctx context.Context, rep *replica, src string, q uint32) ([]Read, error) {
	var out []Read
	var next uint64
	for {
		resp, err := fetch(ctx, rep, &pb.FetchRequest{Topic: c.cfg.Topic, QueueId: q, Offset: next, MaxMessages: fetchMaxMessages})
		if status.Code(err) == codes.DataLoss && ctx.Err() == nil {
			// The replica's copy failed its checksum: it never serves
			// it and repairs itself from the others; read it again once
			// it has (the check's context bounds the wait).
			select {
			case <-time.After(settlePoll):
			case <-ctx.Done():
			}
			continue
		}
		if err != nil {
			return out, fmt.Errorf("queue %d offset %d: %w", q, next, err)
		}
		for _, m := range resp.GetMessages() {
			out = append(out, newRead(src, m.GetQueueId(), m.GetQueueOffset(), m.GetMsgId(), m.GetBody()))
		}
		switch st := resp.GetStatus(); {
		case st == pb.FetchStatus_FETCH_STATUS_NO_NEW_MESSAGES:
			return out, nil
		case st != pb.FetchStatus_FETCH_STATUS_FOUND && st != pb.FetchStatus_FETCH_STATUS_OFFSET_MOVED:
			return out, fmt.Errorf("queue %d offset %d: status %v", q, next, st)
		case resp.GetNextOffset() <= next && len(resp.GetMessages()) == 0:
			// Offset moved to the end (or nowhere): nothing more to read.
			if next >= resp.GetMaxOffset() {
				return out, nil
			}
			return out, fmt.Errorf("queue %d offset %d: no progress (status %v, next %d)", q, next, st, resp.GetNextOffset())
		}
		next = resp.GetNextOffset()
		if next >= resp.GetMaxOffset() {
			return out, nil
		}
	}
}
