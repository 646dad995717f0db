// Package record is the CommitLog record format: one encoding for every
// message the store holds, shared by the writer, recovery, the verifier and
// the fuzzers. The layout is drawn in the store package's doc.go; every
// constant below is format and must not change without a version bump (a
// new magic number).
package record

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
)

// Format constants. Changing any of them changes the on-disk format.
const (
	// MagicMessage starts every message record ("RMQ1").
	MagicMessage uint32 = 0x524D5131
	// MagicBlank starts the blank record that pads the end of a segment
	// when the next record does not fit ("RMQ0").
	MagicBlank uint32 = 0x524D5130
	// FixedSize is the size of a record with empty topic, properties and body.
	FixedSize = 64 + 1 + 2 + 4
	// MinBlankSize is the size of the smallest blank record: length, magic
	// and the 16-byte trailer. The writer reserves it at the end of every
	// segment, so every sealed segment ends with a blank record whose
	// trailer sits in the segment's last 16 bytes.
	MinBlankSize = 8 + TrailerSize
	// TrailerSize is the size of a blank record's trailer: the newest store
	// timestamp in the segment (int64), a CRC32C of those 8 bytes, and
	// MagicTrailer.
	TrailerSize = 16
	// MagicTrailer ends every sealed segment ("RMQE").
	MagicTrailer uint32 = 0x524D5145
	// FlagBatchEnd marks the last record of a batch: the last of a run of
	// records with the same Raft index written by one Append call (one
	// Raft entry). After a crash, recovery truncates back to the last
	// record carrying it, so a batch is either wholly present or wholly
	// absent.
	// Callers must not set it; the store owns it.
	FlagBatchEnd uint32 = 1 << 31
	// MaxTopicLen is the longest topic name the format can carry.
	MaxTopicLen = 255
	// MaxPropsLen is the longest encoded properties block.
	MaxPropsLen = 32767
	// crcStart is where the CRC-covered bytes begin.
	crcStart = 12
)

// Header field offsets.
const (
	offSize        = 0
	offMagic       = 4
	offCRC         = 8
	offFlags       = 12
	offQueueID     = 16
	offQueueOffset = 20
	offPhysOffset  = 28
	offBorn        = 36
	offStore       = 44
	offRaftIndex   = 52
	offReconsume   = 60
	offTopicLen    = 64
)

// Errors returned by Decode and DecodeHeader. None of them is retryable: they
// describe bytes, and the bytes will not change.
var (
	// ErrShort means fewer bytes were given than the record needs; at the
	// tail of a CommitLog it marks a torn write.
	ErrShort = errors.New("record: short buffer")
	// ErrMagic means the bytes do not start with a known magic number.
	ErrMagic = errors.New("record: bad magic")
	// ErrLength means the length field is impossible.
	ErrLength = errors.New("record: bad length")
	// ErrCRC means the checksum does not match the contents.
	ErrCRC = errors.New("record: checksum mismatch")
	// ErrFormat means the fields inside a checksummed record are inconsistent.
	ErrFormat = errors.New("record: malformed fields")
	// ErrTooLarge means a field does not fit the format's limits.
	ErrTooLarge = errors.New("record: field too large")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Message is one message as stored. Fields marked "assigned" are filled by
// the store on append; the caller fills the rest, including StoreTimestamp
// and RaftIndex, so that replicas applying the same batch write identical
// bytes.
type Message struct {
	Topic          string
	QueueID        uint32
	Flags          uint32
	BornTimestamp  int64 // unix milliseconds, set by the producer
	StoreTimestamp int64 // unix milliseconds, chosen by the Raft leader
	RaftIndex      uint64
	ReconsumeTimes uint32
	Tags           string
	Keys           []string
	Properties     map[string]string
	Body           []byte

	QueueOffset     uint64 // assigned
	CommitLogOffset int64  // assigned
}

// PropsSize is the encoded size of the message's properties block.
func PropsSize(m *Message) int {
	n := 2 + len(m.Tags) + 2
	for _, k := range m.Keys {
		n += 2 + len(k)
	}
	n += 2
	for k, v := range m.Properties {
		n += 4 + len(k) + len(v)
	}
	return n
}

// Size is the encoded size of the whole record.
func Size(m *Message) int {
	return FixedSize + len(m.Topic) + PropsSize(m) + len(m.Body)
}

// Check reports whether m fits the format's field limits.
func Check(m *Message) error {
	if len(m.Topic) > MaxTopicLen {
		return ErrTooLarge
	}
	if len(m.Tags) > 0xFFFF || len(m.Keys) > 0xFFFF || len(m.Properties) > 0xFFFF {
		return ErrTooLarge
	}
	for _, k := range m.Keys {
		if len(k) > 0xFFFF {
			return ErrTooLarge
		}
	}
	for k, v := range m.Properties {
		if len(k) > 0xFFFF || len(v) > 0xFFFF {
			return ErrTooLarge
		}
	}
	if PropsSize(m) > MaxPropsLen {
		return ErrTooLarge
	}
	if int64(len(m.Body)) > int64(^uint32(0))-int64(FixedSize) {
		return ErrTooLarge
	}
	return nil
}

// Append encodes m, including its assigned QueueOffset and CommitLogOffset,
// onto dst and returns the extended slice. The caller must have checked m
// with Check. Property keys are written sorted, so equal messages encode to
// equal bytes.
func Append(dst []byte, m *Message) []byte {
	size := Size(m)
	start := len(dst)
	dst = slices.Grow(dst, size)[:start+size]
	b := dst[start:]
	be := binary.BigEndian
	be.PutUint32(b[offSize:], uint32(size))
	be.PutUint32(b[offMagic:], MagicMessage)
	be.PutUint32(b[offFlags:], m.Flags)
	be.PutUint32(b[offQueueID:], m.QueueID)
	be.PutUint64(b[offQueueOffset:], m.QueueOffset)
	be.PutUint64(b[offPhysOffset:], uint64(m.CommitLogOffset))
	be.PutUint64(b[offBorn:], uint64(m.BornTimestamp))
	be.PutUint64(b[offStore:], uint64(m.StoreTimestamp))
	be.PutUint64(b[offRaftIndex:], m.RaftIndex)
	be.PutUint32(b[offReconsume:], m.ReconsumeTimes)
	b[offTopicLen] = byte(len(m.Topic))
	p := offTopicLen + 1
	p += copy(b[p:], m.Topic)
	be.PutUint16(b[p:], uint16(PropsSize(m)))
	p += 2
	p = putString16(b, p, m.Tags)
	be.PutUint16(b[p:], uint16(len(m.Keys)))
	p += 2
	for _, k := range m.Keys {
		p = putString16(b, p, k)
	}
	be.PutUint16(b[p:], uint16(len(m.Properties)))
	p += 2
	if len(m.Properties) > 0 {
		keys := make([]string, 0, len(m.Properties))
		for k := range m.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p = putString16(b, p, k)
			p = putString16(b, p, m.Properties[k])
		}
	}
	be.PutUint32(b[p:], uint32(len(m.Body)))
	p += 4
	copy(b[p:], m.Body)
	be.PutUint32(b[offCRC:], crc32.Checksum(b[crcStart:], castagnoli))
	return dst
}

func putString16(b []byte, p int, s string) int {
	binary.BigEndian.PutUint16(b[p:], uint16(len(s)))
	p += 2
	return p + copy(b[p:], s)
}

// AppendBlank appends a blank record of exactly n bytes (n >= MinBlankSize)
// that pads a segment's tail. Its trailer records maxStoreTimestamp, the
// newest store timestamp in the segment, which retention reads without
// scanning the segment.
func AppendBlank(dst []byte, n int, maxStoreTimestamp int64) []byte {
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	b := dst[start:]
	clear(b)
	binary.BigEndian.PutUint32(b[offSize:], uint32(n))
	binary.BigEndian.PutUint32(b[offMagic:], MagicBlank)
	t := b[n-TrailerSize:]
	binary.BigEndian.PutUint64(t, uint64(maxStoreTimestamp))
	binary.BigEndian.PutUint32(t[8:], crc32.Checksum(t[:8], castagnoli))
	binary.BigEndian.PutUint32(t[12:], MagicTrailer)
	return dst
}

// DecodeTrailer decodes the last TrailerSize bytes of a sealed segment and
// returns the newest store timestamp it records.
func DecodeTrailer(t []byte) (int64, error) {
	if len(t) < TrailerSize {
		return 0, ErrShort
	}
	if binary.BigEndian.Uint32(t[12:]) != MagicTrailer {
		return 0, ErrMagic
	}
	if crc32.Checksum(t[:8], castagnoli) != binary.BigEndian.Uint32(t[8:]) {
		return 0, ErrCRC
	}
	return int64(binary.BigEndian.Uint64(t)), nil
}

// Header is what the first HeaderPeek bytes of a record say.
type Header struct {
	Size  int
	Magic uint32
}

// HeaderPeek is how many bytes DecodeHeader needs.
const HeaderPeek = 8

// DecodeHeader reads the length and magic at the start of b. It checks that
// the magic is known and that the length is plausible for it; it does not
// verify the checksum.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderPeek {
		return Header{}, ErrShort
	}
	h := Header{
		Size:  int(binary.BigEndian.Uint32(b[offSize:])),
		Magic: binary.BigEndian.Uint32(b[offMagic:]),
	}
	switch h.Magic {
	case MagicMessage:
		if h.Size < FixedSize {
			return h, ErrLength
		}
	case MagicBlank:
		if h.Size < MinBlankSize {
			return h, ErrLength
		}
	default:
		return h, ErrMagic
	}
	return h, nil
}

// Decode verifies and decodes the message record at the start of b, which
// must hold the whole record. The returned message's Body aliases b; strings
// are copied. It returns the record's size.
func Decode(b []byte) (Message, int, error) {
	var m Message
	h, err := DecodeHeader(b)
	if err != nil {
		return m, 0, err
	}
	if h.Magic != MagicMessage {
		return m, 0, ErrMagic
	}
	if len(b) < h.Size {
		return m, 0, ErrShort
	}
	b = b[:h.Size]
	if crc32.Checksum(b[crcStart:], castagnoli) != binary.BigEndian.Uint32(b[offCRC:]) {
		return m, 0, ErrCRC
	}
	if err := decodeFields(b, &m); err != nil {
		return Message{}, 0, err
	}
	return m, h.Size, nil
}

func decodeFields(b []byte, m *Message) error {
	be := binary.BigEndian
	m.Flags = be.Uint32(b[offFlags:])
	m.QueueID = be.Uint32(b[offQueueID:])
	m.QueueOffset = be.Uint64(b[offQueueOffset:])
	m.CommitLogOffset = int64(be.Uint64(b[offPhysOffset:]))
	m.BornTimestamp = int64(be.Uint64(b[offBorn:]))
	m.StoreTimestamp = int64(be.Uint64(b[offStore:]))
	m.RaftIndex = be.Uint64(b[offRaftIndex:])
	m.ReconsumeTimes = be.Uint32(b[offReconsume:])
	r := reader{b: b, p: offTopicLen}
	topicLen := int(r.u8())
	m.Topic = r.str(topicLen)
	propsLen := int(r.u16())
	propsEnd := r.p + propsLen
	m.Tags = r.str(int(r.u16()))
	if n := int(r.u16()); n > 0 {
		m.Keys = make([]string, 0, min(n, 64))
		for range n {
			if r.bad {
				break
			}
			m.Keys = append(m.Keys, r.str(int(r.u16())))
		}
	}
	if n := int(r.u16()); n > 0 {
		m.Properties = make(map[string]string, min(n, 64))
		prev := ""
		for i := range n {
			if r.bad {
				break
			}
			k := r.str(int(r.u16()))
			// The writer emits names sorted and unique; anything else is
			// not a record this format produced.
			if i > 0 && k <= prev {
				return ErrFormat
			}
			prev = k
			m.Properties[k] = r.str(int(r.u16()))
		}
	}
	if r.bad || r.p != propsEnd {
		return ErrFormat
	}
	bodyLen := int(r.u32())
	if r.bad || bodyLen != len(b)-r.p {
		return ErrFormat
	}
	m.Body = b[r.p:len(b):len(b)]
	return nil
}

type reader struct {
	b   []byte
	p   int
	bad bool
}

func (r *reader) need(n int) bool {
	if r.bad || n < 0 || r.p+n > len(r.b) {
		r.bad = true
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	r.p++
	return r.b[r.p-1]
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	r.p += 2
	return binary.BigEndian.Uint16(r.b[r.p-2:])
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	r.p += 4
	return binary.BigEndian.Uint32(r.b[r.p-4:])
}

func (r *reader) str(n int) string {
	if !r.need(n) {
		return ""
	}
	r.p += n
	return string(r.b[r.p-n : r.p])
}

// TagHash is the tag hash stored in ConsumeQueue entries: FNV-1a 64 of the
// tag, with 0 reserved for "no tag". Format: must not change.
func TagHash(tag string) uint64 {
	if tag == "" {
		return 0
	}
	// FNV-1a 64, inline: it runs for every message appended and filtered.
	v := uint64(14695981039346656037)
	for i := 0; i < len(tag); i++ {
		v ^= uint64(tag[i])
		v *= 1099511628211
	}
	if v == 0 {
		v = 1
	}
	return v
}

// ClaimedOffset returns the CommitLog offset field of the record at the
// start of b without verifying anything (false if b is too short). A
// reader uses it to tell a damaged record from bytes that are no record
// start at all.
func ClaimedOffset(b []byte) (int64, bool) {
	if len(b) < offPhysOffset+8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[offPhysOffset:])), true
}
