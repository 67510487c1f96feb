package stream

import (
	"context"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Start says where a subscription begins. The zero Start is "latest".
type Start struct {
	// Cursor resumes strictly after the payment it came with; it wins over
	// Earliest and Since.
	Cursor Position
	// Earliest replays everything Kafka still holds.
	Earliest bool
	// Since starts with payments whose event time is at or after it.
	Since time.Time
}

// Stream is one subscriber's view: what a gRPC stream reads from.
type Stream interface {
	// Next blocks for the next accepted payment and returns it with the
	// cursor that resumes right after it.
	Next(ctx context.Context) (Entry, string, error)
	// Cursor is the position of everything delivered so far.
	Cursor() string
	// Behind says how many events wait for this subscriber, and the limit
	// past which it is cut off (ErrLapped).
	Behind() (behind, limit int)
	Close()
}

// Open starts a subscription. accept filters payments (nil: all). Starts
// older than the in-memory window read from Kafka first and join the window
// when they reach it, so EARLIEST and old cursors replay all Kafka holds.
func (h *Hub) Open(ctx context.Context, start Start, accept func(*pb.Payment) bool) (Stream, error) {
	h.mu.Lock()
	hist := h.history
	h.mu.Unlock()
	switch {
	case start.Cursor != nil:
		return h.openAt(ctx, start.Cursor, accept)
	case !start.Since.IsZero():
		since := start.Since
		inTime := func(p *pb.Payment) bool {
			return !p.GetUpdatedAt().AsTime().Before(since) && (accept == nil || accept(p))
		}
		if hist == nil {
			return h.SubscribeEarliest(inTime), nil
		}
		pos, err := sinceOffsets(hist, since)
		if err != nil {
			return nil, err
		}
		return h.openAt(ctx, pos, inTime)
	case start.Earliest:
		if hist == nil {
			return h.SubscribeEarliest(accept), nil
		}
		pos, err := earliestOffsets(hist)
		if err != nil {
			return nil, err
		}
		return h.openAt(ctx, pos, accept)
	}
	return h.SubscribeLatest(accept), nil
}
