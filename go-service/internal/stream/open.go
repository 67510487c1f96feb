package stream

import (
	"context"
	"fmt"
	"time"
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
	// Behind says how many payments wait for this subscriber, and the limit
	// past which it is cut off.
	Behind() (behind, limit int)
	Close()
}

// Open starts a subscription. accept filters payments (nil: all). Starts
// older than the window read from Kafka first (shared catch-up readers) and
// join the window when they reach it, so EARLIEST and old cursors replay all
// Kafka holds.
func (h *Hub) Open(ctx context.Context, start Start, accept Filter) (Stream, error) {
	p := h.pool()
	switch {
	case start.Cursor != nil:
		return h.openAt(ctx, p, start.Cursor, accept)
	case !start.Since.IsZero():
		since := start.Since
		inTime := func(hd Header) bool {
			return !hd.UpdatedAt.Before(since) && (accept == nil || accept(hd))
		}
		if p == nil {
			return h.SubscribeEarliest(inTime), nil
		}
		pos, err := p.src.OffsetsForTime(ctx, since)
		if err != nil {
			return nil, err
		}
		return h.openAt(ctx, p, pos, inTime)
	case start.Earliest:
		if p == nil {
			return h.SubscribeEarliest(accept), nil
		}
		low, _, err := p.src.Bounds(ctx)
		if err != nil {
			return nil, err
		}
		return h.openAt(ctx, p, low, accept)
	}
	return h.SubscribeLatest(accept), nil
}

// openAt subscribes at pos: from the window when it still holds pos,
// otherwise through a catch-up reader until the window is reached.
func (h *Hub) openAt(ctx context.Context, p *pool, pos Position, accept Filter) (Stream, error) {
	h.mu.Lock()
	ahead := false
	for part, o := range pos {
		ahead = ahead || o > h.next[part]
	}
	h.mu.Unlock()
	if ahead && p != nil {
		if err := checkNotPastEnd(ctx, p.src, pos); err != nil {
			return nil, err
		}
	}
	if sub, err := h.SubscribeAt(pos, accept); err == nil {
		return sub, nil
	}
	if p == nil {
		return nil, fmt.Errorf("%w: %w", ErrBeforeRetention, ErrOutOfWindow)
	}
	return h.openCatchUp(ctx, p, pos, accept)
}

// checkNotPastEnd refuses a position this server has not reached unless
// Kafka has: another instance may simply be ahead of this one.
func checkNotPastEnd(ctx context.Context, src Source, pos Position) error {
	_, end, err := src.Bounds(ctx)
	if err != nil {
		return err
	}
	for p, o := range pos {
		if e, ok := end[p]; !ok || o > e {
			return fmt.Errorf("%w: %w (partition %d: offset %d, end %d)", ErrPastEnd, ErrOutOfWindow, p, o, end[p])
		}
	}
	return nil
}
