package broker

// allocateAveragely returns the queues (0..queues-1) that member number
// index of n sorted members owns, the way RocketMQ's
// AllocateMessageQueueAveragely splits them: contiguous ranges, the first
// queues%n members taking one extra queue; with more members than queues
// the last members get none.
func allocateAveragely(index, n int, queues uint32) []uint32 {
	q := int(queues)
	if n <= 0 || index < 0 || index >= n || q == 0 {
		return nil
	}
	mod := q % n
	var size, start int
	switch {
	case q <= n:
		size = 1
	case mod > 0 && index < mod:
		size = q/n + 1
	default:
		size = q / n
	}
	if mod > 0 && index < mod {
		start = index * size
	} else {
		start = index*size + mod
	}
	count := min(size, q-start)
	out := make([]uint32, 0, max(count, 0))
	for i := range count {
		out = append(out, uint32((start+i)%q))
	}
	return out
}
