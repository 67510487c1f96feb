package state

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func event(eventID string, st pb.PaymentStatus, refunded int64) *pb.Payment {
	p := &pb.Payment{
		Id: "pi_1", Gateway: pb.Gateway_GATEWAY_STRIPE, EventId: eventID, Status: st,
		Amount:    &pb.Money{AmountMinor: 5000, Currency: "USD"},
		UpdatedAt: timestamppb.New(t0),
	}
	if refunded > 0 {
		p.Refunded = &pb.Money{AmountMinor: refunded, Currency: "USD"}
	}
	return p
}

// An event id is dropped as a duplicate while it is within the horizon of
// when it was first folded, and folded again once it is older.
func TestFoldDedupesWithinTheHorizon(t *testing.T) {
	const horizon = 72 * time.Hour
	first, out, err := Fold(nil, event("evt_1", pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, 0), t0, horizon)
	if err != nil || out != Applied {
		t.Fatalf("first event: %v %v, want Applied", out, err)
	}
	tests := []struct {
		name  string
		after time.Duration
		want  Outcome
	}{
		{"redelivered at once", 0, Duplicate},
		{"redelivered three days later (Stripe's last retry)", 72*time.Hour - time.Second, Duplicate},
		{"exactly at the horizon", horizon, Duplicate},
		{"redelivered after the horizon", horizon + time.Second, Applied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, out, err := Fold(first, event("evt_1", pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, 0), t0.Add(tc.after), horizon)
			if err != nil || out != tc.want {
				t.Errorf("got %v %v, want %v", out, err, tc.want)
			}
		})
	}
}

// A duplicate changes only the duplicate count; pruning forgets old ids but
// never the payment.
func TestFoldKeepsStateAndCountsDuplicates(t *testing.T) {
	const horizon = time.Hour
	r, _, _ := Fold(nil, event("evt_1", pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, 0), t0, horizon)
	r, _, _ = Fold(r, event("evt_2", pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED, 1000), t0.Add(30*time.Minute), horizon)
	dup, out, _ := Fold(r, event("evt_2", pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED, 1000), t0.Add(40*time.Minute), horizon)
	if out != Duplicate || dup.Duplicates != 1 || dup.Payment.GetRefunded().GetAmountMinor() != 1000 {
		t.Fatalf("duplicate refund: %v, duplicates %d, refunded %d; want Duplicate, 1, 1000", out, dup.Duplicates, dup.Payment.GetRefunded().GetAmountMinor())
	}
	later, out, _ := Fold(dup, event("evt_3", pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED, 2000), t0.Add(2*time.Hour), horizon)
	if out != Applied || len(later.Seen) != 1 || later.Seen[0].EventID != "evt_3" {
		t.Errorf("after the horizon the record keeps %v, want only evt_3", later.Seen)
	}
	if later.Payment.GetRefunded().GetAmountMinor() != 2000 || later.Duplicates != 1 {
		t.Errorf("refunded %d, duplicates %d; want 2000, 1", later.Payment.GetRefunded().GetAmountMinor(), later.Duplicates)
	}
	if len(r.Seen) != 2 {
		t.Errorf("Fold modified its input: %v", r.Seen)
	}
}

// An event merge refuses leaves the payment as it was, and is remembered.
func TestFoldRefusedEvent(t *testing.T) {
	r, _, _ := Fold(nil, event("evt_1", pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, 0), t0, time.Hour)
	eur := event("evt_2", pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, 5000)
	eur.Refunded.Currency = "EUR"
	next, out, err := Fold(r, eur, t0, time.Hour)
	if out != Refused || err == nil {
		t.Fatalf("got %v %v, want Refused with an error", out, err)
	}
	if next.Payment.GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_COMPLETED || len(next.Seen) != 2 {
		t.Errorf("refused event: status %v, seen %d; want COMPLETED, 2", next.Payment.GetStatus(), len(next.Seen))
	}
}

func TestRecordEncodingRoundTrips(t *testing.T) {
	tests := []*Record{
		{Payment: event("evt_1", pb.PaymentStatus_PAYMENT_STATUS_PENDING, 0)},
		{Payment: event("", pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, 0), Duplicates: 3},
		{Payment: event("evt_2", pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, 5000), Seen: []Seen{{"evt_1", t0}, {"evt_2", t0.Add(time.Hour)}}, Duplicates: 1},
	}
	for _, r := range tests {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r, got, protocmp.Transform()); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

func TestDecodeRecordRefusesWhatIsNotARecord(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":          nil,
		"no payment":     {0x18, 0x01},
		"truncated":      {0x0a, 0x10, 0x0a},
		"a bare payment": mustMarshal(t, event("evt_1", pb.PaymentStatus_PAYMENT_STATUS_PENDING, 0)),
	} {
		if _, err := DecodeRecord(b); err == nil {
			t.Errorf("%s: decoded without an error", name)
		}
	}
}

func mustMarshal(t *testing.T, p *pb.Payment) []byte {
	b, err := (&Record{Payment: p}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	// A Payment's own bytes start with field 1 (id) as a string, which reads
	// as a Record's field 1 holding no payment with an id.
	return b[2:]
}

func FuzzDecodeRecord(f *testing.F) {
	r := &Record{Payment: event("evt_1", pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, 0), Seen: []Seen{{"evt_1", t0}}, Duplicates: 2}
	b, _ := r.Encode()
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		again, err := r.Encode()
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		if _, err := DecodeRecord(again); err != nil {
			t.Fatalf("a re-encoded record does not decode: %v", err)
		}
	})
}

func TestPlanPartition(t *testing.T) {
	tests := []struct {
		name                  string
		checkpoint, committed int64
		want                  Plan
	}{
		{"new group, new store", -1, -1, UseStore},
		{"clean restart", 1200, 1200, UseStore},
		{"crash between the Kafka commit and the store's", 1100, 1200, Restore},
		{"lost or new store", -1, 1200, Restore},
		{"another instance owned it meanwhile", 900, 1500, Restore},
		{"group offsets deleted", 1200, -1, Restore},
	}
	for _, tc := range tests {
		if got := PlanPartition(tc.checkpoint, tc.committed); got != tc.want {
			t.Errorf("%s: PlanPartition(%d, %d) = %v, want %v", tc.name, tc.checkpoint, tc.committed, got, tc.want)
		}
	}
}

func TestStatDeltas(t *testing.T) {
	pending := &Record{Payment: event("e1", pb.PaymentStatus_PAYMENT_STATUS_PENDING, 0)}
	done := &Record{Payment: event("e2", pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, 0)}
	dup := &Record{Payment: done.Payment, Duplicates: 1}
	tests := []struct {
		name       string
		prev, next *Record
		want       []Delta
	}{
		{"a new payment", nil, pending, []Delta{{StatTotal, nameAll, 1}, {StatGateway, "GATEWAY_STRIPE", 1}, {StatStatus, "PAYMENT_STATUS_PENDING", 1}, {StatCurrency, "USD", 5000}}},
		{"a status change", pending, done, []Delta{{StatStatus, "PAYMENT_STATUS_PENDING", -1}, {StatStatus, "PAYMENT_STATUS_COMPLETED", 1}}},
		{"a duplicate", done, dup, []Delta{{StatDuplicates, nameAll, 1}}},
		{"the same record again", done, done, nil},
		{"a tombstone", done, nil, []Delta{{StatTotal, nameAll, -1}, {StatGateway, "GATEWAY_STRIPE", -1}, {StatStatus, "PAYMENT_STATUS_COMPLETED", -1}, {StatCurrency, "USD", -5000}}},
	}
	for _, tc := range tests {
		if d := cmp.Diff(tc.want, StatDeltas(tc.prev, tc.next)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}
