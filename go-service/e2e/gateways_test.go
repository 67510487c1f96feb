package e2e

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// All five gateways in their native formats, with life cycles, out-of-order
// and duplicate events and malformed records: every record comes out as a
// payment or a DLQ record, duplicates reach the stream once, and every
// payment's latest state is its final outcome.
func TestAllGatewaysRealisticMix(t *testing.T) {
	gateways := synthetic.Gateways()
	if len(gateways) != 5 {
		t.Fatalf("synthetic gateways = %v, want all five", gateways)
	}
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 2026, Mix: synthetic.MixRealistic, InvalidRate: 0.05}, 1500)
	var valid, invalid, duplicates int
	final := map[string]pb.PaymentStatus{} // gateway:id → expected latest status
	gatewayOf := map[string]pb.Gateway{}
	for _, r := range recs {
		switch {
		case r.Invalid != "":
			invalid++
			continue
		case r.Duplicate:
			duplicates++
		}
		valid++
		key := r.Gateway.String() + ":" + r.Key
		gatewayOf[key] = r.Gateway
		final[key] = expectedFinal(final[key], r.Step.Status)
	}

	srv := startServer(t, tt)
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	produce(t, tt, recs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, stream, valid-duplicates, 90*time.Second)
	events := map[string]bool{}
	for _, r := range got {
		k := r.GetPayment().GetGateway().String() + "/" + r.GetPayment().GetEventId()
		if events[k] {
			t.Errorf("event %s reached the client twice", k)
		}
		events[k] = true
	}

	dlq := readTopic(t, tt.dlq, invalid, 30*time.Second)
	if n := countTopic(t, tt.events); n != int64(valid) {
		t.Errorf("events topic holds %d records, want %d (one per valid record)", n, valid)
	}
	if len(dlq) != invalid {
		t.Errorf("DLQ holds %d records, want %d", len(dlq), invalid)
	}
	// GetPayment reads this instance's view of payments.state, which may
	// trail the stream by a moment: wait until its counts hold every payment
	// in its final status.
	wantStatus := map[string]int64{}
	for _, st := range final {
		wantStatus[st.String()]++
	}
	waitStats(t, client, 60*time.Second, func(s *pb.GetStatsResponse) bool {
		return s.GetPaymentsTotal() == int64(len(final)) && maps.Equal(s.GetPaymentsByStatus(), wantStatus)
	})
	for key, want := range final {
		id := key[len(gatewayOf[key].String())+1:]
		resp, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: gatewayOf[key], Id: id})
		if err != nil {
			t.Errorf("GetPayment %s: %v", key, err)
			continue
		}
		if s := resp.GetPayment().GetStatus(); s != want {
			t.Errorf("latest state of %s is %v, want %v", key, s, want)
		}
	}
	stats, err := client.GetStats(ctx, &pb.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.GetDlqCount() != int64(invalid) || stats.GetPaymentsTotal() != int64(len(final)) || stats.GetDuplicatesDropped() != int64(duplicates) {
		t.Errorf("stats: dlq %d payments %d duplicates %d; want %d, %d, %d", stats.GetDlqCount(), stats.GetPaymentsTotal(), stats.GetDuplicatesDropped(), invalid, len(final), duplicates)
	}
	t.Logf("in %d = payments %d + DLQ %d + skipped 0; duplicates dropped %d; %d distinct payments; lost 0", len(recs), valid, invalid, duplicates, len(final))
}

// expectedFinal is the DESIGN rule from the test's side: FAILED and
// CANCELED end a payment unless it completed; otherwise the furthest state wins.
func expectedFinal(cur, next pb.PaymentStatus) pb.PaymentStatus {
	order := []pb.PaymentStatus{
		pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED, pb.PaymentStatus_PAYMENT_STATUS_PENDING, pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
		pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_REFUNDED,
	}
	idx := func(s pb.PaymentStatus) int {
		for i, o := range order {
			if o == s {
				return i
			}
		}
		return -1
	}
	terminal := func(s pb.PaymentStatus) bool {
		return s == pb.PaymentStatus_PAYMENT_STATUS_FAILED || s == pb.PaymentStatus_PAYMENT_STATUS_CANCELED
	}
	switch {
	case terminal(cur):
		return cur
	case terminal(next):
		if idx(cur) >= idx(pb.PaymentStatus_PAYMENT_STATUS_COMPLETED) {
			return cur
		}
		return next
	case idx(next) > idx(cur):
		return next
	}
	return cur
}
