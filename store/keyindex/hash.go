package keyindex

// FNV-1a 32-bit parameters. Format: KeyHash values are stored on disk.
const (
	fnvOffset32 uint32 = 2166136261
	fnvPrime32  uint32 = 16777619
)

// KeyHash is the hash the index stores for a message key: FNV-1a 32 over
// topic + "#" + key. It is format: changing it makes every existing index
// file unreadable by key, so it must not change without a version bump.
func KeyHash(topic, key string) uint32 {
	h := fnvOffset32
	for i := 0; i < len(topic); i++ {
		h ^= uint32(topic[i])
		h *= fnvPrime32
	}
	h ^= '#'
	h *= fnvPrime32
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= fnvPrime32
	}
	return h
}
