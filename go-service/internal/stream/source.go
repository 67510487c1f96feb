package stream

import (
	"context"
	"errors"
	"time"
)

// Source is the normalized topic as the hub sees it: offsets and readers.
// KafkaSource is the real one; tests of the hub use a log in memory.
type Source interface {
	// Bounds returns, per partition, the oldest offset the topic holds and
	// its end (the offset the next record will get).
	Bounds(ctx context.Context) (low, end Position, err error)
	// OffsetsForTime returns, per partition, the first offset whose record
	// time is at or after t (the end of the partition when none is).
	OffsetsForTime(ctx context.Context, t time.Time) (Position, error)
	// Open starts a reader of every partition in from, at those offsets.
	Open(from Position) (Reader, error)
}

// Reader reads records in offset order within each partition.
type Reader interface {
	// Next returns the next record; ok is false when none came within a
	// short wait, so that the caller can look around and call again. An
	// error is fatal for this reader.
	Next(ctx context.Context) (rec Record, ok bool, err error)
	Close()
}

// Record is one record of the normalized topic: a payment in wire form.
type Record struct {
	Partition int32
	Offset    int64
	Value     []byte
	// EOF says the partition is read up to Offset (no Value): the last
	// offsets of a transactional topic are commit markers no record reaches.
	EOF bool
}

// ErrBeforeRetention is returned for a cursor older than what Kafka still
// holds: resuming from it would silently skip payments, so it is refused.
var ErrBeforeRetention = errors.New("position is older than what Kafka still holds")

// ErrPastEnd is returned for a position beyond the end of a partition: a
// cursor from another cluster, or from a topic deleted and made again.
// Waiting there would silently skip every payment up to it.
var ErrPastEnd = errors.New("cursor points past the end of the topic")

// errServeStopped ends catch-up streams once the serve stage has stopped
// (the server is shutting down).
var errServeStopped = errors.New("the serve stage has stopped")
