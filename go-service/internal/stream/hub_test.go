package stream

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func event(id, eventID string) *pb.Payment {
	return &pb.Payment{Id: id, EventId: eventID, Gateway: pb.Gateway_GATEWAY_STRIPE, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, Amount: &pb.Money{AmountMinor: 5000, Currency: "USD"}}
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

func TestHubDropsDuplicateEvents(t *testing.T) {
	h := NewHub(Options{Window: 10})
	h.Start(Position{0: 0}, Position{0: 0})
	sub := h.SubscribeLatest(nil)
	h.Publish(0, 0, event("pi_1", "evt_1"))
	h.Publish(0, 1, event("pi_1", "evt_1")) // the same gateway event again
	h.Publish(0, 2, event("pi_2", "evt_2"))
	if e, _ := next(t, sub); e.Payment.GetId() != "pi_1" {
		t.Fatalf("first = %s", e.Payment.GetId())
	}
	if e, _ := next(t, sub); e.Payment.GetId() != "pi_2" {
		t.Fatalf("second = %s, want pi_2 (the duplicate must be dropped)", e.Payment.GetId())
	}
	if s := h.Stats(); s.Duplicates != 1 || s.Payments != 2 {
		t.Fatalf("stats = %+v", s)
	}
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
		if e, _ := next(t, resumed); e.Payment.GetId() != fmt.Sprintf("pi_%d", i) {
			t.Fatalf("resumed at %s, want pi_%d", e.Payment.GetId(), i)
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
