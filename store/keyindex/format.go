package keyindex

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
)

// Format constants. Changing any of them changes the on-disk format and
// needs a new version number.
const (
	// magic starts every header copy ("RMQI").
	magic uint32 = 0x524D5149
	// version is the only format version this package reads and writes.
	version uint16 = 1
	// headerSize is the size of one header copy.
	headerSize = 64
	// headerCopies is the number of header copies at the start of a file.
	headerCopies = 2
	// slotsOffset is where the slot table begins.
	slotsOffset = headerSize * headerCopies
	// slotSize is the size of one slot.
	slotSize = 4
	// entrySize is the size of one entry.
	entrySize = 20
	// nameDigits is the width of a file name: the CommitLog offset of the
	// file's first entry in zero-padded decimal.
	nameDigits = 20
)

// Header field offsets (see doc.go).
const (
	hOffMagic     = 0
	hOffVersion   = 4
	hOffSealed    = 6
	hOffSequence  = 8
	hOffBeginTime = 16
	hOffEndTime   = 24
	hOffBeginPhys = 32
	hOffEndPhys   = 40
	hOffCovered   = 48
	hOffCount     = 56
	hOffCRC       = 60
)

// Entry field offsets (see doc.go).
const (
	eOffHash  = 0
	eOffPhys  = 4
	eOffDelta = 12
	eOffPrev  = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the decoded form of one header copy.
type header struct {
	sealed    bool
	sequence  uint64
	beginTime int64 // unix ms of the first entry; base of every timeDelta
	endTime   int64 // unix ms upper bound of every entry's store time
	beginPhys int64
	endPhys   int64
	covered   int64
	count     uint32
}

func (h *header) encode(b []byte) {
	_ = b[headerSize-1]
	clear(b[:headerSize])
	binary.BigEndian.PutUint32(b[hOffMagic:], magic)
	binary.BigEndian.PutUint16(b[hOffVersion:], version)
	if h.sealed {
		b[hOffSealed] = 1
	}
	binary.BigEndian.PutUint64(b[hOffSequence:], h.sequence)
	binary.BigEndian.PutUint64(b[hOffBeginTime:], uint64(h.beginTime))
	binary.BigEndian.PutUint64(b[hOffEndTime:], uint64(h.endTime))
	binary.BigEndian.PutUint64(b[hOffBeginPhys:], uint64(h.beginPhys))
	binary.BigEndian.PutUint64(b[hOffEndPhys:], uint64(h.endPhys))
	binary.BigEndian.PutUint64(b[hOffCovered:], uint64(h.covered))
	binary.BigEndian.PutUint32(b[hOffCount:], h.count)
	binary.BigEndian.PutUint32(b[hOffCRC:], crc32.Checksum(b[:hOffCRC], castagnoli))
}

// decodeHeader parses one header copy. It reports ok=false for bytes that
// are not a valid header (wrong magic, wrong checksum, torn write); a valid
// checksum over an unknown version or impossible fields is an error.
func decodeHeader(b []byte) (h header, ok bool, err error) {
	if len(b) < headerSize {
		return header{}, false, nil
	}
	if binary.BigEndian.Uint32(b[hOffMagic:]) != magic {
		return header{}, false, nil
	}
	if binary.BigEndian.Uint32(b[hOffCRC:]) != crc32.Checksum(b[:hOffCRC], castagnoli) {
		return header{}, false, nil
	}
	if v := binary.BigEndian.Uint16(b[hOffVersion:]); v != version {
		return header{}, false, fmt.Errorf("unsupported version %d", v)
	}
	if s := b[hOffSealed]; s > 1 || b[hOffSealed+1] != 0 {
		return header{}, false, fmt.Errorf("bad sealed/padding bytes %#x %#x", s, b[hOffSealed+1])
	}
	h = header{
		sealed:    b[hOffSealed] == 1,
		sequence:  binary.BigEndian.Uint64(b[hOffSequence:]),
		beginTime: int64(binary.BigEndian.Uint64(b[hOffBeginTime:])),
		endTime:   int64(binary.BigEndian.Uint64(b[hOffEndTime:])),
		beginPhys: int64(binary.BigEndian.Uint64(b[hOffBeginPhys:])),
		endPhys:   int64(binary.BigEndian.Uint64(b[hOffEndPhys:])),
		covered:   int64(binary.BigEndian.Uint64(b[hOffCovered:])),
		count:     binary.BigEndian.Uint32(b[hOffCount:]),
	}
	if h.sequence == 0 || h.beginPhys < 0 || h.endPhys < h.beginPhys || h.covered < 0 {
		return header{}, false, fmt.Errorf("impossible header fields %+v", h)
	}
	return h, true, nil
}

// entry is the decoded form of one index entry.
type entry struct {
	hash  uint32
	phys  int64
	delta int32  // seconds since the file's beginTime, floored
	prev  uint32 // entry number + 1 of the previous entry in the chain; 0 = none
}

func (e *entry) encode(b []byte) {
	_ = b[entrySize-1]
	binary.BigEndian.PutUint32(b[eOffHash:], e.hash)
	binary.BigEndian.PutUint64(b[eOffPhys:], uint64(e.phys))
	binary.BigEndian.PutUint32(b[eOffDelta:], uint32(e.delta))
	binary.BigEndian.PutUint32(b[eOffPrev:], e.prev)
}

func decodeEntry(b []byte) entry {
	_ = b[entrySize-1]
	return entry{
		hash:  binary.BigEndian.Uint32(b[eOffHash:]),
		phys:  int64(binary.BigEndian.Uint64(b[eOffPhys:])),
		delta: int32(binary.BigEndian.Uint32(b[eOffDelta:])),
		prev:  binary.BigEndian.Uint32(b[eOffPrev:]),
	}
}

// timeDelta is the whole seconds from base to t, floored, saturated to the
// int32 range. Saturated values mean "unknown" to timeSpan.
func timeDelta(base, t int64) int32 {
	d := t - base
	q := d / 1000
	if d%1000 != 0 && d < 0 {
		q--
	}
	return int32(max(math.MinInt32, min(math.MaxInt32, q)))
}

// timeSpan is the range of unix ms an entry with the given delta may have
// been stored at: [base+delta*1000, base+delta*1000+999]. A saturated delta
// spans everything.
func timeSpan(base int64, delta int32) (lo, hi int64) {
	if delta == math.MinInt32 || delta == math.MaxInt32 {
		return math.MinInt64, math.MaxInt64
	}
	lo = base + int64(delta)*1000
	return lo, lo + 999
}

// fileName is the name of the file whose first entry has CommitLog offset phys.
func fileName(phys int64) string {
	return fmt.Sprintf("%0*d", nameDigits, phys)
}

// parseFileName reports the CommitLog offset a file name stands for, and
// whether the name is an index file name at all.
func parseFileName(name string) (int64, bool) {
	if len(name) != nameDigits {
		return 0, false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
