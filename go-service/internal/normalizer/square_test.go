package normalizer

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestSquare(t *testing.T) {
	usd := func(minor int64) *pb.Money { return &pb.Money{AmountMinor: minor, Currency: "USD"} }
	// The Harbor Books payment: 25.99 + 4.00 tip, authorized, captured, then
	// refunded in two steps.
	harborMeta := map[string]string{
		"reference_id": "INV-20260302-0117",
		"note":         "Two hardcovers, gift wrapped",
		"order_id":     "pW3nD8qLz5RtKx1VbM6cHs9GjY4eY",
		"location_id":  "LH2XQ7N4M9K1P",
	}
	const harborID = "tR7vQ2mXk9LpWc4NbH8sJd3FgZeY"
	harborCreated := fixtureTime(t, "2026-03-02T16:41:06.877Z")

	runFixtures(t, Square{}, "square", []fixtureCase{
		{file: "payment_created_approved.json", want: []*pb.Payment{{
			Id:            harborID,
			Amount:        usd(2599),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
			CreatedAt:     harborCreated,
			UpdatedAt:     fixtureTime(t, "2026-03-02T16:41:07.204Z"),
			CustomerEmail: "maya.okafor@example.com",
			Method:        "card",
			EventId:       "3f1c9a7e-52b4-4d0e-9c61-8a2f7d4e1b90",
			Metadata:      harborMeta,
		}}},
		{file: "payment_created_pending.json", want: []*pb.Payment{{
			Id:            "Bq5Zx8VtN2mKc7LwR4pHj9SdGf1Y",
			Amount:        usd(120000),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_PENDING,
			CreatedAt:     fixtureTime(t, "2026-03-03T09:12:44.301Z"),
			UpdatedAt:     fixtureTime(t, "2026-03-03T09:12:44.655Z"),
			CustomerEmail: "accounts@northwind-events.example",
			Method:        "bank_account",
			EventId:       "a8d2e6f4-1b3c-4f7a-8e90-5c2d1b7a9f36",
			Metadata:      map[string]string{"order_id": "Kx4Wq7NbV2mZc9LtR5pHd8SgJf3eY", "location_id": "LH2XQ7N4M9K1P"},
		}}},
		// total_money (amount_money + tip_money) is the payment's amount.
		{file: "payment_updated_completed.json", want: []*pb.Payment{{
			Id:            harborID,
			Amount:        usd(2999),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     harborCreated,
			UpdatedAt:     fixtureTime(t, "2026-03-02T17:05:31.118Z"),
			CustomerEmail: "maya.okafor@example.com",
			Method:        "card",
			EventId:       "c4b7e1d9-6a2f-4e38-b5c0-7d9e3a1f8b24",
			Metadata:      harborMeta,
		}}},
		{file: "payment_updated_failed.json", want: []*pb.Payment{{
			Id:            "Hn2Wc6RkT9vLq3XpZ7mBd5JsFg8eY",
			Amount:        &pb.Money{AmountMinor: 8450, Currency: "CAD"},
			Status:        pb.PaymentStatus_PAYMENT_STATUS_FAILED,
			CreatedAt:     fixtureTime(t, "2026-03-04T21:18:01.090Z"),
			UpdatedAt:     fixtureTime(t, "2026-03-04T21:18:02.463Z"),
			CustomerEmail: "liam.tremblay@example.ca",
			Method:        "card",
			FailureReason: "Authorization error: 'GENERIC_DECLINE'",
			EventId:       "5e9a3c1b-7d40-4b2e-a6f8-0c1d9e2b4a73",
			Metadata:      map[string]string{"order_id": "Qv8Tz1LmR6kWn3XcB9pHd4JsGf7eY", "location_id": "LCA5T8PQ2ZR7W"},
		}}},
		// An error with a code and no detail: the code is the reason.
		{file: "payment_updated_failed_wallet.json", want: []*pb.Payment{{
			Id:            "Wm9Kc3TbR7qXv2NpL5hZd8JsFg6Y",
			Amount:        usd(1875),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_FAILED,
			CreatedAt:     fixtureTime(t, "2026-03-05T13:27:12.642Z"),
			UpdatedAt:     fixtureTime(t, "2026-03-05T13:27:39.815Z"),
			Method:        "wallet",
			FailureReason: "INSUFFICIENT_FUNDS",
			EventId:       "0b7f2d5a-9c13-4e6b-8a47-e2f1c3d5b908",
			Metadata:      map[string]string{"order_id": "Fz6Rk1Wq9NmLx4Tc7Vb2Hd5JsGp3eY", "location_id": "LH2XQ7N4M9K1P"},
		}}},
		{file: "payment_updated_canceled.json", want: []*pb.Payment{{
			Id:            "Gv4Tn8QzK1mRw6XcL3pBh9JdSf2eY",
			Amount:        &pb.Money{AmountMinor: 6400, Currency: "GBP"},
			Status:        pb.PaymentStatus_PAYMENT_STATUS_CANCELED,
			CreatedAt:     fixtureTime(t, "2026-03-02T16:40:58.213Z"),
			UpdatedAt:     fixtureTime(t, "2026-03-09T16:41:09.537Z"),
			CustomerEmail: "h.whitfield@example.co.uk",
			Method:        "card",
			EventId:       "e2a6c8b0-4d1f-4a93-9b7e-3f5d0c2a6e81",
			Metadata: map[string]string{
				"reference_id": "SUB-0042-MAR",
				"order_id":     "Nc7Wm2Vz9TqLk4XbR1pHd6JsGf5eY",
				"location_id":  "LGB6W2RN8QT4K",
			},
		}}},
		{file: "payment_updated_partially_refunded.json", want: []*pb.Payment{{
			Id:            harborID,
			Amount:        usd(2999),
			Refunded:      usd(1299),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED,
			CreatedAt:     harborCreated,
			UpdatedAt:     fixtureTime(t, "2026-03-06T10:02:17.990Z"),
			CustomerEmail: "maya.okafor@example.com",
			Method:        "card",
			EventId:       "7a1d4f8c-2e6b-4c05-93d7-b8e0a5f2c614",
			Metadata:      harborMeta,
		}}},
		// Refunded up to total_money, tip included: a full refund.
		{file: "payment_updated_refunded.json", want: []*pb.Payment{{
			Id:            harborID,
			Amount:        usd(2999),
			Refunded:      usd(2999),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_REFUNDED,
			CreatedAt:     harborCreated,
			UpdatedAt:     fixtureTime(t, "2026-03-08T15:44:52.260Z"),
			CustomerEmail: "maya.okafor@example.com",
			Method:        "card",
			EventId:       "d9c3b5a7-8f21-4e6d-a0b4-61c7e9f3d285",
			Metadata:      harborMeta,
		}}},
		// JPY has no minor unit; no payment.updated_at, so the event's
		// created_at (+09:00) is the update time, in UTC.
		{file: "payment_created_jpy.json", want: []*pb.Payment{{
			Id:        "Pz8Lx3Wq6VkTn1Rc9Mb4HdJs7Gf2eY",
			Amount:    &pb.Money{AmountMinor: 3300, Currency: "JPY"},
			Status:    pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt: fixtureTime(t, "2026-03-14T09:05:08.402Z"),
			UpdatedAt: fixtureTime(t, "2026-03-14T09:05:09.120Z"),
			Method:    "wallet",
			EventId:   "46e0b2d8-c5a9-4f17-8d3e-9a2c7b1f0e55",
			Metadata:  map[string]string{"note": "Matcha set x2", "order_id": "Ls5Wq2Tz8NkRm1XcV7bHd4JpGf9eY", "location_id": "LJP3K7TQ9WN2R"},
		}}},
		// KWD has three decimals: 12750 is 12.750 dinars, kept as is.
		{file: "payment_created_kwd.json", want: []*pb.Payment{{
			Id:            "Rk2Vx7Nq4TmZc9LwB1pHd6JsGf3Y",
			Amount:        &pb.Money{AmountMinor: 12750, Currency: "KWD"},
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     fixtureTime(t, "2026-03-15T11:30:44.318Z"),
			UpdatedAt:     fixtureTime(t, "2026-03-15T11:30:44.876Z"),
			CustomerEmail: "f.alsabah@example.com.kw",
			Method:        "card",
			EventId:       "b1f5d9e3-0a7c-4b28-9e64-2d8c6a0f4b17",
			Metadata:      map[string]string{"reference_id": "POS-7731", "location_id": "LKW8N3RT5QZ1W"},
		}}},
		// Square's published example of payment.created (API reference,
		// webhooks/payment.created): data.id is not the payment's id, and
		// the payment object wins.
		{file: "payment_created_published_example.json", want: []*pb.Payment{{
			Id:        "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
			Amount:    fixtureMoney(100, "USD"),
			Status:    pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
			CreatedAt: fixtureTime(t, "2020-11-22T21:16:51.086Z"),
			UpdatedAt: fixtureTime(t, "2020-11-22T21:16:51.198Z"),
			Method:    "card",
			EventId:   "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
			Metadata:  map[string]string{"order_id": "03O3USaPaAaFnI6kkwB1JxGgBsUZY", "location_id": "S8GWD5R9QB376"},
		}}},
		{file: "negative_amount.json", wantCode: CodeInvalidAmount},
		{file: "missing_payment_id.json", wantCode: CodeMissingField},
		{file: "unknown_currency.json", wantCode: CodeInvalidCurrency},
		{file: "truncated.json", wantCode: CodeMalformedJSON},
		{file: "amount_as_string.json", wantCode: CodeInvalidField},
		{file: "unknown_status.json", wantCode: CodeUnsupportedEvent},
		{file: "invalid_created_at.json", wantCode: CodeInvalidTime},
		{file: "payment_unknown_type.json", wantCode: CodeUnsupportedEvent},
		{file: "customer_created.json", ignored: true},
		// payment.updated carries the refund (refunded_money); the refund
		// event itself is skipped.
		{file: "refund_updated.json", ignored: true},
	})
}

func FuzzSquare(f *testing.F) { fuzzNormalizer(f, Square{}, "square") }

// The disagreement between data.id and the payment's id is noted at debug
// level, with both ids.
func TestSquareIDDisagreementIsLoggedAtDebug(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	if _, err := (Square{}).Normalize(readFixture(t, "square", "payment_created_published_example.json")); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	for _, want := range []string{`"level":"DEBUG"`, "KkAkhdMsgzn59SM8A89WgKwekxLZY", "hYy9pRFVxpDsO1FB05SunFWUe9JZY"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
}
