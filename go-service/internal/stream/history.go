package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/merge"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// ErrBeforeRetention is returned for a cursor older than what Kafka still
// holds: resuming from it would silently skip payments, so it is refused.
var ErrBeforeRetention = errors.New("position is older than what Kafka still holds")

// history is where subscribers that start before the window read from: the
// normalized topic itself. Set by Read.
type history struct {
	kafka config.Kafka
	topic string

	// lookups answers offset queries (watermarks, offsets for a time) for
	// every stream that opens: it is the serve consumer, so opening a stream
	// does not start a client of its own. Read closes it when it returns;
	// the lock keeps it open while a query runs.
	mu      sync.RWMutex
	lookups *ckafka.Consumer
}

// errServeStopped is returned for an offset query once the serve stage has
// stopped (the server is shutting down).
var errServeStopped = errors.New("the serve stage has stopped")

func (h *Hub) setHistory(k config.Kafka, topic string, lookups *ckafka.Consumer) *history {
	hist := &history{kafka: k, topic: topic, lookups: lookups}
	h.mu.Lock()
	h.history = hist
	h.mu.Unlock()
	return hist
}

// lookup runs query with the lookup consumer, unless it is closed.
func (hist *history) lookup(query func(c *ckafka.Consumer) error) error {
	hist.mu.RLock()
	defer hist.mu.RUnlock()
	if hist.lookups == nil {
		return errServeStopped
	}
	return query(hist.lookups)
}

// stopLookups waits for queries in progress and refuses later ones; the
// caller then closes the consumer.
func (hist *history) stopLookups() {
	hist.mu.Lock()
	hist.lookups = nil
	hist.mu.Unlock()
}

// covers reports whether the window still holds everything from pos on.
func (h *Hub) covers(pos Position) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, first := range h.first {
		if pos[p] < first {
			return false
		}
	}
	return true
}

// openAt subscribes at pos: from the window when it still holds pos,
// otherwise from Kafka until the window is reached.
func (h *Hub) openAt(ctx context.Context, pos Position, accept func(*pb.Payment) bool) (Stream, error) {
	h.mu.Lock()
	hist := h.history
	ahead := false
	for p, o := range pos {
		ahead = ahead || o > h.next[p]
	}
	h.mu.Unlock()
	if ahead && hist != nil {
		if err := checkNotPastEnd(hist, pos); err != nil {
			return nil, err
		}
	}
	if sub, err := h.SubscribeAt(pos, accept); err == nil {
		return sub, nil
	}
	if hist == nil {
		return nil, fmt.Errorf("%w: %w", ErrBeforeRetention, ErrOutOfWindow)
	}
	return newCatchUp(ctx, h, hist, pos, accept)
}

// ErrPastEnd is returned for a position beyond the end of a partition: a
// cursor from another cluster, or from a topic deleted and made again.
// Waiting there would silently skip every payment up to it.
var ErrPastEnd = errors.New("cursor points past the end of the topic")

// checkNotPastEnd refuses a position this server has not reached unless
// Kafka has: another instance may simply be ahead of this one.
func checkNotPastEnd(hist *history, pos Position) error {
	var end Position
	err := hist.lookup(func(c *ckafka.Consumer) (err error) {
		_, end, err = bounds(c, hist.topic)
		return err
	})
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

// catchUp reads history straight from Kafka with a consumer of its own,
// then hands over to the hub as soon as the window holds its position. A
// slow reader here costs the server nothing: Kafka keeps the data.
type catchUp struct {
	h      *Hub
	c      *ckafka.Consumer
	topic  string
	pos    Position
	accept func(*pb.Payment) bool
	seen   *seenSet
	states map[paymentKey]*pb.Payment

	// mu guards live and pos: Next runs on the stream's goroutine while a
	// watchdog may ask Behind and Cursor from another.
	mu   sync.Mutex
	live *Subscription
}

func newCatchUp(_ context.Context, h *Hub, hist *history, pos Position, accept func(*pb.Payment) bool) (*catchUp, error) {
	c, err := ckafka.NewConsumer(kafka.ConfigMap(hist.kafka, ckafka.ConfigMap{
		"group.id":           "payment-aggregator-history",
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
		"fetch.wait.max.ms":  50,
	}))
	if err != nil {
		return nil, fmt.Errorf("history consumer: %w", err)
	}
	low, _, err := bounds(c, hist.topic)
	if err != nil {
		c.Close()
		return nil, err
	}
	for p, o := range pos {
		if o < low[p] {
			c.Close()
			return nil, fmt.Errorf("%w: %w (partition %d: wanted offset %d, oldest is %d)", ErrBeforeRetention, ErrOutOfWindow, p, o, low[p])
		}
	}
	start := pos.clone()
	assign := make([]ckafka.TopicPartition, 0, len(low))
	for p, o := range low {
		if _, ok := start[p]; !ok {
			start[p] = o // a partition the cursor did not know: from its beginning
		}
		// Read from the oldest record, delivering only from start on: what
		// comes before rebuilds each payment's state and the duplicates
		// seen, so a resumed stream says exactly what a live one said.
		assign = append(assign, ckafka.TopicPartition{Topic: &hist.topic, Partition: p, Offset: ckafka.Offset(o)})
	}
	if err := c.Assign(assign); err != nil {
		c.Close()
		return nil, fmt.Errorf("assign history: %w", err)
	}
	h.mu.Lock()
	h.clients++
	h.mu.Unlock()
	return &catchUp{h: h, c: c, topic: hist.topic, pos: start, accept: accept, seen: newSeenSet(1000000), states: map[paymentKey]*pb.Payment{}}, nil
}

func (s *catchUp) Next(ctx context.Context) (Entry, string, error) {
	for {
		if live := s.liveSub(); live != nil {
			return live.Next(ctx)
		}
		if err := ctx.Err(); err != nil {
			return Entry{}, "", err
		}
		s.mu.Lock()
		covered := s.h.covers(s.pos)
		s.mu.Unlock()
		if covered {
			s.handOver()
			continue
		}
		m, ok := s.c.Poll(100).(*ckafka.Message)
		if !ok || m.TopicPartition.Error != nil {
			continue
		}
		s.mu.Lock()
		e, ok := s.apply(m)
		cursor := s.pos.Cursor()
		s.mu.Unlock()
		if ok {
			return e, cursor, nil
		}
	}
}

func (s *catchUp) liveSub() *Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// apply folds m into the states and duplicates seen, and returns the entry
// to deliver, if any: records before the start position only rebuild state.
func (s *catchUp) apply(m *ckafka.Message) (Entry, bool) {
	tp := m.TopicPartition
	off := int64(tp.Offset)
	deliver := off >= s.pos[tp.Partition]
	if deliver {
		s.pos[tp.Partition] = off + 1
	}
	var ev pb.Payment
	if proto.Unmarshal(m.Value, &ev) != nil || ev.GetId() == "" || !s.seen.add(ev.GetGateway(), ev.GetEventId()) {
		return Entry{}, false
	}
	key := paymentKey{ev.GetGateway(), ev.GetId()}
	state, err := merge.Merge(s.states[key], &ev)
	if err != nil {
		return Entry{}, false // the hub refused it too, and logged it
	}
	s.states[key] = state
	if !deliver || s.accept != nil && !s.accept(state) {
		return Entry{}, false
	}
	return Entry{Partition: tp.Partition, Offset: off, Payment: state}, true
}

// handOver switches to the hub's window at exactly the position reached.
func (s *catchUp) handOver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, err := s.h.SubscribeAt(s.pos, s.accept)
	if err != nil {
		return // the window moved on meanwhile: keep reading from Kafka
	}
	s.h.mu.Lock()
	s.h.clients-- // the live subscription counts this client from now on
	s.h.mu.Unlock()
	s.live = sub
	s.closeConsumer()
}

func (s *catchUp) closeConsumer() {
	if s.c != nil {
		go s.c.Close() // closing a consumer can take a moment; don't hold the stream
		s.c = nil
	}
}

func (s *catchUp) Cursor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		return s.live.Cursor()
	}
	return s.pos.Cursor()
}

func (s *catchUp) Behind() (int, int) {
	if live := s.liveSub(); live != nil {
		return live.Behind()
	}
	return 0, len(s.h.ring) // reading from Kafka at its own pace: never lapped
}

// Close is called once Next has returned for good.
func (s *catchUp) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		s.live.Close()
		return
	}
	s.closeConsumer()
	s.h.mu.Lock()
	s.h.clients--
	s.h.mu.Unlock()
	s.live = &Subscription{h: s.h, closed: true} // Close is idempotent
}

// sinceOffsets returns, per partition, the first offset whose record
// timestamp is at or after t (the end of the partition when none is).
func sinceOffsets(hist *history, t time.Time) (Position, error) {
	var end Position
	var found []ckafka.TopicPartition
	err := hist.lookup(func(c *ckafka.Consumer) (err error) {
		if _, end, err = bounds(c, hist.topic); err != nil {
			return err
		}
		query := make([]ckafka.TopicPartition, 0, len(end))
		for p := range end {
			query = append(query, ckafka.TopicPartition{Topic: &hist.topic, Partition: p, Offset: ckafka.Offset(t.UnixMilli())})
		}
		found, err = c.OffsetsForTimes(query, 10000)
		if err != nil {
			return fmt.Errorf("offsets for time %s: %w", t.Format(time.RFC3339), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pos := Position{}
	for _, tp := range found {
		if tp.Offset < 0 {
			pos[tp.Partition] = end[tp.Partition]
		} else {
			pos[tp.Partition] = int64(tp.Offset)
		}
	}
	return pos, nil
}

// earliestOffsets returns the oldest offset Kafka holds per partition.
func earliestOffsets(hist *history) (low Position, err error) {
	err = hist.lookup(func(c *ckafka.Consumer) (err error) {
		low, _, err = bounds(c, hist.topic)
		return err
	})
	return low, err
}
