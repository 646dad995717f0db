package record_test

import (
	"encoding/binary"
	"hash/crc32"
)

// The record layout, written out a second time independently of record.go
// so that the tests can build records Append never would (unsorted or
// duplicate properties) and so that a silent layout change is caught by the
// "raw encoder matches Append" test as well as by the golden file.
const (
	rawOffCRC   = 8  // CRC32C (Castagnoli) of bytes [rawCRCStart, size)
	rawCRCStart = 12 // the CRC covers everything after size, magic and CRC
)

var rawCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// rawRecord is a message record field by field; props keeps the order and
// duplicates it is given.
type rawRecord struct {
	flags, queueID, reconsume uint32
	queueOffset, physOffset   uint64
	born, store               int64
	raftIndex                 uint64
	topic, tags               string
	keys                      []string
	props                     [][2]string
	body                      []byte
}

func encodeRaw(r rawRecord) []byte {
	var props []byte
	props = appendStr16(props, r.tags)
	props = binary.BigEndian.AppendUint16(props, uint16(len(r.keys)))
	for _, k := range r.keys {
		props = appendStr16(props, k)
	}
	props = binary.BigEndian.AppendUint16(props, uint16(len(r.props)))
	for _, kv := range r.props {
		props = appendStr16(props, kv[0])
		props = appendStr16(props, kv[1])
	}

	be := binary.BigEndian
	b := make([]byte, 12, 128)
	b = be.AppendUint32(b, r.flags)
	b = be.AppendUint32(b, r.queueID)
	b = be.AppendUint64(b, r.queueOffset)
	b = be.AppendUint64(b, r.physOffset)
	b = be.AppendUint64(b, uint64(r.born))
	b = be.AppendUint64(b, uint64(r.store))
	b = be.AppendUint64(b, r.raftIndex)
	b = be.AppendUint32(b, r.reconsume)
	b = append(b, byte(len(r.topic)))
	b = append(b, r.topic...)
	b = be.AppendUint16(b, uint16(len(props)))
	b = append(b, props...)
	b = be.AppendUint32(b, uint32(len(r.body)))
	b = append(b, r.body...)
	be.PutUint32(b[0:], uint32(len(b)))
	be.PutUint32(b[4:], 0x524D5131) // "RMQ1"
	fixCRC(b)
	return b
}

func appendStr16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// fixCRC rewrites the CRC of the message record that fills b.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[rawOffCRC:], crc32.Checksum(b[rawCRCStart:], rawCastagnoli))
}
