package stream

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func event(id, eventID string) *pb.Payment {
	return &pb.Payment{Id: id, EventId: eventID, Gateway: pb.Gateway_GATEWAY_STRIPE, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, Amount: &pb.Money{AmountMinor: 5000, Currency: "USD"}}
}

func idOf(t *testing.T, e Entry) string {
	t.Helper()
	p, err := e.Payment()
	if err != nil {
		t.Fatal(err)
	}
	return p.GetId()
}

func next(t *testing.T, s *Subscription) (Entry, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e, cursor, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e, cursor
}

func TestCursorResumesStrictlyAfter(t *testing.T) {
	h := NewHub(Options{Window: 100})
	h.Start(Position{0: 0, 1: 0}, Position{0: 0, 1: 0})
	for i := range 10 {
		h.Publish(int32(i%2), int64(i/2), event(fmt.Sprintf("pi_%d", i), fmt.Sprintf("evt_%d", i)))
	}
	sub := h.SubscribeEarliest(nil)
	var cursor string
	for range 4 {
		_, cursor = next(t, sub)
	}
	pos, err := ParseCursor(cursor)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := h.SubscribeAt(pos, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 10; i++ {
		if e, _ := next(t, resumed); idOf(t, e) != fmt.Sprintf("pi_%d", i) {
			t.Fatalf("resumed at %s, want pi_%d", idOf(t, e), i)
		}
	}
}

func TestSlowSubscriberIsLappedNotBlocking(t *testing.T) {
	h := NewHub(Options{Window: 5})
	h.Start(Position{0: 0}, Position{0: 0})
	slow := h.SubscribeLatest(nil)
	for i := range 20 { // publishing never waits for the slow subscriber
		h.Publish(0, int64(i), event(fmt.Sprintf("pi_%d", i), fmt.Sprintf("evt_%d", i)))
	}
	if _, _, err := slow.Next(context.Background()); !errors.Is(err, ErrLapped) {
		t.Fatalf("err = %v, want ErrLapped", err)
	}
	if _, err := h.SubscribeAt(Position{0: 0}, nil); !errors.Is(err, ErrOutOfWindow) {
		t.Fatalf("SubscribeAt before the window: err = %v, want ErrOutOfWindow", err)
	}
}

func TestParseCursorRejectsForeignInput(t *testing.T) {
	for _, c := range []string{"", "abc", "c1.", "c1.!!!", "c1." + "MD0tMQ", "c1.MD0x,MD0y"} {
		if _, err := ParseCursor(c); err == nil {
			t.Errorf("ParseCursor(%q) accepted", c)
		}
	}
	p := Position{0: 12, 2: 7}
	got, err := ParseCursor(p.Cursor())
	if err != nil || len(got) != 2 || got[0] != 12 || got[2] != 7 {
		t.Fatalf("round trip: %v, %v", got, err)
	}
}

// TestCursorFormat pins the cursor's text: cursors handed out before a
// server upgrade must still parse, and mean the same, after it.
func TestCursorFormat(t *testing.T) {
	tests := []struct {
		pos  Position
		text string
	}{
		{Position{0: 12, 1: 40, 2: 7}, "0=12,1=40,2=7"},
		{Position{2: 7, 0: 12}, "0=12,2=7"},
		{Position{10: 1, 9: 9223372036854775807, 0: 0}, "0=0,9=9223372036854775807,10=1"},
		{Position{}, ""},
	}
	for _, tt := range tests {
		want := "c1." + base64.RawURLEncoding.EncodeToString([]byte(tt.text))
		if got := tt.pos.Cursor(); got != want {
			t.Errorf("%v.Cursor() = %q; want %q", tt.pos, got, want)
		}
	}
	many := Position{}
	for p := range int32(40) { // more partitions than the fast path's buffer
		many[p] = int64(p) * 1000
	}
	got, err := ParseCursor(many.Cursor())
	if err != nil || len(got) != 40 || got[39] != 39000 {
		t.Fatalf("40 partitions: %v, %v", len(got), err)
	}
}

func TestEncodedIsSharedAndRight(t *testing.T) {
	h := NewHub(Options{Window: 4})
	h.Start(Position{0: 0}, Position{0: 0})
	sub1, sub2 := h.SubscribeEarliest(nil), h.SubscribeEarliest(nil)
	h.Publish(0, 0, &pb.Payment{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: "pi_1", EventId: "evt_1", Metadata: map[string]string{"a": "b"}})
	e1, _, err1 := sub1.Next(context.Background())
	e2, _, err2 := sub2.Next(context.Background())
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	b1, err1 := e1.Encoded()
	b2, err2 := e2.Encoded()
	if err1 != nil || err2 != nil || &b1[0] != &b2[0] {
		t.Fatalf("two subscribers got different encodings of one entry (%v, %v)", err1, err2)
	}
	var back pb.Payment
	if err := proto.Unmarshal(b1, &back); err != nil || back.GetId() != "pi_1" || back.GetMetadata()["a"] != "b" {
		t.Fatalf("Encoded does not decode to the entry's payment: %v", err)
	}
}

// Streams may start as soon as the hub is Started, before it has filled
// its window (readiness waits only for Started): a "latest" stream starts
// at the end the topic had at start, not in the history still being read,
// and a cursor inside that history gets the rest of it.
func TestStreamsStartRightWhileTheWindowFills(t *testing.T) {
	h := NewHub(Options{Window: 10})
	if h.Started() {
		t.Fatal("Started before Start")
	}
	h.Start(Position{0: 0}, Position{0: 3}) // offsets 0–2 are history still to read
	if !h.Started() || h.CaughtUp() {
		t.Fatalf("after Start: started %v, caught up %v; want true, false", h.Started(), h.CaughtUp())
	}
	latest := h.SubscribeLatest(nil)
	resumed, err := h.SubscribeAt(Position{0: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := h.Publish(0, int64(i), event(fmt.Sprintf("pi_%d", i), fmt.Sprintf("evt_%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if e, _ := next(t, latest); e.Offset != 3 {
		t.Errorf("latest stream's first payment is at offset %d, want 3 (the end at start)", e.Offset)
	}
	if e, _ := next(t, resumed); e.Offset != 2 {
		t.Errorf("stream from cursor 2 got offset %d first, want 2", e.Offset)
	}
}
