package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/raftmq/raftmq/store/vfs"
)

// abandon stops the store's goroutines without writing anything, as if the
// process died; use it after vfs.MemFS.Crash.
func (s *Store) abandon() {
	s.wmu.Lock()
	s.closed = true
	s.wmu.Unlock()
	close(s.stop)
	close(s.fl.stop)
	s.wg.Wait()
	s.closeFiles()
}

// testSeed returns RAFTMQ_SEED if set, else a fresh seed, and logs it so a
// failure replays.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("RAFTMQ_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (replay with RAFTMQ_SEED=%d)", seed, seed)
	return seed
}

// sent is what the test knows about one appended message.
type sent struct {
	id      int
	batch   int
	topic   string
	queue   uint32
	qoff    uint64
	phys    int64
	body    []byte
	durable bool
}

// crashModel drives random appends, syncs, clean restarts and crashes
// against one store directory on a MemFS and checks what survives.
type crashModel struct {
	t      *testing.T
	rng    *rand.Rand
	fs     *vfs.MemFS
	opts   Options
	dir    string
	s      *Store
	live   map[int64]*sent // by CommitLog offset, what the store should hold
	nextID int
	batch  int
}

func (c *crashModel) open() {
	c.t.Helper()
	s, err := Open(c.dir, c.opts)
	if err != nil {
		c.t.Fatalf("open after crash: %v", err)
	}
	c.s = s
}

func (c *crashModel) appendBatch() {
	n := 1 + c.rng.IntN(6)
	msgs := make([]*Message, n)
	c.batch++
	for i := range msgs {
		c.nextID++
		body := fmt.Appendf(nil, "id=%d;", c.nextID)
		body = append(body, bytes.Repeat([]byte{byte(c.nextID)}, c.rng.IntN(2000))...)
		msgs[i] = &Message{
			Topic: []string{"a", "b", "c"}[c.rng.IntN(3)], QueueID: uint32(c.rng.IntN(3)),
			Body: body, StoreTimestamp: 1_700_000_000_000 + int64(c.nextID), RaftIndex: uint64(c.batch),
			Keys:       []string{fmt.Sprint("key", c.nextID), fmt.Sprint("alt", c.nextID%7)},
			Properties: map[string]string{UniqueKeyProperty: fmt.Sprint("uniq", c.nextID)},
		}
	}
	res, err := c.s.Append(msgs)
	if err != nil {
		c.t.Fatalf("append: %v", err)
	}
	for i, m := range msgs {
		c.live[res[i].CommitLogOffset] = &sent{id: c.nextID - n + 1 + i, batch: c.batch, topic: m.Topic, queue: m.QueueID,
			qoff: res[i].QueueOffset, phys: res[i].CommitLogOffset, body: m.Body, durable: c.opts.FlushMode == FlushSync}
	}
}

// markDurable marks every message below the store's durable offset.
func (c *crashModel) markDurable() {
	d := c.s.DurableOffset()
	for off, m := range c.live {
		if off < d {
			m.durable = true
		}
	}
}

// check compares the reopened store with the model: every durable message
// is present and intact; whatever else survived is exactly what was
// written; batches are all-or-nothing; queue offsets are dense.
func (c *crashModel) check() {
	c.t.Helper()
	survived := map[int64]bool{}
	batches := map[int][2]int{} // batch -> (survived, lost)
	for off, m := range c.live {
		got, err := c.s.ReadMessage(off)
		ok := err == nil && bytes.Equal(got.Body, m.body) && got.QueueOffset == m.qoff && got.Topic == m.topic
		if m.durable && !ok {
			c.t.Fatalf("durable message id %d at %d lost or damaged: %v", m.id, off, err)
		}
		b := batches[m.batch]
		if ok {
			survived[off] = true
			b[0]++
		} else {
			b[1]++
		}
		batches[m.batch] = b
	}
	for id, b := range batches {
		if b[0] > 0 && b[1] > 0 {
			c.t.Fatalf("batch %d torn: %d messages survived, %d lost", id, b[0], b[1])
		}
	}
	for off := range c.live {
		if !survived[off] {
			delete(c.live, off)
		}
	}
	// Every queue reads back densely and holds exactly the survivors.
	count := 0
	for _, topic := range c.s.Topics() {
		for _, q := range c.s.QueueIDs(topic) {
			off := c.s.MinOffset(topic, q)
			for off < c.s.MaxOffset(topic, q) {
				r, err := c.s.GetMessages(GetRequest{Topic: topic, QueueID: q, Offset: off, MaxMessages: 64})
				if err != nil {
					c.t.Fatalf("get %s/%d@%d: %v", topic, q, off, err)
				}
				for _, m := range r.Messages {
					want := c.live[m.CommitLogOffset]
					if m.QueueOffset != off || want == nil || !bytes.Equal(want.body, m.Body) {
						c.t.Fatalf("%s/%d offset %d: unexpected message at %d", topic, q, off, m.CommitLogOffset)
					}
					off++
					count++
				}
			}
		}
	}
	if count != len(c.live) {
		c.t.Fatalf("queues hold %d messages, model %d", count, len(c.live))
	}
	rep, err := VerifyFS(c.fs, c.dir, c.opts)
	if err != nil || !rep.OK() {
		c.t.Fatalf("verify: %v %v", err, rep.Problems)
	}
}

func TestCrashRecoveryProperty(t *testing.T) {
	crashes := 1000
	if testing.Short() {
		crashes = 200
	}
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var c *crashModel
	for i := range crashes {
		if i%40 == 0 { // a fresh store every 40 crashes keeps checks cheap
			if c != nil {
				c.s.Close()
			}
			o := TestOptions()
			o.SegmentSize = []int64{48 << 10, 64 << 10}[rng.IntN(2)]
			o.FlushMode = []FlushMode{FlushAsync, FlushSync}[rng.IntN(2)]
			o.FlushInterval = time.Hour // the model decides when to sync
			o.CheckpointInterval = time.Hour
			o.ConsumeQueue.EntriesPerFile = 16
			o.KeyIndex.EntriesPerFile = 128
			fs := vfs.NewMem()
			o.FS = fs
			c = &crashModel{t: t, rng: rng, fs: fs, opts: o, dir: "/data/store", live: map[int64]*sent{}}
			c.open()
		}
		for range c.rng.IntN(8) {
			switch r := c.rng.IntN(20); {
			case r < 15:
				c.appendBatch()
			case r < 17:
				if err := c.s.Sync(); err != nil {
					t.Fatal(err)
				}
				c.markDurable()
			case r < 19:
				if err := c.s.writeCheckpoint(false); err != nil {
					t.Fatal(err)
				}
				c.markDurable()
			default:
				if err := c.s.Close(); err != nil {
					t.Fatal(err)
				}
				for _, m := range c.live {
					m.durable = true
				}
				c.open()
			}
		}
		c.markDurable()
		if c.rng.IntN(4) == 0 {
			// The process dies but the machine does not: unsynced bytes
			// stay in the page cache and recovery finds them. Whatever the
			// reopened store then reports durable must survive a power
			// loss right after.
			c.s.abandon()
			c.open()
			c.check()
			c.markDurable()
		}
		mode := []vfs.CrashMode{vfs.DropUnsynced, vfs.TearUnsynced}[c.rng.IntN(2)]
		c.fs.Crash(c.rng, mode)
		c.s.abandon()
		c.open()
		c.check()
	}
	c.s.Close()
}
