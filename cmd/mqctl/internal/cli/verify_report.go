package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/raftmq/raftmq/store"
)

// verifyJSON is the stable JSON shape of `store verify --json`, kept apart
// from store.VerifyReport so that renaming a Go field does not break
// scripts that read it.
type verifyJSON struct {
	Dir          string   `json:"dir"`
	OK           bool     `json:"ok"`
	Segments     int      `json:"segments"`
	Records      int      `json:"records"`
	Blanks       int      `json:"blanks"`
	Bytes        int64    `json:"bytes"`
	Queues       int      `json:"queues"`
	QueueEntries int      `json:"queue_entries"`
	IndexFiles   int      `json:"index_files"`
	IndexEntries int      `json:"index_entries"`
	Problems     []string `json:"problems"`
}

func writeVerifyJSON(w io.Writer, dir string, r store.VerifyReport) error {
	v := verifyJSON{
		Dir: dir, OK: r.OK(),
		Segments: r.Segments, Records: r.Records, Blanks: r.Blanks, Bytes: r.Bytes,
		Queues: r.Queues, QueueEntries: r.QueueEntries,
		IndexFiles: r.IndexFiles, IndexEntries: r.IndexEntries,
		Problems: r.Problems,
	}
	if v.Problems == nil {
		v.Problems = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeVerifyText(w io.Writer, dir string, r store.VerifyReport) error {
	status := "OK"
	if !r.OK() {
		status = fmt.Sprintf("%d problem(s)", len(r.Problems))
	}
	_, err := fmt.Fprintf(w, "store %s: %s\n"+
		"  commitlog:      %d segment(s), %d record(s), %d blank(s), %d byte(s)\n"+
		"  consume queues: %d queue(s), %d entr(ies)\n"+
		"  key index:      %d file(s), %d entr(ies) checked\n",
		dir, status,
		r.Segments, r.Records, r.Blanks, r.Bytes,
		r.Queues, r.QueueEntries,
		r.IndexFiles, r.IndexEntries)
	if err != nil {
		return err
	}
	if !r.OK() {
		if _, err := fmt.Fprintln(w, "problems:"); err != nil {
			return err
		}
	}
	for _, p := range r.Problems {
		if _, err := fmt.Fprintf(w, "  - %s\n", p); err != nil {
			return err
		}
	}
	return nil
}
