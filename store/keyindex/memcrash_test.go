package keyindex

import (
	"testing"

	"github.com/raftmq/raftmq/store/vfs"
)

// TestCrashMemFS crashes a MemFS (unsynced data dropped or torn) at random
// points of a random workload. After each reopen Covered() must equal its
// value before the crash (headers are synced when written) and the index
// must hold exactly the items below it.
func TestCrashMemFS(t *testing.T) {
	for _, mode := range []vfs.CrashMode{vfs.DropUnsynced, vfs.TearUnsynced} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newRand(t)
			fs := vfs.NewMem()
			opts := Options{Slots: 5, EntriesPerFile: 9}
			open := func() *Index {
				t.Helper()
				x, err := Open(fs, "/idx", opts)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return x
			}
			g, m := newGen(r, 4), &model{}
			x := open()
			for round := range 25 {
				for range 1 + r.IntN(4) {
					addAll(t, x, m, r, g.next(r.IntN(20)))
					switch r.IntN(4) {
					case 0, 1:
						if err := x.Flush(); err != nil {
							t.Fatal(err)
						}
					case 2:
						if len(m.items) > 0 {
							cut := m.items[r.IntN(len(m.items))].Phys
							if err := x.Truncate(cut); err != nil {
								t.Fatal(err)
							}
							*m = *m.below(cut)
						}
					}
				}
				covered := x.Covered()
				fs.Crash(r, mode)
				x = open()
				if x.Covered() != covered {
					t.Fatalf("round %d: Covered() = %d after crash, %d before", round, x.Covered(), covered)
				}
				*m = *m.below(covered)
				checkAll(t, x, m, g)
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
