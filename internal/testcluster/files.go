package testcluster

import (
	"os"
	"path/filepath"
)

// FlipBits XORs the byte at offset off of the file rel (relative to node
// i's data directory) with mask, through the file system as a bit rotting
// on disk would appear: a running node sees it on its next read of those
// bytes. It calls t.Fatal if the file cannot be changed.
func (c *Cluster) FlipBits(i int, rel string, off int64, mask byte) {
	c.t.Helper()
	path := filepath.Join(c.nodes[i].dataDir, rel)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		c.t.Fatalf("testcluster: flip bits: %v", err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		c.t.Fatalf("testcluster: flip bits: read %s at %d: %v", path, off, err)
	}
	b[0] ^= mask
	if _, err := f.WriteAt(b, off); err != nil {
		c.t.Fatalf("testcluster: flip bits: write %s at %d: %v", path, off, err)
	}
	c.t.Logf("testcluster: %s: flipped bits %#02x of %s at %d", c.nodes[i].id, mask, rel, off)
}
