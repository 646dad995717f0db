// Package store is raftmq's message store, in the spirit of RocketMQ's: an
// append-only, segmented CommitLog holding every message of every topic;
// per-queue ConsumeQueues of fixed-size entries derived from it; a key
// index for queries by key; sync or async flushing; CRC-checked crash
// recovery; and time- and disk-based retention. It is a plain embedded
// library: it knows nothing of Raft, gRPC or the network. The Raft state
// machine (package raftfsm) appends committed batches with Append, passing
// the leader-chosen store timestamp and the Raft index in each message, so
// every replica writes identical bytes at identical offsets.
//
// # Directory layout
//
//	DIR/checkpoint                          what is durable (below)
//	DIR/commitlog/00000000000000000000      segments, named by start offset
//	DIR/commitlog/00000000001073741824
//	DIR/consumequeue/TOPIC/QUEUEID/NNN...   see package cqueue
//	DIR/index/NNN...                        see package keyindex
//
// # CommitLog record (format: must not change without a new magic)
//
// All integers big-endian. Every record carries its length and a CRC32C
// (Castagnoli) over everything after the CRC field.
//
//	offset size field
//	0      4    total size          uint32, whole record incl. this field
//	4      4    magic               0x524D5131 "RMQ1" (blank: "RMQ0")
//	8      4    crc32c              over bytes [12, total size)
//	12     4    flags               uint32; bit 31 = last record of a batch
//	                                 (of one Raft entry)
//	16     4    queue id            uint32
//	20     8    queue offset        uint64
//	28     8    commitlog offset    int64, where this record starts
//	36     8    born timestamp      int64, unix ms (producer's clock)
//	44     8    store timestamp     int64, unix ms (Raft leader's clock)
//	52     8    raft index          uint64, of the entry it came from
//	60     4    reconsume times     uint32
//	64     1    topic length        uint8 (topics are at most 127 bytes)
//	65     T    topic
//	65+T   2    properties length   uint16 (P), at most 32767
//	67+T   P    properties:
//	              tags length uint16, tags
//	              key count uint16, then per key: length uint16, key
//	              property count uint16, then per property (sorted by
//	              name): name length uint16, name, value length uint16, value
//	67+T+P 4    body length         uint32 (B)
//	71+T+P B    body
//
// A record never straddles segments: when the next record (plus room for a
// blank) does not fit, the rest of the segment is filled by one blank
// record, and the next record starts the next segment. Every sealed
// segment therefore ends with a blank, whose last 16 bytes are a trailer:
//
//	blank:   total size uint32 | magic "RMQ0" | zeros ... | trailer
//	trailer: store timestamp of the segment's last record int64 |
//	         crc32c of those 8 bytes uint32 | magic "RMQE" 0x524D5145
//
// Retention reads the trailer to learn a segment's age without scanning it.
//
// # Checkpoint (format)
//
// 64 bytes, replaced atomically (write DIR/checkpoint.tmp, fsync, rename,
// fsync DIR): magic "RMQC" uint32 | version 1 uint32 | segment size int64 |
// flushed int64 | dispatched int64 | last raft index uint64 | last store
// timestamp int64 | clean uint8 | 11 zero bytes | crc32c of bytes [0, 60).
//
// # Ordering rules
//
//   - Append writes a batch with one WriteAt per segment touched, publishes
//     the new end, then writes ConsumeQueue and index entries. Readers see a
//     message once its bytes are written, never a partial record.
//   - FlushSync: Append returns after an fdatasync covering the batch;
//     concurrent appenders share fdatasyncs (group commit). FlushAsync: a
//     background flusher syncs every FlushInterval or FlushDirtyBytes.
//     DurableOffset reports what is fsynced. With Raft, the Raft log holds
//     every entry durably before it is applied, so async is safe as long as
//     a snapshot never claims more than DurableOffset.
//   - A new segment's directory entry is fsynced before records go into it.
//   - The checkpoint is written after the CommitLog is fsynced up to its
//     Dispatched offset and after the ConsumeQueues and key index are
//     fsynced; it never claims more than is durable.
//   - After an fsync or write error the store fails: appends return
//     ErrFailed until the store is reopened (and recovery rescans), because
//     the kernel may have dropped the dirty pages it could not write.
//
// # Recovery
//
// Close writes a clean checkpoint and Open trusts it without scanning.
// After an unclean stop Open scans from the checkpoint, verifying every
// CRC, re-dispatches whole batches to the ConsumeQueues and the index, and
// truncates the torn tail. A bad record inside the region the checkpoint
// reported durable fails Open with ErrCorrupt naming file and offset;
// Options.Repair truncates there instead.
//
// Options.KnownDurable raises that region to an offset the caller knows
// was fsynced (the Raft layer's snapshot end). Open's *CorruptError names
// the damaged record's offset, so a replicated caller can repair it
// (RepairDir) instead of truncating.
//
// # Damaged records
//
// Reads verify every record's CRC and never return a damaged one: they
// fail with a *CorruptError (ErrCorrupt) and report it to
// Options.OnCorrupt. Scrub verifies the whole CommitLog. ReadVerified
// returns raw bytes only as whole valid records; RepairCommitLog (open)
// and RepairDir (closed) rewrite damaged local records with such bytes
// from a replica, refusing (ErrDiverged) if a valid local record differs.
// See repair.go.
//
// # Retention
//
// DeleteExpired (run every RetentionInterval) deletes whole segments,
// oldest first, whose newest message is older than RetentionTime, or while
// the disk is fuller than DiskCleanRatio; ConsumeQueue and index files that
// point only into deleted segments follow. Above DiskHardLimitRatio
// appends fail with ErrDiskFull. A read below a queue's earliest offset
// gets ErrOffsetTooSmall with the earliest offset.
//
// # Dependencies
//
// Only the standard library and golang.org/x/sys/unix (fdatasync,
// fallocate, statfs in package vfs).
package store
