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

// Open starts a subscription. accept filters payments (nil: all).
func (h *Hub) Open(_ context.Context, start Start, accept func(*pb.Payment) bool) (Stream, error) {
	switch {
	case start.Cursor != nil:
		return h.SubscribeAt(start.Cursor, accept)
	case start.Earliest, !start.Since.IsZero():
		return h.SubscribeEarliest(accept), nil
	}
	return h.SubscribeLatest(accept), nil
}
