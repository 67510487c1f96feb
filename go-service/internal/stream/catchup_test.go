package stream

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// serving runs a hub over a log of n payments spread over partitions, and
// returns it once it has read up to the end.
func serving(t *testing.T, opts Options, partitions, n int) (*Hub, *memLog) {
	t.Helper()
	l := newMemLog(partitions)
	for i := range n {
		l.add(t, int32(i%partitions), payment(i))
	}
	h := NewHub(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, l, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the hub to catch up", func() bool { return h.pool() != nil && h.CaughtUp() })
	return h, l
}

// waitFor waits for cond, failing the test if it never holds (a hang, not a
// measure: the deadline is far past any normal run).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func open(t *testing.T, h *Hub, start Start, accept Filter) Stream {
	t.Helper()
	s, err := h.Open(context.Background(), start, accept)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// read takes n payments from s and returns their ids, checking each
// partition's offsets only go up, and the cursor after the last.
func read(t *testing.T, s Stream, n int) (ids []string, cursor string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last := Position{}
	for range n {
		e, c, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d payments: %v", len(ids), err)
		}
		if o, ok := last[e.Partition]; ok && e.Offset <= o {
			t.Fatalf("partition %d: offset %d after %d", e.Partition, e.Offset, o)
		}
		last[e.Partition] = e.Offset
		ids, cursor = append(ids, idOf(t, e)), c
	}
	return ids, cursor
}

// readAll reads n payments without failing the test (for goroutines).
func readAll(s Stream, n int) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ids []string
	for range n {
		e, _, err := s.Next(ctx)
		if err != nil {
			return ids
		}
		p, err := e.Payment()
		if err != nil {
			return ids
		}
		ids = append(ids, p.GetId())
	}
	return ids
}

func distinct(ids []string) int {
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

// Streams from EARLIEST that start one after another, while the first
// ones do not read, share one catch-up reader; each then gets every payment
// once, and the live ones after, through the window.
func TestCatchUpStreamsShareAReaderThenJoinTheWindow(t *testing.T) {
	const total, streams = 300, 5
	h, l := serving(t, Options{Window: 20, CatchUpBuffer: 4, CatchUpRewind: 1000}, 3, total)
	var ss []Stream
	for range streams {
		ss = append(ss, open(t, h, Start{Earliest: true}, nil))
	}
	if n := h.CatchUpReaders(); n != 1 {
		t.Fatalf("%d catch-up readers for %d streams from EARLIEST, want 1", n, streams)
	}
	if h.Clients() != streams {
		t.Fatalf("clients = %d, want %d", h.Clients(), streams)
	}
	for i := total; i < total+30; i++ { // live payments while they catch up
		l.add(t, int32(i%3), payment(i))
	}
	// They read at once: a stream that does not read holds its reader up
	// until the server cuts it off.
	got := make([][]string, streams)
	var wg sync.WaitGroup
	for i, s := range ss {
		wg.Go(func() { got[i] = readAll(s, total+30) })
	}
	wg.Wait()
	for i, ids := range got {
		if distinct(ids) != total+30 {
			t.Errorf("stream %d: %d distinct of %d", i, distinct(ids), total+30)
		}
	}
	waitFor(t, "the catch-up reader to close", func() bool { open, _ := l.readers(); return open == 1 && h.CatchUpReaders() == 0 })
	l.add(t, 0, payment(total+30))
	for i, s := range ss {
		if ids, _ := read(t, s, 1); ids[0] != payment(total+30).GetId() {
			t.Errorf("stream %d, in the window: got %s", i, ids[0])
		}
	}
	if h.Clients() != streams {
		t.Fatalf("clients = %d after the hand-over, want %d", h.Clients(), streams)
	}
}

// A stream whose client stops reading fills its queue and says so (the
// server then cuts it off); it holds up its reader until it is closed, and
// its cursor resumes exactly after the last payment it got.
func TestStalledCatchUpStreamFillsItsQueueAndResumesFromItsCursor(t *testing.T) {
	const total = 200
	h, _ := serving(t, Options{Window: 10, CatchUpBuffer: 4}, 2, total)
	stalled := open(t, h, Start{Earliest: true}, nil)
	first, cursor := read(t, stalled, 3)
	waitFor(t, "the stalled stream's queue to fill", func() bool { b, l := stalled.Behind(); return b == l && l == 4 })
	reading := open(t, h, Start{Earliest: true}, nil)
	stalled.Close()
	if ids, _ := read(t, reading, total); distinct(ids) != total {
		t.Fatalf("the reading stream got %d distinct, want %d", distinct(ids), total)
	}

	pos, err := ParseCursor(cursor)
	if err != nil {
		t.Fatal(err)
	}
	resumed := open(t, h, Start{Cursor: pos}, nil)
	rest, _ := read(t, resumed, total-3)
	all := append(first, rest...)
	if distinct(all) != total {
		t.Fatalf("3 before the cursor and %d after: %d distinct, want %d", len(rest), distinct(all), total)
	}
}

// A filter that lets few payments through still moves the stream along:
// it reaches the window and gets the live ones.
func TestFilteredCatchUpStreamReachesTheWindow(t *testing.T) {
	// The window (20) holds the last payments of the log and, later, the
	// two live ones without lapping the stream.
	h, l := serving(t, Options{Window: 20, CatchUpBuffer: 4}, 2, 100)
	completed := func(hd Header) bool { return hd.Status == pb.PaymentStatus_PAYMENT_STATUS_COMPLETED }
	s := open(t, h, Start{Earliest: true}, completed)
	if ids, _ := read(t, s, 10); distinct(ids) != 10 { // payments 0, 10, ..., 90
		t.Fatalf("%d distinct, want 10", distinct(ids))
	}
	waitFor(t, "the hand-over", func() bool { return h.CatchUpReaders() == 0 })
	l.add(t, 1, payment(101)) // pending: filtered out
	l.add(t, 1, payment(110))
	if ids, _ := read(t, s, 1); ids[0] != payment(110).GetId() {
		t.Fatalf("live: %s, want %s", ids[0], payment(110).GetId())
	}
}

func TestDistanceAndTail(t *testing.T) {
	for _, c := range []struct {
		at, want      Position
		ahead, behind int64
	}{
		{Position{0: 5, 1: 5}, Position{0: 5, 1: 5}, 0, 0},
		{Position{0: 7, 1: 2}, Position{0: 5, 1: 5}, 2, 3},
		{Position{}, Position{0: 4}, 0, 4},
	} {
		if a, b := distance(c.at, c.want); a != c.ahead || b != c.behind {
			t.Errorf("distance(%v, %v) = %d, %d; want %d, %d", c.at, c.want, a, b, c.ahead, c.behind)
		}
	}
	got := tail(Position{0: 0, 1: 50, 2: 0}, Position{0: 100, 1: 60, 2: 3}, 30)
	if want := (Position{0: 90, 1: 50, 2: 0}); got.Cursor() != want.Cursor() {
		t.Errorf("tail = %v, want %v", got, want)
	}
}
