package cli

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/raftmq/raftmq/client"
)

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeJSONLine prints v as one line of JSON (JSON Lines, for streams).
func writeJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// newTable returns a tabwriter for a table printed at once: cells end
// with '\t', rows with '\n'; Flush it at the end.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// streamTable prints a table one row at a time (for produce and consume,
// which must show each row as it happens). The header is printed with the
// first row, each column as wide as the wider of the two; later rows widen
// a column when they must, so rows stay aligned while cells are alike.
type streamTable struct {
	w      io.Writer
	header []string // printed with the first row, then nil
	widths []int
}

func newStreamTable(w io.Writer, header ...string) *streamTable {
	return &streamTable{w: w, header: header, widths: make([]int, len(header))}
}

func (t *streamTable) row(cells ...string) error {
	var b strings.Builder
	if t.header != nil {
		for i, c := range cells {
			if i < len(t.widths) {
				t.widths[i] = utf8.RuneCountInString(c)
			}
		}
		t.writeLine(&b, t.header)
		t.header = nil
	}
	t.writeLine(&b, cells)
	_, err := io.WriteString(t.w, b.String())
	return err
}

// writeLine pads every cell but the last to its column's width.
func (t *streamTable) writeLine(b *strings.Builder, cells []string) {
	for i, c := range cells {
		b.WriteString(c)
		if i == len(cells)-1 {
			break
		}
		n := utf8.RuneCountInString(c)
		pad := 0
		if i < len(t.widths) {
			t.widths[i] = max(t.widths[i], n)
			pad = t.widths[i] - n
		}
		b.WriteString(strings.Repeat(" ", pad+2))
	}
	b.WriteByte('\n')
}

// bodyText shows a body in a table cell: as is when it is printable
// UTF-8, else Go-quoted so that control bytes cannot break the table.
func bodyText(b []byte) string {
	s := string(b)
	if utf8.Valid(b) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// dash shows an empty cell as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// messageJSON is the stable JSON shape of a consumed or read message.
// Body holds the body when it is valid UTF-8; otherwise it is empty and
// body_base64 holds it.
type messageJSON struct {
	Topic          string            `json:"topic"`
	Queue          uint32            `json:"queue"`
	Offset         uint64            `json:"offset"`
	MsgID          string            `json:"msg_id"`
	Tags           string            `json:"tags"`
	Keys           []string          `json:"keys"`
	Properties     map[string]string `json:"properties"`
	Body           string            `json:"body"`
	BodyBase64     string            `json:"body_base64,omitempty"`
	BornTime       string            `json:"born_time"`
	StoreTime      string            `json:"store_time"`
	ReconsumeTimes uint32            `json:"reconsume_times"`
	Flags          uint32            `json:"flags"`
}

func toMessageJSON(m *client.Message) messageJSON {
	v := messageJSON{
		Topic: m.Topic, Offset: m.QueueOffset, MsgID: m.MsgID, Tags: m.Tags,
		Keys: m.Keys, Properties: m.Properties,
		BornTime: formatTime(m.BornTime), StoreTime: formatTime(m.StoreTime),
		ReconsumeTimes: m.ReconsumeTimes, Flags: m.Flags,
	}
	if m.QueueID != nil {
		v.Queue = *m.QueueID
	}
	if v.Keys == nil {
		v.Keys = []string{}
	}
	if v.Properties == nil {
		v.Properties = map[string]string{}
	}
	if utf8.Valid(m.Body) {
		v.Body = string(m.Body)
	} else {
		v.BodyBase64 = base64.StdEncoding.EncodeToString(m.Body)
	}
	return v
}

// messageHeader and messageRow are the table columns of a message list.
var messageHeader = []string{"QUEUE", "OFFSET", "MSG ID", "TAGS", "KEYS", "BODY"}

func messageRow(m *client.Message) []string {
	q := "-"
	if m.QueueID != nil {
		q = strconv.FormatUint(uint64(*m.QueueID), 10)
	}
	return []string{q, strconv.FormatUint(m.QueueOffset, 10), m.MsgID,
		dash(m.Tags), dash(strings.Join(m.Keys, ",")), bodyText(m.Body)}
}

// formatTime prints a time in RFC 3339 with milliseconds, UTC.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
