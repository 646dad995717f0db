// Package cqueue is the ConsumeQueue of one topic queue, as in RocketMQ: a
// dense array of fixed-size entries, one per message of the queue, that maps
// a queue offset (the message's position in its queue) to where the message
// lives in the CommitLog. Reading queue offset N is one positioned read.
//
// A ConsumeQueue is derived data. The store's dispatcher builds it from the
// CommitLog and can always rebuild it; the store's checkpoint records how far
// each queue was synced, and after a crash the store re-dispatches from there
// with Put (overwriting in place) and cuts a torn tail with Truncate.
//
// # Format
//
// Each entry is 20 bytes, big-endian:
//
//	+------------------+--------------+------------------+
//	| CommitLog offset | message size | tag hash         |
//	| int64, 8 bytes   | uint32, 4 B  | uint64, 8 bytes  |
//	+------------------+--------------+------------------+
//	  bytes 0..7         bytes 8..11    bytes 12..19
//
// Entry N (queue offset N) lives at byte N*20 of the queue's logical byte
// stream. The stream is cut into files of Options.EntriesPerFile entries
// each, stored in the queue's own directory. A file is named by the byte
// offset of its first entry in the stream (queue offset * 20) as 20 decimal
// digits, zero-padded:
//
//	dir/00000000000000000000   entries [0, EntriesPerFile)
//	dir/00000000000006000000   entries [300000, 600000) with the default
//
// EntrySize, the entry layout and the file naming are format: they must not
// change without a version bump. EntriesPerFile is format for an existing
// queue: opening it with another value fails with ErrCorrupt (the names no
// longer fall on file boundaries) or misplaces entries, so it must stay fixed
// for the life of a store.
//
// An entry whose size is 0 is never valid: it marks the end of written
// data. A file's size is never trusted as the logical end, because a file
// may have been extended with zeros, or a crash may have persisted a later
// page but not an earlier one. Open therefore scans the last file entry by
// entry up to the first zero-size entry (or the end of the file; a trailing
// partial entry is ignored); if the last file holds no entry it steps back
// to the file before. Open then repairs the tail so that stale bytes past a
// hole can never be revived by a later append: it cuts the file holding
// MaxOffset to exactly MaxOffset's position and removes every later file,
// and syncs that repair.
//
// A gap in the file sequence, or a name that is not 20 digits on a file
// boundary, makes Open fail with ErrCorrupt; the store should Remove the
// queue and rebuild it from the CommitLog.
//
// # Durability
//
// Put never syncs. Sync fdatasyncs every file written or cut since the last
// Sync and, if files were created or removed, syncs the directory, so the
// store may record a checkpoint only after Sync returned. Entries written
// after the last Sync are untrusted after a crash: a torn page can even
// leave an entry whose size survived and whose tag hash did not (4096 is not
// a multiple of 20), which is why the store re-dispatches from its
// checkpoint instead of trusting them. Removal of files (DeleteBefore,
// Truncate, Open's repair) syncs the directory after each file, oldest first
// for retention and newest first for truncation, so a crash leaves a
// contiguous run of files.
//
// # Concurrency
//
// One writer goroutine calls Put, Truncate, DeleteBefore, Sync, Close and
// Remove; any number of goroutines call Get, Search, SearchPhys, MinOffset
// and MaxOffset concurrently with it. MaxOffset is published only after the
// bytes were written, so a reader never sees an entry at or past the
// MaxOffset it observed. Readers hold a shared lock across their reads, and
// DeleteBefore, Truncate and Close take it exclusively, so a file is never
// cut, removed or closed under a reader; a reader that arrives afterwards
// sees the new MinOffset and gets ErrOffset. Put does not take that lock: it
// appends past MaxOffset, which readers never read, or overwrites entries in
// place (crash recovery only), which a concurrent reader may see half
// written.
//
// File handles are opened on first use and kept in a small cache; idle
// handles beyond a few are closed, least recently used first. Handles of
// files written since the last Sync stay pinned until Sync.
package cqueue
