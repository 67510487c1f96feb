// Package stream is the server's serve stage, a hub: it keeps a bounded
// window of recent payments of the normalized topic, each in wire form, and
// fans them out to any number of subscribers (gRPC streams), with cursors
// that are offsets of that topic. Streams that start before the window read
// the topic through catch-up readers they share (catchup.go). Kafka stays
// at the edge, behind Source (source.go, kafkasource.go): the hub itself is
// pure and tested without a broker.
package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Header is what filters and metrics read of a payment, kept decoded beside
// its wire form: the window holds these few fields, not decoded payments.
type Header struct {
	Gateway   pb.Gateway
	Status    pb.PaymentStatus
	Currency  string
	UpdatedAt time.Time
}

// HeaderOf returns p's header.
func HeaderOf(p *pb.Payment) Header {
	h := Header{Gateway: p.GetGateway(), Status: p.GetStatus(), Currency: p.GetAmount().GetCurrency()}
	if u := p.GetUpdatedAt(); u != nil {
		h.UpdatedAt = u.AsTime()
	}
	return h
}

// Filter decides whether a subscriber wants a payment; nil accepts all.
type Filter func(Header) bool

// Entry is one payment as delivered to subscribers: the merged state of the
// payment after the event at Partition/Offset of the normalized topic.
type Entry struct {
	seq       uint64
	Partition int32
	Offset    int64
	Header    Header
	wire      []byte
}

// Encoded returns the payment in protobuf wire form: the bytes read from
// Kafka, shared by every subscriber, so a payment is never encoded once per
// stream. Never modify them.
func (e Entry) Encoded() ([]byte, error) { return e.wire, nil }

// Payment decodes the entry's payment (tests and tools; streams send the
// wire form as it is).
func (e Entry) Payment() (*pb.Payment, error) {
	var p pb.Payment
	if err := proto.Unmarshal(e.wire, &p); err != nil {
		return nil, fmt.Errorf("decode entry %d/%d: %w", e.Partition, e.Offset, err)
	}
	return &p, nil
}

// Hub fans payments out to subscribers. Its window is a ring of the most
// recent entries shared by every subscriber: memory is bounded by the window
// size, not by the number of clients or how slow they are. A subscriber that
// falls a whole window behind is lapped (ErrLapped) and must resume from
// its cursor.
type Hub struct {
	mu       sync.Mutex
	ring     []Entry
	firstSeq uint64   // seq of the oldest entry in ring
	nextSeq  uint64   // seq the next entry will get
	first    Position // per partition: the lowest offset the window can still replay
	next     Position // per partition: the next offset the hub will see
	live     Position // per partition: where "latest" starts until the hub has caught up
	notify   chan struct{}
	clients  int
	started  bool // Start has been called

	catchUp *pool // nil until a Source is attached (Run, or AttachSource in tests)
	opts    Options
}

// Options size the hub.
type Options struct {
	// Window is the number of recent payments kept for new and slow
	// subscribers; a subscriber further behind is cut off.
	Window int
	// CatchUpBuffer is the number of payments a catch-up reader queues for
	// one stream; a stream whose client stops reading is cut off once its
	// queue is full and stays so.
	CatchUpBuffer int
	// CatchUpRewind is how many records, summed over partitions, a shared
	// catch-up reader may go back to take in a stream that starts behind
	// it; further back, the stream gets a reader of its own.
	CatchUpRewind int64
}

// Defaults of Options.
const (
	DefaultWindow        = 100000
	DefaultCatchUpBuffer = 256
)

// NewHub returns an empty hub.
func NewHub(opts Options) *Hub {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.CatchUpBuffer <= 0 {
		opts.CatchUpBuffer = DefaultCatchUpBuffer
	}
	if opts.CatchUpRewind <= 0 {
		opts.CatchUpRewind = int64(opts.Window)
	}
	h := &Hub{
		ring:   make([]Entry, opts.Window),
		first:  Position{},
		next:   Position{},
		live:   Position{},
		notify: make(chan struct{}),
		opts:   opts,
	}
	return h
}

// Start tells the hub where reading starts (per partition) and where the
// topic ended when the server started: until the hub reaches that end, a
// "latest" subscriber still starts there, not in the history being read.
func (h *Hub) Start(from, liveFrom Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started = true
	for p, o := range from {
		h.first[p], h.next[p] = o, o
	}
	for p, o := range liveFrom {
		h.live[p] = o
	}
}

// Started reports whether Start has been called: from then on, streams
// start where they should even while the window is still being filled
// (a "latest" stream at the end the topic had at start, a cursor or
// "earliest" through the window or a catch-up reader).
func (h *Hub) Started() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.started
}

// CaughtUp reports whether the hub has read up to where the topic ended at
// start (false before Start).
func (h *Hub) CaughtUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.started {
		return false
	}
	for p, o := range h.live {
		if h.next[p] < o {
			return false
		}
	}
	return true
}

// Publish adds the payment read at partition/offset: the merged state at
// that event, as the state stage wrote it.
func (h *Hub) Publish(partition int32, offset int64, p *pb.Payment) error {
	wire, err := proto.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode payment %s: %w", p.GetId(), err)
	}
	h.append(partition, offset, HeaderOf(p), wire)
	return nil
}

// PublishValue adds the record value read at partition/offset, kept as it is.
// A value that is not a payment advances the position and is returned as
// ErrNotAPayment.
func (h *Hub) PublishValue(partition int32, offset int64, value []byte) error {
	var p pb.Payment
	if err := proto.Unmarshal(value, &p); err != nil || p.GetId() == "" {
		h.Skip(partition, offset)
		return ErrNotAPayment
	}
	h.append(partition, offset, HeaderOf(&p), value)
	return nil
}

// ErrNotAPayment is a record of the normalized topic that is not a
// payment.v1.Payment: only our stages write there, so it is foreign.
var ErrNotAPayment = errors.New("record is not a payment.v1.Payment")

// append puts an entry in the window, dropping the oldest when it is full.
func (h *Hub) append(partition int32, offset int64, header Header, wire []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.appendLocked(partition, offset, header, wire)
}

func (h *Hub) appendLocked(partition int32, offset int64, header Header, wire []byte) {
	h.next[partition] = offset + 1
	i := int(h.nextSeq % uint64(len(h.ring)))
	if h.nextSeq-h.firstSeq == uint64(len(h.ring)) {
		old := h.ring[i]
		h.first[old.Partition] = old.Offset + 1
		h.firstSeq++
	}
	h.ring[i] = Entry{seq: h.nextSeq, Partition: partition, Offset: offset, Header: header, wire: wire}
	h.nextSeq++
	close(h.notify)
	h.notify = make(chan struct{})
}

// Skip advances the position past a record that is not a payment (or a
// transaction marker).
func (h *Hub) Skip(partition int32, offset int64) {
	h.mu.Lock()
	h.next[partition] = max(h.next[partition], offset+1)
	h.mu.Unlock()
}

// ErrLapped ends a subscription that fell a whole window (or, catching up,
// its whole queue) behind.
var ErrLapped = errors.New("subscriber fell behind the server's window")

// ErrOutOfWindow is returned when a position is older than the window.
var ErrOutOfWindow = errors.New("position is older than the server's in-memory window")

// Subscription is one subscriber's read position in the window.
type Subscription struct {
	h       *Hub
	nextSeq uint64
	pos     Position
	accept  Filter
	closed  bool
}

// SubscribeLatest delivers only payments the hub reads from now on.
func (h *Hub) SubscribeLatest(accept Filter) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	pos := h.next.clone()
	for p, o := range h.live {
		pos[p] = max(pos[p], o)
	}
	h.clients++
	return &Subscription{h: h, nextSeq: h.nextSeq, pos: pos, accept: accept}
}

// SubscribeAt delivers payments from pos on (pos[p] is the next offset
// wanted in partition p). It fails with ErrOutOfWindow when the window no
// longer holds them.
func (h *Hub) SubscribeAt(pos Position, accept Filter) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.coversLocked(pos) {
		return nil, ErrOutOfWindow
	}
	h.clients++
	return &Subscription{h: h, nextSeq: h.firstSeq, pos: pos.clone(), accept: accept}, nil
}

// SubscribeEarliest delivers everything the window holds, then live payments.
func (h *Hub) SubscribeEarliest(accept Filter) *Subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients++
	return &Subscription{h: h, nextSeq: h.firstSeq, pos: h.first.clone(), accept: accept}
}

// covers reports whether the window still holds everything from pos on.
func (h *Hub) covers(pos Position) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.coversLocked(pos)
}

func (h *Hub) coversLocked(pos Position) bool {
	for p, first := range h.first {
		if pos[p] < first {
			return false
		}
	}
	return true
}

// Next blocks until the next accepted payment, and returns it with the
// cursor that resumes right after it.
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
		if s.accept == nil || s.accept(e.Header) {
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

// Clients is the number of open subscriptions, catching up or live.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clients
}
