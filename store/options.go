package store

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/raftmq/raftmq/store/cqueue"
	"github.com/raftmq/raftmq/store/keyindex"
	"github.com/raftmq/raftmq/store/record"
	"github.com/raftmq/raftmq/store/vfs"
)

// FlushMode says when appended CommitLog bytes are fsynced.
type FlushMode int

const (
	// FlushAsync returns from Append once the bytes are in the page cache;
	// a background flusher fsyncs every FlushInterval or when
	// FlushDirtyBytes are pending. DurableOffset tells how far is durable.
	FlushAsync FlushMode = iota
	// FlushSync returns from Append only when the batch is fsynced.
	// Concurrent appenders share one fdatasync (group commit).
	FlushSync
)

func (m FlushMode) String() string {
	switch m {
	case FlushAsync:
		return "async"
	case FlushSync:
		return "sync"
	}
	return fmt.Sprintf("FlushMode(%d)", int(m))
}

// ParseFlushMode parses "sync" or "async".
func ParseFlushMode(s string) (FlushMode, error) {
	switch s {
	case "async":
		return FlushAsync, nil
	case "sync":
		return FlushSync, nil
	}
	return 0, fmt.Errorf("store: unknown flush mode %q (want sync or async)", s)
}

// Limits of the message format that callers may want to quote.
const (
	// MaxTopicLen is the longest topic name, as in RocketMQ.
	MaxTopicLen = 127
	// MaxQueueID is the highest queue id a message may carry.
	MaxQueueID = 1<<16 - 1
	// MaxKeys is the most keys one message may carry (each is indexed).
	MaxKeys = 64
	// SystemTopicPrefix starts the names of topics the Raft layer writes
	// its own records to.
	SystemTopicPrefix = "%SYS%"
	// MaxSystemBodySize bounds the body of a system-topic record, whatever
	// MaxMessageSize is (replicas must accept the same records).
	MaxSystemBodySize = 16 << 10
)

// Options configures a Store. Start from DefaultOptions; Open applies
// defaults for zero values and calls Validate.
type Options struct {
	// FS is the file system; nil means vfs.OS().
	FS vfs.FS
	// Logger receives recovery, retention and error reports; nil discards.
	Logger *slog.Logger

	// SegmentSize is the size of each CommitLog segment file in bytes.
	// A record never straddles two segments, so it must exceed the largest
	// record (MaxMessageSize + MaxPropertiesSize + topic + header).
	SegmentSize int64
	// MaxMessageSize bounds a message body in bytes.
	MaxMessageSize int
	// MaxPropertiesSize bounds the encoded tags, keys and properties.
	MaxPropertiesSize int

	// FlushMode chooses sync or async flushing of the CommitLog.
	FlushMode FlushMode
	// FlushInterval is how often the async flusher fsyncs dirty bytes.
	FlushInterval time.Duration
	// FlushDirtyBytes wakes the async flusher early once this many bytes
	// are unsynced.
	FlushDirtyBytes int64
	// CheckpointInterval is how often ConsumeQueues and the key index are
	// flushed and a checkpoint written, bounding the rescan after a crash.
	CheckpointInterval time.Duration

	// ConsumeQueue configures ConsumeQueue files.
	ConsumeQueue cqueue.Options
	// KeyIndex configures key index files.
	KeyIndex keyindex.Options

	// RetentionTime deletes whole CommitLog segments whose newest message
	// is older than this (by store timestamp); 0 keeps them forever.
	RetentionTime time.Duration
	// RetentionInterval is how often retention runs; 0 disables the
	// background retention loop (DeleteExpired can still be called).
	RetentionInterval time.Duration
	// DiskCleanRatio deletes the oldest segments, whatever their age, while
	// the disk is used above this fraction.
	DiskCleanRatio float64
	// DiskHardLimitRatio refuses appends with ErrDiskFull while the disk is
	// used above this fraction.
	DiskHardLimitRatio float64

	// RetentionFloor, if set, returns a CommitLog offset that retention
	// must keep: no segment holding bytes at or above it is deleted. The
	// Raft layer uses it to keep what its latest snapshot and any snapshot
	// being streamed to a follower refer to.
	RetentionFloor func() int64

	// SkipDiskCheck makes Append ignore DiskHardLimitRatio. A Raft replica
	// must apply whatever was committed; its leader calls CheckDisk before
	// proposing instead.
	SkipDiskCheck bool

	// OnCorrupt, if set, is called when a read or Scrub meets a CommitLog
	// record that fails its checksum or is malformed. The store never
	// returns such a record (the read fails with a *CorruptError); the
	// Raft layer uses the call to start repairing the bytes from a
	// replica. It runs on the reading goroutine and must not block.
	OnCorrupt func(*CorruptError)

	// OnFail, if set, is called once when the store fails (an I/O error
	// writing or syncing its files: appends are refused until it is
	// reopened), with the error Err then returns. It may run with the
	// store's locks held and must not block or call back into the store.
	OnFail func(error)

	// KnownDurable is a CommitLog offset the caller knows was fsynced
	// (the Raft layer: its newest snapshot's CommitLog end, fsynced before
	// the snapshot existed). Recovery treats a bad record below it as
	// damage (ErrCorrupt) rather than a torn tail to truncate, even past
	// the checkpoint's durable end.
	KnownDurable int64

	// Repair makes Open truncate the CommitLog at the first corrupt record
	// inside the durable region instead of failing with ErrCorrupt.
	// Everything after that record is lost; use only with intent.
	Repair bool
}

// DefaultOptions returns a complete production configuration.
func DefaultOptions() Options {
	return Options{
		SegmentSize:        1 << 30,
		MaxMessageSize:     4 << 20,
		MaxPropertiesSize:  record.MaxPropsLen,
		FlushMode:          FlushAsync,
		FlushInterval:      200 * time.Millisecond,
		FlushDirtyBytes:    16 << 20,
		CheckpointInterval: 5 * time.Second,
		ConsumeQueue:       cqueue.DefaultOptions(),
		KeyIndex:           keyindex.DefaultOptions(),
		RetentionTime:      72 * time.Hour,
		RetentionInterval:  time.Minute,
		DiskCleanRatio:     0.75,
		DiskHardLimitRatio: 0.90,
	}
}

// TestOptions returns options with tiny files and short intervals, for
// tests that want many segments and files quickly.
func TestOptions() Options {
	o := DefaultOptions()
	o.SegmentSize = 64 << 10
	o.MaxMessageSize = 16 << 10
	o.MaxPropertiesSize = 4 << 10
	o.FlushInterval = 5 * time.Millisecond
	o.FlushDirtyBytes = 32 << 10
	o.CheckpointInterval = 50 * time.Millisecond
	o.ConsumeQueue.EntriesPerFile = 64
	o.KeyIndex.Slots = 64
	o.KeyIndex.EntriesPerFile = 256
	o.RetentionInterval = 0
	return o
}

// withDefaults fills zero fields from DefaultOptions. It is the one place
// defaults are applied.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.FS == nil {
		o.FS = vfs.OS()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = d.SegmentSize
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = d.MaxMessageSize
	}
	if o.MaxPropertiesSize == 0 {
		o.MaxPropertiesSize = d.MaxPropertiesSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = d.FlushInterval
	}
	if o.FlushDirtyBytes == 0 {
		o.FlushDirtyBytes = d.FlushDirtyBytes
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = d.CheckpointInterval
	}
	if o.ConsumeQueue.EntriesPerFile == 0 {
		o.ConsumeQueue = d.ConsumeQueue
	}
	if o.KeyIndex.Slots == 0 || o.KeyIndex.EntriesPerFile == 0 {
		o.KeyIndex = d.KeyIndex
	}
	if o.DiskCleanRatio == 0 {
		o.DiskCleanRatio = d.DiskCleanRatio
	}
	if o.DiskHardLimitRatio == 0 {
		o.DiskHardLimitRatio = d.DiskHardLimitRatio
	}
	return o
}

// Validate checks ranges and cross-field rules.
func (o Options) Validate() error {
	maxRecord := int64(recordOverhead + MaxTopicLen + o.MaxPropertiesSize + max(o.MaxMessageSize, MaxSystemBodySize))
	switch {
	case o.MaxMessageSize <= 0:
		return fmt.Errorf("store: MaxMessageSize %d must be positive", o.MaxMessageSize)
	case o.MaxPropertiesSize <= 0 || o.MaxPropertiesSize > maxPropsFormat:
		return fmt.Errorf("store: MaxPropertiesSize %d must be in (0, %d]", o.MaxPropertiesSize, maxPropsFormat)
	case o.SegmentSize < 2*maxRecord:
		return fmt.Errorf("store: SegmentSize %d must be at least twice the largest record (%d)", o.SegmentSize, maxRecord)
	case o.KeyIndex.EntriesPerFile <= MaxKeys+1:
		return fmt.Errorf("store: KeyIndex.EntriesPerFile %d must exceed MaxKeys+1", o.KeyIndex.EntriesPerFile)
	case o.SegmentSize > 1<<40:
		return fmt.Errorf("store: SegmentSize %d too large", o.SegmentSize)
	case o.FlushMode != FlushAsync && o.FlushMode != FlushSync:
		return fmt.Errorf("store: unknown FlushMode %d", o.FlushMode)
	case o.FlushInterval <= 0 || o.CheckpointInterval <= 0:
		return fmt.Errorf("store: FlushInterval and CheckpointInterval must be positive")
	case o.RetentionTime < 0 || o.RetentionInterval < 0:
		return fmt.Errorf("store: retention durations must not be negative")
	case o.DiskCleanRatio <= 0 || o.DiskCleanRatio > 1:
		return fmt.Errorf("store: DiskCleanRatio %v must be in (0, 1]", o.DiskCleanRatio)
	case o.DiskHardLimitRatio <= 0 || o.DiskHardLimitRatio > 1:
		return fmt.Errorf("store: DiskHardLimitRatio %v must be in (0, 1]", o.DiskHardLimitRatio)
	case o.DiskHardLimitRatio < o.DiskCleanRatio:
		return fmt.Errorf("store: DiskHardLimitRatio %v must not be below DiskCleanRatio %v", o.DiskHardLimitRatio, o.DiskCleanRatio)
	}
	if err := o.ConsumeQueue.Validate(); err != nil {
		return err
	}
	return o.KeyIndex.Validate()
}
