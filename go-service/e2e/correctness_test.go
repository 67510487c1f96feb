package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// stripeIntentEvent is a Stripe event about PaymentIntent pi in the shape
// Stripe sends (trimmed to the fields the normalizer reads).
func stripeIntentEvent(eventID, eventType, pi, status string, created int64, lastError string) synthetic.Record {
	errJSON := "null"
	if lastError != "" {
		errJSON = fmt.Sprintf(`{"code":"card_declined","decline_code":"insufficient_funds","message":%q}`, lastError)
	}
	doc := fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"created":%d,"data":{"object":{"id":%q,"object":"payment_intent",`+
		`"amount":2500,"currency":"usd","status":%q,"created":1764000000,"payment_method_types":["card"],"metadata":{},"last_payment_error":%s}}}`,
		eventID, eventType, created, pi, status, errJSON)
	return synthetic.Record{Gateway: pb.Gateway_GATEWAY_STRIPE, Header: "stripe", Key: pi, Value: []byte(doc)}
}

// adyenItem is a one-item Adyen notification.
func adyenItem(eventCode, psp, original string, value int64, currency, date string) synthetic.Record {
	doc := fmt.Sprintf(`{"live":"false","notificationItems":[{"NotificationRequestItem":{"eventCode":%q,"success":"true",`+
		`"pspReference":%q,"originalReference":%q,"merchantAccountCode":"TestMerchant","merchantReference":"order-1",`+
		`"eventDate":%q,"amount":{"value":%d,"currency":%q},"paymentMethod":"visa"}}]}`,
		eventCode, psp, original, date, value, currency)
	key := psp
	if original != "" {
		key = original
	}
	return synthetic.Record{Gateway: pb.Gateway_GATEWAY_ADYEN, Header: "adyen", Key: key, Value: []byte(doc)}
}

// A Stripe PaymentIntent whose first attempt fails and whose retry succeeds
// is COMPLETED, without the failure's reason, in GetPayment and on the
// stream; an Adyen refund in another currency than its payment is not
// folded in, and the server says so with the record's offsets and counts it.
func TestPaymentsComeOutRight(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_ADYEN)
	port := freePort(t)
	srv := startServer(t, tt, fmt.Sprintf("METRICS_PORT=%d", port), "GRPC_HOST=127.0.0.1")
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST, Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}})
	if err != nil {
		t.Fatal(err)
	}

	const pi = "pi_3RetryE2eA1b2C3d4E5f6G7h"
	// Same key, so one partition: Kafka keeps their order.
	produce(t, tt, []synthetic.Record{
		stripeIntentEvent("evt_e2e_fail", "payment_intent.payment_failed", pi, "requires_payment_method", 1764000100, "Your card has insufficient funds."),
		stripeIntentEvent("evt_e2e_ok", "payment_intent.succeeded", pi, "succeeded", 1764000160, ""),
	})
	got := collect(t, stream, 2, 60*time.Second)
	first, last := got[0].GetPayment(), got[1].GetPayment()
	if first.GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_FAILED || first.GetFailureReason() == "" {
		t.Errorf("stream, first event: %v %q, want FAILED with its reason", first.GetStatus(), first.GetFailureReason())
	}
	if last.GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_COMPLETED || last.GetFailureReason() != "" {
		t.Errorf("stream, after the retry: %v %q, want COMPLETED and no failure reason", last.GetStatus(), last.GetFailureReason())
	}
	// GetPayment reads this instance's view of payments.state, which may
	// trail the stream by a moment: wait for the payment to reach it.
	var resp *pb.GetPaymentResponse
	eventually(t, 60*time.Second, "GetPayment of the Stripe payment after its retry", func() bool {
		resp, err = client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: pi})
		return err == nil && resp.GetPayment().GetEventId() == "evt_e2e_ok"
	})
	if p := resp.GetPayment(); p.GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_COMPLETED || p.GetFailureReason() != "" {
		t.Errorf("GetPayment: %v %q, want COMPLETED and no failure reason", p.GetStatus(), p.GetFailureReason())
	}

	const psp = "E2EPSP0000000001"
	produce(t, tt, []synthetic.Record{
		adyenItem("AUTHORISATION", psp, "", 10000, "EUR", "2026-11-25T10:00:00+01:00"),
		adyenItem("REFUND", "E2EPSP0000000002", psp, 4000, "USD", "2026-11-25T11:00:00+01:00"),
	})
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(srv.out.String(), "not folded") {
		if time.Now().After(deadline) {
			t.Fatalf("the server never reported the USD refund of a EUR payment; its log:\n%s", srv.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"currency_mismatch", "source_offset"} {
		if !strings.Contains(srv.out.String(), want) {
			t.Errorf("the server's report of the refused refund does not mention %s:\n%s", want, srv.out.String())
		}
	}
	// The state stage logs the refusal before its transaction commits and
	// the view reads the payment's state back: wait for it.
	eventually(t, 60*time.Second, "GetPayment of the Adyen payment", func() bool {
		resp, err = client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_ADYEN, Id: psp})
		return err == nil
	})
	if p := resp.GetPayment(); p.GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED || p.GetRefunded() != nil || p.GetAmount().GetCurrency() != "EUR" {
		t.Errorf("GetPayment after a USD refund of a EUR payment: %v refunded %v amount %v; want AUTHORIZED, nothing refunded, EUR", p.GetStatus(), p.GetRefunded(), p.GetAmount())
	}
	m := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if n := m[`payagg_state_events_not_folded_total{reason="currency_mismatch"}`]; n != 1 {
		t.Errorf("payagg_state_events_not_folded_total{reason=\"currency_mismatch\"} = %v, want 1", n)
	}
}
