package keyindex

import (
	"fmt"
	"hash/fnv"
	"slices"
	"testing"
)

func TestKeyHashGolden(t *testing.T) {
	tests := []struct {
		topic, key string
		want       uint32
	}{
		{"", "", 0x260c9112},
		{"TopicTest", "order-1", 0x2dc07dd9},
		{"orders", "42", 0x7b40f0fb},
		{"topic", "key#with#hash", 0xb46bf0ca},
	}
	for _, tt := range tests {
		t.Run(tt.topic+"/"+tt.key, func(t *testing.T) {
			got := KeyHash(tt.topic, tt.key)
			h := fnv.New32a()
			h.Write([]byte(tt.topic + "#" + tt.key))
			if got != h.Sum32() {
				t.Fatalf("KeyHash = %#x, hash/fnv says %#x", got, h.Sum32())
			}
			if got != tt.want {
				t.Fatalf("KeyHash = %#x, pinned %#x: the format changed", got, tt.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"default", DefaultOptions(), true},
		{"tiny", tiny, true},
		{"zero slots", Options{Slots: 0, EntriesPerFile: 10}, false},
		{"zero entries", Options{Slots: 4, EntriesPerFile: 0}, false},
		{"too many slots", Options{Slots: MaxSlots + 1, EntriesPerFile: 10}, false},
		{"too many entries", Options{Slots: 4, EntriesPerFile: MaxEntriesPerFile + 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.opts.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if d := DefaultOptions(); d.Slots != 5_000_000 || d.EntriesPerFile != 20_000_000 {
		t.Fatalf("DefaultOptions() = %+v", d)
	}
}

func TestAddLookupModel(t *testing.T) {
	for _, opts := range []Options{tiny, {Slots: 1, EntriesPerFile: 7}, {Slots: 64, EntriesPerFile: 1000}} {
		t.Run(fmt.Sprintf("%d/%d", opts.Slots, opts.EntriesPerFile), func(t *testing.T) {
			r := newRand(t)
			x := openT(t, t.TempDir(), opts)
			defer x.Close()
			g, m := newGen(r, 6), &model{}
			addAll(t, x, m, r, g.next(137))
			checkAll(t, x, m, g)
			if want := (137 + opts.EntriesPerFile - 1) / opts.EntriesPerFile; x.Files() != want {
				t.Fatalf("Files() = %d, want %d", x.Files(), want)
			}
		})
	}
}

func TestLookupAcrossFilesTimeRange(t *testing.T) {
	x := openT(t, t.TempDir(), tiny)
	defer x.Close()
	h := KeyHash("t", "k")
	other := KeyHash("t", "other")
	var items []Item
	// 35 items, one per second from t=100s; every third carries key k.
	for i := range 35 {
		hash := other
		if i%3 == 0 {
			hash = h
		}
		items = append(items, Item{Hash: hash, Phys: int64(100 + i*10), StoreTime: int64(100+i) * 1000})
	}
	if err := x.Add(items); err != nil {
		t.Fatal(err)
	}
	if x.Files() != 4 {
		t.Fatalf("Files() = %d, want 4", x.Files())
	}
	tests := []struct {
		name       string
		begin, end int64
		limit      int
		want       []int64
	}{
		{"all newest first", 0, 1 << 40, 0, []int64{430, 400, 370, 340, 310, 280, 250, 220, 190, 160, 130, 100}},
		{"limit", 0, 1 << 40, 4, []int64{430, 400, 370, 340}},
		{"one file", 112_000, 118_000, 0, []int64{280, 250, 220}},
		{"spans files", 108_000, 122_500, 0, []int64{310, 280, 250, 220, 190}},
		{"before everything", 0, 99_999, 0, nil},
		{"after everything", 135_000, 200_000, 0, nil},
		// Entry 220 was stored at 112.000 s: inside its file's range, and
		// inside the range at second granularity, so it is returned for the
		// caller to re-check.
		{"second granularity", 112_500, 112_500, 0, []int64{220}},
		// Entry 190 was stored at 109.000 s, its file ends at 109.000 s: the
		// file is skipped by its exact range.
		{"file range is exact", 109_500, 109_999, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.Lookup(h, tt.begin, tt.end, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// One record may carry several keys: equal Phys values are accepted.
func TestAddEqualPhys(t *testing.T) {
	x := openT(t, t.TempDir(), tiny)
	defer x.Close()
	if err := x.Add([]Item{{Hash: 1, Phys: 10}, {Hash: 2, Phys: 10}}); err != nil {
		t.Fatal(err)
	}
	if err := x.Add([]Item{{Hash: 3, Phys: 10}}); err != nil {
		t.Fatal(err)
	}
	for h := uint32(1); h <= 3; h++ {
		got, err := x.Lookup(h, 0, 1<<40, 0)
		if err != nil || len(got) != 1 || got[0] != 10 {
			t.Fatalf("hash %d: %v %v", h, got, err)
		}
	}
}

func TestAddOrder(t *testing.T) {
	tests := []struct {
		name  string
		first []Item
		mark  int64
		bad   []Item
	}{
		{"decreasing", []Item{{Phys: 10}}, 0, []Item{{Phys: 5}}},
		{"within batch", nil, 0, []Item{{Phys: 5}, {Phys: 7}, {Phys: 6}}},
		{"negative", nil, 0, []Item{{Phys: -1}}},
		{"below covered mark", []Item{{Phys: 10}}, 50, []Item{{Phys: 40}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := openT(t, t.TempDir(), tiny)
			defer x.Close()
			if err := x.Add(tt.first); err != nil {
				t.Fatal(err)
			}
			x.MarkCovered(tt.mark)
			wantErr(t, x.Add(tt.bad), ErrOrder)
			got, err := x.Lookup(0, 0, 1<<40, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.first) {
				t.Fatalf("a rejected batch left entries: %v", got)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	x := openT(t, t.TempDir(), tiny)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, x.Add([]Item{{Phys: 1}}), ErrClosed)
	_, err := x.Lookup(0, 0, 1, 0)
	wantErr(t, err, ErrClosed)
	wantErr(t, x.Flush(), ErrClosed)
	wantErr(t, x.Truncate(0), ErrClosed)
	_, err = x.DeleteBefore(0)
	wantErr(t, err, ErrClosed)
	wantErr(t, x.Close(), ErrClosed)
}

func TestSlotTableMemoryBound(t *testing.T) {
	// The bound is checked structurally: slotTables counts the in-memory
	// tables over every open file, and must be 1 however many files were
	// sealed (sealed files are read with positioned reads only).
	r := newRand(t)
	dir := t.TempDir()
	x := openT(t, dir, tiny)
	g, m := newGen(r, 5), &model{}
	addAll(t, x, m, r, g.next(253))
	if x.Files() != 26 {
		t.Fatalf("Files() = %d, want 26", x.Files())
	}
	if n := x.slotTables(); n != 1 {
		t.Fatalf("%d slot tables in memory, want 1", n)
	}
	checkAll(t, x, m, g)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = openT(t, dir, tiny)
	defer x.Close()
	if n := x.slotTables(); n != 1 {
		t.Fatalf("after reopen: %d slot tables in memory, want 1", n)
	}
	checkAll(t, x, m, g)
}
