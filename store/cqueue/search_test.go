package cqueue

import (
	"errors"
	"testing"
)

func TestSearch(t *testing.T) {
	q, _ := newQueue(t, testEPF)
	if got, err := q.SearchPhys(0); err != nil || got != 0 {
		t.Fatalf("SearchPhys on empty queue = %d, %v; want 0", got, err)
	}
	putRange(t, q, 0, 50, 9)
	tests := []struct {
		name string
		phys int64
		want uint64
	}{
		{"before all", 0, 0},
		{"exact first", entryFor(0).Offset, 0},
		{"exact middle", entryFor(23).Offset, 23},
		{"between entries", entryFor(23).Offset + 1, 24},
		{"exact last", entryFor(49).Offset, 49},
		{"after all (all false)", entryFor(49).Offset + 1, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := q.SearchPhys(tt.phys)
			if err != nil || got != tt.want {
				t.Errorf("SearchPhys(%d) = %d, %v; want %d", tt.phys, got, err, tt.want)
			}
		})
	}
	t.Run("every boundary", func(t *testing.T) {
		for k := uint64(0); k <= 50; k++ {
			probes := 0
			got, err := q.Search(func(e Entry) (bool, error) {
				probes++
				return e.TagHash == entryFor(k).TagHash || e.Offset > entryFor(k).Offset, nil
			})
			if err != nil || got != k {
				t.Fatalf("Search(first >= %d) = %d, %v", k, got, err)
			}
			if probes > 7 {
				t.Errorf("Search made %d probes over 50 entries, want <= 7", probes)
			}
		}
	})
	t.Run("pred error", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := q.Search(func(Entry) (bool, error) { return false, boom }); !errors.Is(err, boom) {
			t.Errorf("Search err = %v, want boom", err)
		}
	})
	t.Run("above min", func(t *testing.T) {
		if _, err := q.DeleteBefore(entryFor(20).Offset); err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]bool{}
		got, err := q.Search(func(e Entry) (bool, error) {
			seen[uint64(e.Offset-1000)/64] = true
			return true, nil
		})
		if err != nil || got != 20 {
			t.Errorf("Search(always true) = %d, %v; want MinOffset 20", got, err)
		}
		for off := range seen {
			if off < 20 {
				t.Errorf("pred saw queue offset %d below MinOffset", off)
			}
		}
		if got, err := q.SearchPhys(0); err != nil || got != 20 {
			t.Errorf("SearchPhys(0) = %d, %v; want 20", got, err)
		}
	})
}
