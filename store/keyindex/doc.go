// Package keyindex is the key index of the message store, in the spirit of
// RocketMQ's IndexFile: on-disk hash slots plus chained entries, mapping
// KeyHash(topic, key) to CommitLog offsets, for "query messages by key
// within a time range".
//
// The index is derived data. The store offers it the keys of every
// CommitLog record in increasing CommitLog offset (Add), says how far it
// has offered (MarkCovered), and makes that durable (Flush). After a crash
// Open reports, through Covered, the offset up to which the index is
// complete; the store re-offers the CommitLog from there. Truncate follows
// a cut of the CommitLog tail; DeleteBefore follows CommitLog retention.
//
// # Files
//
// Index files live in one directory, each named by the CommitLog offset of
// its first entry as 20 zero-padded decimal digits ("00000000000000004096").
// The one exception is an empty file (entryCount 0) left as the last file
// by a Truncate that removed every entry: it is named by the covered value
// it carries, and the next Add replaces it with a properly named file
// (creating that first, removing the empty one second).
// Only the last file is active (unsealed); every other one is sealed: full,
// with its slot table on disk, never written again. Every file has the same
// size, 128 + 4*Slots + 20*EntriesPerFile bytes, fixed at creation (sparse
// where the file system allows); Open reports ErrCorrupt if a file's size
// does not match the Options, which catches a change of Options.
//
//	+----------------+----------------+------------------+------------------------+
//	| header copy 0  | header copy 1  | slot table       | entries                |
//	| 64 bytes       | 64 bytes       | Slots x 4 bytes  | EntriesPerFile x 20 B  |
//	+----------------+----------------+------------------+------------------------+
//	0                64               128
//
// All integers are big-endian.
//
// # Header (64 bytes, two copies)
//
//	offset size type    field
//	     0    4 uint32  magic 0x524D5149 ("RMQI")
//	     4    2 uint16  version (1)
//	     6    1 uint8   sealed (0 or 1)
//	     7    1 -       padding (0)
//	     8    8 uint64  sequence, starts at 1, +1 per header write
//	    16    8 int64   beginTimestamp: unix ms of entry 0; base of timeDelta
//	    24    8 int64   endTimestamp: unix ms, newest store time of any entry
//	    32    8 int64   beginPhys: CommitLog offset of entry 0 (= file name)
//	    40    8 int64   endPhys: CommitLog offset of entry entryCount-1
//	    48    8 int64   covered: every record with CommitLog offset < covered
//	                    had been offered when this header was written, and
//	                    its entries were durable
//	    56    4 uint32  entryCount: entries [0, entryCount) are live
//	    60    4 uint32  CRC32C (Castagnoli) of bytes [0, 60)
//
// The header is double-buffered. A header write goes to the copy that does
// NOT hold the newest valid header, followed by fdatasync, so a torn write
// never destroys the last good copy. Open reads both copies and takes the
// valid one with the highest sequence. A file's first header (sequence 1)
// always goes to copy 0. Hence the recovery rule for both copies invalid:
// if copy 1 is all zeros and the file is the last one, its first header
// write never became durable, the file never claimed anything, and Open
// removes it; in every other case it is ErrCorrupt naming the file.
//
// The version field is uint16 (not uint32) so that sealed, padding and
// the CRC fit in 64 bytes.
//
// # Slot table (Slots x 4 bytes)
//
//	offset 128 + 4*s: uint32  entry number + 1 of the newest entry whose
//	                          keyHash % Slots == s; 0 = empty
//
// Only sealed files' slot tables are meaningful on disk. The active file's
// table lives in memory (it is the only table in memory, so memory is
// bounded by 4*Slots bytes) and is rebuilt on Open by scanning entries
// [0, entryCount); Flush does not write it. Sealing writes it, fdatasyncs,
// then writes a header with sealed=1.
//
// # Entry (20 bytes)
//
//	offset size type    field
//	     0    4 uint32  keyHash = KeyHash(topic, key)
//	     4    8 int64   phys: CommitLog offset of the record
//	    12    4 int32   timeDelta: whole seconds from beginTimestamp to the
//	                    record's store time, floored (saturated at the
//	                    int32 range, which means "any time")
//	    16    4 uint32  prev: entry number + 1 of the previous entry in the
//	                    same slot chain; 0 = none; always below the entry's
//	                    own number + 1 (a chain goes strictly backwards)
//
// Entry n lives at 128 + 4*Slots + 20*n. Entries are written with WriteAt
// and synced by Flush (or sealing) before a header counts them; entries at
// or past entryCount are ignored and later overwritten.
//
// Every constant in format.go, and KeyHash, is format: changing one needs a
// version bump.
//
// # Ordering rules
//
//   - Entries are fdatasynced before any header whose entryCount counts
//     them, and covered is never written above the MarkCovered value, and
//     Add refuses items below it, so a durable header never claims an entry
//     that is not durable.
//   - Open drops every entry at or above the durable covered value (it
//     truncates to it), so the store can re-offer the CommitLog from
//     Covered() without tripping ErrOrder.
//   - The covered value lives in the last file's header, so the last file
//     is never removed before another file carries covered: Truncate
//     lowers covered in the last file's header before it trims or removes
//     anything, writes it into the file that becomes last (an empty carrier
//     if no entry survives), and removes files oldest first; Open, which
//     truncates to the covered value it finds, finishes a Truncate cut
//     short by a crash. DeleteBefore never removes the last file.
//   - A new file's header and directory entry are synced before any entry
//     is written to it.
//
// # Concurrency
//
// One writer goroutine calls Add, MarkCovered, Flush, Truncate,
// DeleteBefore and Close; Lookup, Covered and Files may run concurrently
// from any goroutine. Readers see the active file's entries as soon as Add
// returns, before they are flushed.
//
// # Limitations
//
// Store times are kept at one-second granularity relative to each file's
// first entry; lookups may return entries up to a second outside the range
// and entries whose hash collides, so the caller re-checks each record.
// Files are skipped by their [beginTimestamp, endTimestamp] range, which
// assumes store times do not go backwards (a record stored earlier than
// its file's first entry is missed by a range that ends before that
// entry). An index with no files has nowhere to record covered, so it
// reports 0 until the first file exists.
package keyindex
