// Package stream is the server's serve stage: it reads the normalized topic,
// keeps the latest state of every payment and a bounded window of recent
// events, and fans them out to any number of subscribers (gRPC streams).
package stream

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/merge"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Entry is one payment event as delivered to subscribers.
type Entry struct {
	seq       uint64
	Partition int32
	Offset    int64
	// Payment is the payment's merged state after this event. Shared by all
	// subscribers: never modify it.
	Payment *pb.Payment
	wire    *wireForm // nil for entries replayed from Kafka for one stream
}

// wireForm is an entry's payment in protobuf wire form, encoded by the
// first subscriber that sends it and reused by the others: with a hundred
// streams, encoding each payment once instead of a hundred times was most
// of the server's fan-out CPU (make bench).
type wireForm struct {
	once  sync.Once
	bytes []byte
	err   error
}

// Encoded returns the payment in protobuf wire form. Every subscriber of a
// window entry gets the same bytes: never modify them.
func (e Entry) Encoded() ([]byte, error) {
	if e.wire == nil {
		return proto.Marshal(e.Payment)
	}
	e.wire.once.Do(func() { e.wire.bytes, e.wire.err = proto.Marshal(e.Payment) })
	return e.wire.bytes, e.wire.err
}

// Hub fans events out to subscribers. Its window is a ring of the most recent
// entries shared by every subscriber: memory is bounded by the window size,
// not by the number of clients or how slow they are. A subscriber that falls
// a whole window behind is lapped (ErrLapped) and must resume from its cursor.
type Hub struct {
	mu       sync.Mutex
	ring     []Entry
	firstSeq uint64   // seq of the oldest entry in ring
	nextSeq  uint64   // seq the next entry will get
	first    Position // per partition: the lowest offset the window can still replay
	next     Position // per partition: the next offset the hub will see
	live     Position // per partition: where "latest" starts until the hub has caught up
	notify   chan struct{}

	history *history

	states  map[paymentKey]*pb.Payment
	dedupe  *seenSet
	counts  counts
	clients int
}

type paymentKey struct {
	gateway pb.Gateway
	id      string
}

// Options size the hub.
type Options struct {
	Window       int // entries kept for replay and slow subscribers
	DedupeWindow int // (gateway, event_id) pairs remembered to drop duplicates
}

// NewHub returns an empty hub.
func NewHub(opts Options) *Hub {
	if opts.Window <= 0 {
		opts.Window = 100000
	}
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = 1000000
	}
	return &Hub{
		ring:   make([]Entry, opts.Window),
		first:  Position{},
		next:   Position{},
		live:   Position{},
		notify: make(chan struct{}),
		states: map[paymentKey]*pb.Payment{},
		dedupe: newSeenSet(opts.DedupeWindow),
		counts: newCounts(),
	}
}

// Start tells the hub where reading starts (per partition) and where the
// topic ended when the server started: until the hub reaches that end, a
// "latest" subscriber still starts there, not in the history being replayed.
func (h *Hub) Start(from, liveFrom Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, o := range from {
		h.first[p], h.next[p] = o, o
	}
	for p, o := range liveFrom {
		h.live[p] = o
	}
}

// CaughtUp reports whether the hub has read up to where the topic ended at start.
func (h *Hub) CaughtUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, o := range h.live {
		if h.next[p] < o {
			return false
		}
	}
	return true
}

// Publish adds the event read at partition/offset. Duplicate events (same
// gateway and event id) advance the position but reach no subscriber, and so
// do events Merge refuses (*merge.NotFolded, counted and returned for the caller to
// log with the event's offset): the payment keeps its last correct state.
// The error also reports, once, a currency whose total has grown past what
// GetStats can carry (*Saturated); that event was applied.
func (h *Hub) Publish(partition int32, offset int64, event *pb.Payment) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next[partition] = offset + 1
	if !h.dedupe.add(event.GetGateway(), event.GetEventId()) {
		h.counts.duplicates++
		return nil
	}
	key := paymentKey{event.GetGateway(), event.GetId()}
	prev := h.states[key]
	state, err := merge.Merge(prev, event)
	if err != nil {
		h.counts.refused(err)
		return err
	}
	h.states[key] = state
	notice := h.counts.apply(prev, state)

	i := int(h.nextSeq % uint64(len(h.ring)))
	if h.nextSeq-h.firstSeq == uint64(len(h.ring)) {
		old := h.ring[i]
		h.first[old.Partition] = old.Offset + 1
		h.firstSeq++
	}
	h.ring[i] = Entry{seq: h.nextSeq, Partition: partition, Offset: offset, Payment: state, wire: &wireForm{}}
	h.nextSeq++
	close(h.notify)
	h.notify = make(chan struct{})
	return notice
}

// Skip advances the position past a record that is not a payment.
func (h *Hub) Skip(partition int32, offset int64) {
	h.mu.Lock()
	h.next[partition] = offset + 1
	h.mu.Unlock()
}

// Get returns the latest state of a payment.
func (h *Hub) Get(gateway pb.Gateway, id string) (*pb.Payment, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.states[paymentKey{gateway, id}]
	return p, ok
}

// ErrLapped ends a subscription that fell a whole window behind.
var ErrLapped = errors.New("subscriber fell behind the server's window")

// ErrOutOfWindow is returned when a position is older than the window.
var ErrOutOfWindow = errors.New("position is older than the server's in-memory window")

// Subscription is one subscriber's read position in the hub.
type Subscription struct {
	h       *Hub
	nextSeq uint64
	pos     Position
	accept  func(*pb.Payment) bool
	closed  bool
}

// SubscribeLatest delivers only events the hub reads from now on.
func (h *Hub) SubscribeLatest(accept func(*pb.Payment) bool) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	pos := h.next.clone()
	for p, o := range h.live {
		pos[p] = max(pos[p], o)
	}
	h.clients++
	return &Subscription{h: h, nextSeq: h.nextSeq, pos: pos, accept: accept}
}

// SubscribeAt delivers events from pos on (pos[p] is the next offset wanted
// in partition p). It fails with ErrOutOfWindow when the window no longer
// holds them.
func (h *Hub) SubscribeAt(pos Position, accept func(*pb.Payment) bool) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, first := range h.first {
		if pos[p] < first {
			return nil, ErrOutOfWindow
		}
	}
	h.clients++
	return &Subscription{h: h, nextSeq: h.firstSeq, pos: pos.clone(), accept: accept}, nil
}

// Next blocks until the next accepted event, and returns it with the cursor
// that resumes right after it.
func (s *Subscription) Next(ctx context.Context) (Entry, string, error) {
	h := s.h
	for {
		h.mu.Lock()
		if s.nextSeq < h.firstSeq {
			h.mu.Unlock()
			return Entry{}, "", ErrLapped
		}
		if s.nextSeq == h.nextSeq {
			wait := h.notify
			h.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return Entry{}, "", ctx.Err()
			}
		}
		e := h.ring[s.nextSeq%uint64(len(h.ring))]
		s.nextSeq++
		h.mu.Unlock()
		if e.Offset < s.pos[e.Partition] {
			continue // before this subscriber's start, or already delivered
		}
		s.pos[e.Partition] = e.Offset + 1
		if s.accept == nil || s.accept(e.Payment) {
			return e, s.pos.Cursor(), nil
		}
	}
}

// Behind returns how many entries the subscriber has still to look at, and
// how many it may fall behind before it is lapped.
func (s *Subscription) Behind() (behind, limit int) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return int(s.h.nextSeq - s.nextSeq), len(s.h.ring)
}

// Cursor returns the position of everything delivered so far.
func (s *Subscription) Cursor() string { return s.pos.Cursor() }

// Close releases the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.h.clients--
	}
}

// SubscribeEarliest delivers everything the window holds, then live events.
func (h *Hub) SubscribeEarliest(accept func(*pb.Payment) bool) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients++
	return &Subscription{h: h, nextSeq: h.firstSeq, pos: h.first.clone(), accept: accept}
}
