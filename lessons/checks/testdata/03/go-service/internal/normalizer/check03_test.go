package normalizer_test

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"learner.example/go-service/internal/normalizer"
	"learner.example/go-service/pb"
)

func TestCheck03Contract(t *testing.T) {
	md := (&pb.Payment{}).ProtoReflect().Descriptor()
	if md.FullName() != "payment.v1.Payment" {
		t.Errorf("the message is %s, want payment.v1.Payment: is `package payment.v1;` at the top of payment.proto?", md.FullName())
	}
	for name, number := range map[protoreflect.Name]protoreflect.FieldNumber{
		"id": 1, "gateway": 2, "amount": 3, "status": 4, "created_at": 5, "updated_at": 6, "event_id": 11,
	} {
		f := md.Fields().ByName(name)
		if f == nil {
			t.Errorf("Payment has no field %s (number %d): add it to payment.proto and regenerate", name, number)
		} else if f.Number() != number {
			t.Errorf("Payment.%s has number %d, the contract says %d: numbers are the wire format, they must match", name, f.Number(), number)
		}
	}
	if pb.Gateway_GATEWAY_STRIPE != 1 || pb.PaymentStatus_PAYMENT_STATUS_COMPLETED != 3 || pb.PaymentStatus_PAYMENT_STATUS_FAILED != 4 {
		t.Error("enum numbers differ from the contract: GATEWAY_STRIPE = 1, PAYMENT_STATUS_COMPLETED = 3, PAYMENT_STATUS_FAILED = 4")
	}
}

func TestCheck03StripeSucceeded(t *testing.T) {
	raw := `{"id":"evt_check3","object":"event","type":"payment_intent.succeeded","created":1700000100,
	  "data":{"object":{"id":"pi_check3","object":"payment_intent","amount":12340,"currency":"kwd",
	  "status":"succeeded","created":1700000000,"receipt_email":"grace@example.com"}}}`
	p, err := normalizer.Stripe([]byte(raw))
	if err != nil {
		t.Fatalf("Stripe(a payment_intent.succeeded event) returned an error: %v", err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"id", p.GetId(), "pi_check3"},
		{"gateway", p.GetGateway(), pb.Gateway_GATEWAY_STRIPE},
		{"amount.amount_minor", p.GetAmount().GetAmountMinor(), int64(12340)},
		{"amount.currency (upper case)", p.GetAmount().GetCurrency(), "KWD"},
		{"status", p.GetStatus(), pb.PaymentStatus_PAYMENT_STATUS_COMPLETED},
		{"created_at (the payment_intent's created)", p.GetCreatedAt().GetSeconds(), int64(1700000000)},
		{"updated_at (the event's created)", p.GetUpdatedAt().GetSeconds(), int64(1700000100)},
		{"event_id", p.GetEventId(), "evt_check3"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("payment.%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestCheck03StripeFailed(t *testing.T) {
	raw := `{"id":"evt_check3f","type":"payment_intent.payment_failed","created":1700000100,
	  "data":{"object":{"id":"pi_check3f","amount":500,"currency":"usd","created":1700000000}}}`
	p, err := normalizer.Stripe([]byte(raw))
	if err != nil {
		t.Fatalf("Stripe(a payment_intent.payment_failed event) returned an error: %v", err)
	}
	if p.GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_FAILED {
		t.Errorf("payment_intent.payment_failed gave status %v, want PAYMENT_STATUS_FAILED", p.GetStatus())
	}
}

func TestCheck03StripeRejects(t *testing.T) {
	for _, c := range []struct {
		what, raw string
		want      error
	}{
		{"truncated JSON", `{"id":"evt_x","type":"payment_intent.succeeded","data":{`, normalizer.ErrMalformed},
		{"a negative amount", `{"id":"evt_y","type":"payment_intent.succeeded","created":1,"data":{"object":{"id":"pi_y","amount":-1,"currency":"usd","created":1}}}`, normalizer.ErrMalformed},
		{"a customer.created event", `{"id":"evt_z","type":"customer.created","created":1,"data":{"object":{"id":"cus_z"}}}`, normalizer.ErrNotAPayment},
	} {
		p, err := normalizer.Stripe([]byte(c.raw))
		if !errors.Is(err, c.want) {
			t.Errorf("Stripe(%s) returned (%v, %v); want an error that errors.Is matches with %v", c.what, p, err, c.want)
		}
	}
}
