package kafka

import "sync"

// OffsetTracker knows, per partition, which records are still in flight, so
// that a consumer commits an offset only when every record before it has
// been fully handled. Records can finish out of order (deliveries of
// different outputs return in any order); the committable offset only moves
// over a run of finished records in consumed order. Offsets need not be
// contiguous: transaction markers and compaction leave gaps.
type OffsetTracker struct {
	mu    sync.Mutex
	parts map[int32]*partitionTrack
}

type partitionTrack struct {
	started []int64 // in consumed order, oldest unfinished first
	done    map[int64]bool
}

func NewOffsetTracker() *OffsetTracker {
	return &OffsetTracker{parts: map[int32]*partitionTrack{}}
}

// Start records that offset is being handled.
func (t *OffsetTracker) Start(partition int32, offset int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[partition]
	if p == nil || len(p.started) > 0 && offset <= p.started[len(p.started)-1] {
		// New partition, or the consumer went back (seek, reassignment):
		// what was in flight before will be consumed again.
		p = &partitionTrack{done: map[int64]bool{}}
		t.parts[partition] = p
	}
	p.started = append(p.started, offset)
}

// Done records that offset is fully handled. It returns the offset now safe
// to commit (one past the last record finished in order) and whether it moved.
func (t *OffsetTracker) Done(partition int32, offset int64) (commit int64, moved bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[partition]
	if p == nil {
		return 0, false
	}
	p.done[offset] = true
	for len(p.started) > 0 && p.done[p.started[0]] {
		commit, moved = p.started[0]+1, true
		delete(p.done, p.started[0])
		p.started = p.started[1:]
	}
	return commit, moved
}

// InFlight returns how many records are started and not yet committable.
func (t *OffsetTracker) InFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.parts {
		n += len(p.started)
	}
	return n
}

// Forget drops a partition (revoked in a rebalance).
func (t *OffsetTracker) Forget(partition int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.parts, partition)
}
