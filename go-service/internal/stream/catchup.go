package stream

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// A stream that starts before the window (EARLIEST, an old cursor, since)
// reads the normalized topic itself until it reaches the window. Each record
// there already is the payment's merged state at that event, so streams can
// share one reader: a catch-up reader reads the topic once and hands each
// record to every stream attached to it, each of which skips what lies
// before its own position. A stream costs a queue of Options.CatchUpBuffer
// entries; a client that stops reading fills its queue, holds its reader
// up, and is cut off like a live one (Behind reports the queue full). When
// the window holds a reader's position, its streams move into the window.

// pool is the hub's catch-up readers and the streams attached to them.
type pool struct {
	h   *Hub
	src Source
	ctx context.Context // the serve stage's: readers stop with it

	mu      sync.Mutex
	readers map[*reader]struct{}
	opened  int // readers opened since start
}

// reader is one catch-up reader of the topic.
type reader struct {
	pos     Position // next offset per partition
	restart Position // when set: go back there before reading on
	streams map[*catchUpStream]struct{}
}

// AttachSource lets streams start before the window: from then on they read
// src until they reach it. Readers stop when ctx is done.
func (h *Hub) AttachSource(ctx context.Context, src Source) {
	p := &pool{h: h, src: src, ctx: ctx, readers: map[*reader]struct{}{}}
	h.mu.Lock()
	h.catchUp = p
	h.mu.Unlock()
}

func (h *Hub) pool() *pool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.catchUp
}

// CatchUpReaders is the number of catch-up readers open now.
func (h *Hub) CatchUpReaders() int {
	p := h.pool()
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.readers)
}

// attach gives s a reader at or behind its position: one already there, one
// brought back (at most Options.CatchUpRewind records), or a new one.
func (p *pool) attach(s *catchUpStream) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return errServeStopped
	}
	s.mu.Lock()
	want := s.pos.clone()
	s.mu.Unlock()
	start := want
	limit := p.h.opts.CatchUpRewind
	var best *reader
	bestCost := limit + 1
	for r := range p.readers {
		at := r.pos
		if r.restart != nil {
			at = r.restart
		}
		ahead, behind := distance(at, want)
		if ahead == 0 && behind < bestCost { // the reader has yet to pass want: no going back
			best, bestCost = r, behind
		}
	}
	if best == nil {
		for r := range p.readers {
			at := r.pos
			if r.restart != nil {
				at = r.restart
			}
			ahead, _ := distance(at, start)
			if ahead < bestCost {
				best, bestCost = r, ahead
			}
		}
		if best != nil {
			back := best.pos.clone()
			if best.restart != nil {
				back = best.restart
			}
			for part, o := range start {
				back[part] = min(back[part], o)
			}
			best.restart = back
		}
	}
	if best == nil {
		best = &reader{pos: start.clone(), streams: map[*catchUpStream]struct{}{}}
		p.readers[best] = struct{}{}
		p.opened++
		go p.run(best)
	}
	best.streams[s] = struct{}{}
	s.mu.Lock()
	s.reader, s.left, s.err = best, make(chan struct{}), nil
	s.mu.Unlock()
	return nil
}

// distance sums, over partitions, how far at is ahead of want and how far
// behind it.
func distance(at, want Position) (ahead, behind int64) {
	for part, w := range want {
		a := at[part]
		if a > w {
			ahead += a - w
		} else {
			behind += w - a
		}
	}
	return ahead, behind
}

// detach takes s off its reader, if it has one.
func (p *pool) detach(s *catchUpStream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.mu.Lock()
	r := s.reader
	s.reader = nil
	s.mu.Unlock()
	if r != nil {
		delete(r.streams, s)
	}
}

// release lets every stream of r go (err nil: they move into the window)
// and forgets r. p.mu is held.
func (p *pool) release(r *reader, err error) {
	for s := range r.streams {
		s.mu.Lock()
		s.reader, s.err = nil, err
		close(s.left)
		s.mu.Unlock()
	}
	clear(r.streams)
	delete(p.readers, r)
}

// run reads for r's streams until none is left, the window holds its
// position, or the serve stage stops.
func (p *pool) run(r *reader) {
	var rd Reader
	defer func() {
		if rd != nil {
			rd.Close()
		}
	}()
	for {
		p.mu.Lock()
		switch {
		case len(r.streams) == 0:
			delete(p.readers, r)
			p.mu.Unlock()
			return
		case p.ctx.Err() != nil:
			p.release(r, errServeStopped)
			p.mu.Unlock()
			return
		case rd == nil || r.restart != nil:
			if r.restart != nil {
				r.pos, r.restart = r.restart, nil
			}
			from := r.pos.clone()
			p.mu.Unlock()
			if rd != nil {
				rd.Close()
			}
			var err error
			if rd, err = p.src.Open(from); err != nil {
				p.mu.Lock()
				p.release(r, err)
				p.mu.Unlock()
				return
			}
			continue
		case p.h.covers(r.pos):
			p.release(r, nil)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		rec, ok, err := rd.Next(p.ctx)
		if err != nil {
			if p.ctx.Err() != nil {
				err = errServeStopped
			}
			p.mu.Lock()
			p.release(r, err)
			p.mu.Unlock()
			return
		}
		if !ok {
			continue
		}
		var e *Entry
		if rec.EOF {
			rec.Offset-- // past the markers: offered as a record that is no payment
		} else {
			e = r.entry(rec)
		}
		p.mu.Lock()
		if r.restart != nil {
			p.mu.Unlock()
			continue // read before going back: the streams get it again after
		}
		r.pos[rec.Partition] = max(r.pos[rec.Partition], rec.Offset+1)
		targets := make([]*catchUpStream, 0, len(r.streams))
		for s := range r.streams {
			targets = append(targets, s)
		}
		p.mu.Unlock()
		for _, s := range targets {
			s.offer(p.ctx, rec.Partition, rec.Offset, e)
		}
	}
}

// entry turns a record into the entry streams get, or nil when it is none:
// not a payment.
func (r *reader) entry(rec Record) *Entry {
	var p pb.Payment
	if proto.Unmarshal(rec.Value, &p) != nil || p.GetId() == "" {
		return nil
	}
	return &Entry{Partition: rec.Partition, Offset: rec.Offset, Header: HeaderOf(&p), wire: rec.Value}
}

// catchUpStream is one stream reading through a catch-up reader, then the
// window.
type catchUpStream struct {
	p      *pool
	accept Filter
	buf    chan item
	done   chan struct{} // closed by Close: a reader stops waiting on buf
	once   sync.Once

	mu     sync.Mutex
	pos    Position // next offset wanted, per partition, as far as its reader got
	sent   string   // cursor of the last entry Next returned
	reader *reader
	left   chan struct{} // closed when its reader lets it go
	err    error         // why, when the reader failed
	live   *Subscription // once in the window
}

type item struct {
	e      Entry
	cursor string
}

// offer hands the record at partition/offset to s: e when it is a payment.
// It blocks while s's queue is full, until s is closed.
func (s *catchUpStream) offer(ctx context.Context, partition int32, offset int64, e *Entry) {
	s.mu.Lock()
	if offset < s.pos[partition] {
		s.mu.Unlock()
		return // before its start, or already had
	}
	s.pos[partition] = offset + 1
	if e == nil || s.accept != nil && !s.accept(e.Header) {
		s.mu.Unlock()
		return
	}
	it := item{e: *e, cursor: s.pos.Cursor()}
	s.mu.Unlock()
	select {
	case s.buf <- it:
	case <-s.done:
	case <-ctx.Done():
	}
}

func (s *catchUpStream) Next(ctx context.Context) (Entry, string, error) {
	for {
		s.mu.Lock()
		live, left := s.live, s.left
		s.mu.Unlock()
		if live != nil {
			return live.Next(ctx)
		}
		select {
		case it := <-s.buf:
			return s.deliver(it)
		case <-left:
		case <-ctx.Done():
			return Entry{}, "", ctx.Err()
		}
		select { // what the reader queued before it let go comes first
		case it := <-s.buf:
			return s.deliver(it)
		default:
		}
		s.mu.Lock()
		err := s.err
		s.mu.Unlock()
		if err != nil {
			return Entry{}, "", err
		}
		if err := s.moveOn(ctx); err != nil {
			return Entry{}, "", err
		}
	}
}

func (s *catchUpStream) deliver(it item) (Entry, string, error) {
	s.mu.Lock()
	s.sent = it.cursor
	s.mu.Unlock()
	return it.e, it.cursor, nil
}

// moveOn joins the window at the position reached, or, when the window has
// moved on meanwhile, another reader.
func (s *catchUpStream) moveOn(ctx context.Context) error {
	h := s.p.h
	s.mu.Lock()
	pos := s.pos.clone()
	s.mu.Unlock()
	if sub, err := h.SubscribeAt(pos, s.accept); err == nil {
		h.mu.Lock()
		h.clients-- // the subscription counts this client from now on
		h.mu.Unlock()
		s.mu.Lock()
		s.live = sub
		s.mu.Unlock()
		return nil
	}
	return s.p.attach(s)
}

func (s *catchUpStream) Cursor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		return s.live.Cursor()
	}
	return s.sent
}

func (s *catchUpStream) Behind() (int, int) {
	s.mu.Lock()
	live := s.live
	s.mu.Unlock()
	if live != nil {
		return live.Behind()
	}
	return len(s.buf), cap(s.buf)
}

// Close is called once Next has returned for good.
func (s *catchUpStream) Close() {
	s.once.Do(func() {
		close(s.done)
		s.p.detach(s)
		s.mu.Lock()
		live := s.live
		s.mu.Unlock()
		if live != nil {
			live.Close()
			return
		}
		h := s.p.h
		h.mu.Lock()
		h.clients--
		h.mu.Unlock()
	})
}

// openCatchUp starts a stream at pos, a position before the window.
func (h *Hub) openCatchUp(ctx context.Context, p *pool, pos Position, accept Filter) (Stream, error) {
	low, _, err := p.src.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	start := pos.clone()
	for part, o := range low {
		if _, ok := start[part]; !ok {
			start[part] = o // a partition the cursor did not know: from its beginning
		} else if start[part] < o {
			return nil, &beforeRetention{partition: part, wanted: start[part], oldest: o}
		}
	}
	s := &catchUpStream{p: p, accept: accept, buf: make(chan item, h.opts.CatchUpBuffer), done: make(chan struct{}), pos: start, sent: start.Cursor()}
	if err := p.attach(s); err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.clients++
	h.mu.Unlock()
	return s, nil
}

// beforeRetention is a start older than what Kafka still holds.
type beforeRetention struct {
	partition      int32
	wanted, oldest int64
}

func (e *beforeRetention) Error() string {
	return fmt.Sprintf("%v: %v (partition %d: wanted offset %d, oldest is %d)", ErrBeforeRetention, ErrOutOfWindow, e.partition, e.wanted, e.oldest)
}

func (e *beforeRetention) Is(target error) bool {
	return target == ErrBeforeRetention || target == ErrOutOfWindow
}
