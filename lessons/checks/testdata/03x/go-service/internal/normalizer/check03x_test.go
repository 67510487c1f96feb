package normalizer_test

import (
	"errors"
	"testing"

	"learner.example/go-service/internal/normalizer"
	"learner.example/go-service/pb"
)

func TestCheck03RazorpayCaptured(t *testing.T) {
	raw := `{"entity":"event","event":"payment.captured","contains":["payment"],"created_at":1700000100,
	  "payload":{"payment":{"entity":{"id":"pay_check3x","entity":"payment","amount":99900,"currency":"INR",
	  "status":"captured","method":"upi","email":"ravi@example.com","created_at":1700000000}}}}`
	p, err := normalizer.Razorpay([]byte(raw))
	if err != nil {
		t.Fatalf("Razorpay(a payment.captured event) returned an error: %v", err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"id", p.GetId(), "pay_check3x"},
		{"gateway", p.GetGateway(), pb.Gateway_GATEWAY_RAZORPAY},
		{"amount.amount_minor (paise, as sent)", p.GetAmount().GetAmountMinor(), int64(99900)},
		{"amount.currency", p.GetAmount().GetCurrency(), "INR"},
		{"status", p.GetStatus(), pb.PaymentStatus_PAYMENT_STATUS_COMPLETED},
		{"created_at (the payment's created_at)", p.GetCreatedAt().GetSeconds(), int64(1700000000)},
		{"updated_at (the event's created_at)", p.GetUpdatedAt().GetSeconds(), int64(1700000100)},
		{"customer_email", p.GetCustomerEmail(), "ravi@example.com"},
	} {
		if c.got != c.want {
			t.Errorf("payment.%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if p.GetEventId() == "" {
		t.Error("event_id is empty: the body has no event id, so build one that names this event (payment id and event type)")
	}
}

func TestCheck03RazorpayStatuses(t *testing.T) {
	for event, want := range map[string]pb.PaymentStatus{
		"payment.authorized": pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
		"payment.failed":     pb.PaymentStatus_PAYMENT_STATUS_FAILED,
	} {
		raw := `{"entity":"event","event":"` + event + `","created_at":2,"payload":{"payment":{"entity":{"id":"pay_s","amount":1,"currency":"INR","created_at":1}}}}`
		p, err := normalizer.Razorpay([]byte(raw))
		if err != nil || p.GetStatus() != want {
			t.Errorf("Razorpay(%s) = (%v, %v); want status %v", event, p.GetStatus(), err, want)
		}
	}
}

func TestCheck03RazorpayRejects(t *testing.T) {
	if _, err := normalizer.Razorpay([]byte(`{"event":"payment.captured","payload":{`)); !errors.Is(err, normalizer.ErrMalformed) {
		t.Errorf("truncated JSON: got %v, want ErrMalformed", err)
	}
	if _, err := normalizer.Razorpay([]byte(`{"event":"order.paid","created_at":1,"payload":{"order":{"entity":{"id":"order_1"}}}}`)); !errors.Is(err, normalizer.ErrNotAPayment) {
		t.Errorf("order.paid: got %v, want ErrNotAPayment", err)
	}
}
