package normalizer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/paymentgateway/aggregator/go-service/pb"
	"google.golang.org/protobuf/testing/protocmp"
)

func TestStripe(t *testing.T) {
	const (
		completed = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
		pending   = pb.PaymentStatus_PAYMENT_STATUS_PENDING
		authed    = pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
		failed    = pb.PaymentStatus_PAYMENT_STATUS_FAILED
		canceled  = pb.PaymentStatus_PAYMENT_STATUS_CANCELED
		refunded  = pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
		partial   = pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
	)
	runFixtures(t, Stripe{}, "stripe", []fixtureCase{
		{file: "payment_intent.succeeded.json", want: []*pb.Payment{{
			Id:            "pi_3SXa1AH2kLmN3oPq0pi1Succ",
			Amount:        fixtureMoney(5000, "USD"),
			Status:        completed,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:00:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T16:00:42Z"),
			CustomerEmail: "ada.lovelace@example.com",
			Method:        "card",
			EventId:       "evt_3SXa1AH2kLmN3oPq0ev1Succ",
			Metadata:      map[string]string{"order_id": "ord_1001", "channel": "web"},
		}}},
		{file: "payment_intent.payment_failed.json", want: []*pb.Payment{{
			Id:            "pi_3SXa2BH2kLmN3oPq0pi2Fail",
			Amount:        fixtureMoney(12999, "EUR"),
			Status:        failed, // the PI itself says requires_payment_method: the event type decides
			CreatedAt:     fixtureTime(t, "2025-11-24T17:04:30Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T17:05:09Z"),
			CustomerEmail: "",
			Method:        "card",
			FailureReason: "Your card has insufficient funds.",
			EventId:       "evt_3SXa2BH2kLmN3oPq0ev2Fail",
			Metadata:      map[string]string{"order_id": "ord_1002"},
		}}},
		{file: "payment_intent.canceled.json", want: []*pb.Payment{{
			Id:            "pi_3SXa3CH2kLmN3oPq0pi3Canc",
			Amount:        fixtureMoney(2500, "GBP"),
			Status:        canceled,
			CreatedAt:     fixtureTime(t, "2025-11-24T18:00:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T18:30:00Z"),
			CustomerEmail: "alan.turing@example.co.uk",
			Method:        "card",
			FailureReason: "requested_by_customer",
			EventId:       "evt_3SXa3CH2kLmN3oPq0ev3Canc",
		}}},
		{file: "payment_intent.processing.json", want: []*pb.Payment{{
			Id:            "pi_3SXa4DH2kLmN3oPq0pi4Proc",
			Amount:        fixtureMoney(1999, "EUR"),
			Status:        pending,
			CreatedAt:     fixtureTime(t, "2025-11-24T19:00:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T19:00:05Z"),
			CustomerEmail: "emmy.noether@example.de",
			Method:        "sepa_debit",
			EventId:       "evt_3SXa4DH2kLmN3oPq0ev4Proc",
		}}},
		{file: "payment_intent.amount_capturable_updated.json", want: []*pb.Payment{{
			Id:            "pi_3SXa5EH2kLmN3oPq0pi5Auth",
			Amount:        fixtureMoney(7500, "CAD"),
			Status:        authed,
			CreatedAt:     fixtureTime(t, "2025-11-24T20:00:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T20:00:03Z"),
			CustomerEmail: "katherine.johnson@example.ca",
			Method:        "card",
			EventId:       "evt_3SXa5EH2kLmN3oPq0ev5Auth",
			Metadata:      map[string]string{"reservation": "R-88"},
		}}},
		{file: "charge.refunded.full.json", want: []*pb.Payment{{
			Id:            "pi_3SXa1AH2kLmN3oPq0pi1Succ", // the PaymentIntent, not the ch_ id
			Amount:        fixtureMoney(5000, "USD"),
			Refunded:      fixtureMoney(5000, "USD"),
			Status:        refunded,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:00:40Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-25T09:15:00Z"),
			CustomerEmail: "grace.hopper@example.com", // billing_details.email wins over receipt_email
			Method:        "card",
			EventId:       "evt_3SXa6FH2kLmN3oPq0ev6RefF",
			Metadata:      map[string]string{"order_id": "ord_1001"},
		}}},
		{file: "charge.refunded.partial.json", want: []*pb.Payment{{
			Id:            "pi_3SXa7GH2kLmN3oPq0pi7RefP",
			Amount:        fixtureMoney(8000, "USD"),
			Refunded:      fixtureMoney(3000, "USD"),
			Status:        partial,
			CreatedAt:     fixtureTime(t, "2025-11-24T21:00:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-25T10:20:00Z"),
			CustomerEmail: "barbara.liskov@example.com", // no billing email: receipt_email
			Method:        "card",
			EventId:       "evt_3SXa7GH2kLmN3oPq0ev7RefP",
		}}},
		{file: "payment_intent.succeeded.jpy.json", want: []*pb.Payment{{
			Id:            "pi_3SXa8HH2kLmN3oPq0pi8JpyS",
			Amount:        fixtureMoney(5000, "JPY"), // zero-decimal: 5000 yen, not 50.00
			Status:        completed,
			CreatedAt:     fixtureTime(t, "2025-11-25T01:00:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-25T01:00:10Z"),
			CustomerEmail: "hideki.yukawa@example.jp",
			Method:        "card",
			EventId:       "evt_3SXa8HH2kLmN3oPq0ev8JpyS",
			Metadata:      map[string]string{"store": "shibuya"},
		}}},
		{file: "payment_intent.succeeded.kwd.json", want: []*pb.Payment{{
			Id:        "pi_3SXa9IH2kLmN3oPq0pi9KwdS",
			Amount:    fixtureMoney(12340, "KWD"), // three decimals: 12.340 KWD
			Status:    completed,
			CreatedAt: fixtureTime(t, "2025-11-25T06:00:00Z"),
			UpdatedAt: fixtureTime(t, "2025-11-25T06:00:10Z"),
			Method:    "card",
			EventId:   "evt_3SXa9IH2kLmN3oPq0ev9KwdS",
		}}},
		{file: "customer.created.json", ignored: true},
		{file: "charge.succeeded.json", ignored: true},
		{file: "payment_intent.unknown_thing.json", wantCode: CodeUnsupportedEvent},
		{file: "malformed.truncated.json", wantCode: CodeMalformedJSON},
		{file: "invalid.amount_float.json", wantCode: CodeInvalidAmount},
		{file: "invalid.amount_negative.json", wantCode: CodeInvalidAmount},
		{file: "invalid.amount_overflow.json", wantCode: CodeInvalidAmount},
		{file: "invalid.currency_xyz.json", wantCode: CodeInvalidCurrency},
		{file: "missing.object_id.json", wantCode: CodeMissingField},
	})
}

// TestStripeNestedMetadata: Stripe metadata values are strings, but a nested
// value must survive as JSON text, independent of how the sender indented it.
func TestStripeNestedMetadata(t *testing.T) {
	got, err := Stripe{}.Normalize(readFixture(t, "stripe", "payment_intent.succeeded.nested_metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []*pb.Payment{{
		Id:        "pi_3SXaIQH2kLmN3oPq0piINest",
		Amount:    fixtureMoney(4200, "USD"),
		Status:    pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
		CreatedAt: fixtureTime(t, "2025-11-25T12:00:00Z"),
		UpdatedAt: fixtureTime(t, "2025-11-25T12:00:30Z"),
		Method:    "card",
		EventId:   "evt_3SXaIQH2kLmN3oPq0evINest",
		Metadata: map[string]string{
			"order_id": "ord_77",
			"cart":     `{"items":2,"sku":"TSHIRT-M"}`,
			"priority": "1",
			"gift":     "true",
		},
	}}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("payment mismatch (-want +got):\n%s", diff)
	}
}

func FuzzStripe(f *testing.F) { fuzzNormalizer(f, Stripe{}, "stripe") }
