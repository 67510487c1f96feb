package normalizer

import (
	"strings"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestAdyen(t *testing.T) {
	const (
		authorized = pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
		completed  = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
		failed     = pb.PaymentStatus_PAYMENT_STATUS_FAILED
		canceled   = pb.PaymentStatus_PAYMENT_STATUS_CANCELED
		refunded   = pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
		partially  = pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
	)
	// The iDEAL authorisation and the amex capture are in batch_three.json and
	// (first two items) in batch_one_invalid.json.
	idealAuth := func() *pb.Payment {
		return &pb.Payment{
			Id:        "H3J6K9L2M5N8P1Q4",
			Amount:    fixtureMoney(8990, "EUR"),
			Status:    authorized,
			UpdatedAt: fixtureTime(t, "2026-11-25T11:00:00Z"),
			Method:    "ideal",
			EventId:   "AUTHORISATION:H3J6K9L2M5N8P1Q4:true",
			Metadata:  map[string]string{"merchantReference": "NW-ORDER-100501", "shopperReference": "shopper-88812"},
		}
	}
	runFixtures(t, Adyen{}, "adyen", []fixtureCase{
		{file: "authorisation_success.json", want: []*pb.Payment{{
			Id:            "JX7K2M9QW4B8N5TZ",
			Amount:        fixtureMoney(12500, "EUR"),
			Status:        authorized,
			UpdatedAt:     fixtureTime(t, "2026-11-25T09:00:00Z"),
			CustomerEmail: "lena.vogel@example.org",
			Method:        "card",
			EventId:       "AUTHORISATION:JX7K2M9QW4B8N5TZ:true",
			// hmacSignature is dropped, shopperEmail promoted to customer_email.
			Metadata: map[string]string{
				"merchantReference": "NW-ORDER-100481",
				"authCode":          "472913",
				"cardSummary":       "4242",
				"expiryDate":        "08/2029",
				"shopperReference":  "shopper-20931",
			},
		}}},
		{file: "authorisation_refused.json", want: []*pb.Payment{{
			Id:            "R3D8FQ6L1M0PZC2V",
			Amount:        fixtureMoney(4999, "USD"),
			Status:        failed,
			UpdatedAt:     fixtureTime(t, "2026-11-25T13:15:42Z"),
			Method:        "card",
			FailureReason: "CVC Declined",
			EventId:       "AUTHORISATION:R3D8FQ6L1M0PZC2V:false",
			Metadata: map[string]string{
				"merchantReference": "NW-ORDER-100482",
				"cardSummary":       "5454",
				"refusalReasonRaw":  "05 : Do not honour",
			},
		}}},
		{file: "capture.json", want: []*pb.Payment{{
			Id:        "JX7K2M9QW4B8N5TZ", // originalReference: the payment, not the capture
			Amount:    fixtureMoney(12500, "EUR"),
			Status:    completed,
			UpdatedAt: fixtureTime(t, "2026-11-25T10:30:05Z"),
			Method:    "card",
			EventId:   "CAPTURE:C9T4WZ1K7N3QX6HB:true",
			Metadata:  map[string]string{"merchantReference": "NW-ORDER-100481"},
		}}},
		{file: "capture_failed.json", want: []*pb.Payment{{
			Id:            "A5H2N8R3T6W9Y1BD",
			Amount:        fixtureMoney(7800, "GBP"),
			Status:        failed,
			UpdatedAt:     fixtureTime(t, "2026-11-26T02:10:00Z"),
			Method:        "card",
			FailureReason: "Authorisation expired before the capture was booked",
			EventId:       "CAPTURE_FAILED:F2K8M4QX9T1WZ7LC:true",
			Metadata:      map[string]string{"merchantReference": "NW-ORDER-100377"},
		}}},
		{file: "cancellation.json", want: []*pb.Payment{{
			Id:        "B7D3F9H1K5M2P8RT",
			Amount:    fixtureMoney(2350, "GBP"),
			Status:    canceled,
			UpdatedAt: fixtureTime(t, "2026-11-25T16:45:00Z"),
			Method:    "card",
			EventId:   "CANCELLATION:X1Q7L3V9M5Z2K8PD:true",
			Metadata:  map[string]string{"merchantReference": "NW-ORDER-100455"},
		}}},
		{file: "cancel_or_refund.json", want: []*pb.Payment{{
			Id:        "U3I6O9P2A5S8D1F4",
			Amount:    fixtureMoney(1995, "EUR"),
			Status:    canceled,
			UpdatedAt: fixtureTime(t, "2026-11-25T16:20:10Z"),
			Method:    "card",
			EventId:   "CANCEL_OR_REFUND:L4K7J0H3G6F9D2S5:true",
			Metadata:  map[string]string{"merchantReference": "NW-POS-5521", "modification.action": "cancel"},
		}}},
		{file: "refund_full.json", want: []*pb.Payment{{
			Id:        "JX7K2M9QW4B8N5TZ",
			Amount:    fixtureMoney(12500, "EUR"),
			Status:    refunded,
			UpdatedAt: fixtureTime(t, "2026-11-27T08:00:00Z"),
			Method:    "card",
			Refunded:  fixtureMoney(12500, "EUR"),
			EventId:   "REFUND:Z4N8B2V6C1X9M3LQ:true",
			Metadata:  map[string]string{"merchantReference": "NW-ORDER-100481"},
		}}},
		{file: "refund_partial.json", want: []*pb.Payment{{
			Id:        "K2L5M8N1P4Q7R0S3",
			Amount:    fixtureMoney(10000, "USD"), // additionalData.originalAmountValue, currency of the item
			Status:    partially,
			UpdatedAt: fixtureTime(t, "2026-11-26T06:05:31Z"),
			Method:    "card",
			Refunded:  fixtureMoney(2500, "USD"),
			EventId:   "REFUND:P6W2R8T4Y1U9I3OK:true",
			Metadata:  map[string]string{"merchantReference": "NW-ORDER-100490"},
		}}},
		{file: "refund_no_original.json", want: []*pb.Payment{{
			// No original amount: the refund stands for the whole of what is known.
			Id:        "M1N2B3V4C5X6Z7L8",
			Amount:    fixtureMoney(45000, "SEK"),
			Status:    refunded,
			UpdatedAt: fixtureTime(t, "2026-11-25T09:10:10Z"),
			Method:    "klarna",
			Refunded:  fixtureMoney(45000, "SEK"),
			EventId:   "REFUND:Q9W8E7R6T5Y4U3I2:true",
			Metadata:  map[string]string{"merchantReference": "NW-SE-3310"},
		}}},
		{file: "batch_three.json", want: []*pb.Payment{
			idealAuth(),
			{
				Id:        "D4F7G1H5J8K2L6Z3",
				Amount:    fixtureMoney(15000, "USD"),
				Status:    completed,
				UpdatedAt: fixtureTime(t, "2026-11-25T11:01:02Z"),
				Method:    "card",
				EventId:   "CAPTURE:T7Y2U5I8O1P4A6S9:true",
				Metadata:  map[string]string{"merchantReference": "NW-ORDER-100470"},
			},
			{
				Id:        "E8R2T6Y9U3I7O1P5",
				Amount:    fixtureMoney(4000, "GBP"),
				Status:    partially,
				UpdatedAt: fixtureTime(t, "2026-11-25T12:02:03Z"),
				Method:    "card",
				Refunded:  fixtureMoney(1000, "GBP"),
				EventId:   "REFUND:V5B8N1M4Q7W0E3R6:true",
				Metadata:  map[string]string{"merchantReference": "NW-ORDER-100433"},
			},
		}},
		{file: "batch_with_ignored.json", want: []*pb.Payment{{
			// The REPORT_AVAILABLE item before it is left out.
			Id:        "B2N5M8Q1W4E7R0T3",
			Amount:    fixtureMoney(4200, "CHF"),
			Status:    authorized,
			UpdatedAt: fixtureTime(t, "2026-11-25T08:45:00Z"),
			Method:    "wallet",
			EventId:   "AUTHORISATION:B2N5M8Q1W4E7R0T3:true",
			Metadata:  map[string]string{"merchantReference": "NW-CH-2207", "paymentMethodVariant": "googlepay"},
		}}},
		{file: "jpy.json", want: []*pb.Payment{{
			Id:        "N6M3B9V2C8X5Z1LA",
			Amount:    fixtureMoney(15800, "JPY"), // ¥15,800: the yen has no minor unit
			Status:    authorized,
			UpdatedAt: fixtureTime(t, "2026-11-25T09:30:00Z"),
			Method:    "card",
			EventId:   "AUTHORISATION:N6M3B9V2C8X5Z1LA:true",
			Metadata:  map[string]string{"merchantReference": "NW-JP-7781"},
		}}},
		{file: "kwd.json", want: []*pb.Payment{{
			Id:        "S8D7F6G5H4J3K2L1",
			Amount:    fixtureMoney(12345, "KWD"), // 12.345 KWD, in fils
			Status:    completed,
			UpdatedAt: fixtureTime(t, "2026-11-25T10:00:00Z"),
			Method:    "card",
			EventId:   "CAPTURE:W1E2R3T4Y5U6I7O8:true",
			Metadata:  map[string]string{"merchantReference": "NW-KW-0419"},
		}}},

		{file: "report_available.json", ignored: true},
		{file: "capture_refused.json", ignored: true},

		{file: "batch_one_invalid.json", wantCode: CodeInvalidAmount},
		{file: "success_not_string.json", wantCode: CodeInvalidField},
		{file: "success_unknown.json", wantCode: CodeInvalidField},
		{file: "negative_value.json", wantCode: CodeInvalidAmount},
		{file: "fractional_value.json", wantCode: CodeInvalidAmount},
		{file: "refund_exceeds_original.json", wantCode: CodeInvalidAmount},
		{file: "missing_psp_reference.json", wantCode: CodeMissingField},
		{file: "missing_original_reference.json", wantCode: CodeMissingField},
		{file: "empty_items.json", wantCode: CodeMissingField},
		{file: "unknown_currency.json", wantCode: CodeInvalidCurrency},
		{file: "bad_event_date.json", wantCode: CodeInvalidTime},
		{file: "additional_data_not_object.json", wantCode: CodeInvalidField},
		{file: "truncated.json", wantCode: CodeMalformedJSON},
		{file: "unknown_event_code.json", wantCode: CodeUnsupportedEvent},
	})
}

// Through the package entry point, a batch stamps every Payment, keeps the
// items' own event ids, and an error names the item that spoiled the batch.
func TestAdyenBatchThroughNormalize(t *testing.T) {
	rec := Record{Topic: "payments.raw.adyen", Partition: 2, Offset: 41, Value: readFixture(t, "adyen", "batch_three.json")}
	payments, err := Normalize(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(payments) != 3 {
		t.Fatalf("want 3 payments, got %d", len(payments))
	}
	for _, p := range payments {
		if p.GetGateway() != pb.Gateway_GATEWAY_ADYEN || p.GetSource().GetOffset() != 41 || p.GetEventId() == "" {
			t.Errorf("not stamped: %v", p)
		}
	}
	rec.Value = readFixture(t, "adyen", "batch_one_invalid.json")
	_, err = Normalize(rec)
	if CodeOf(err) != CodeInvalidAmount {
		t.Fatalf("want %s, got %v", CodeInvalidAmount, err)
	}
	if got := err.Error(); !strings.Contains(got, "notificationItems[2]") || !strings.Contains(got, "negative") {
		t.Errorf("error %q does not name the item", got)
	}
}

func FuzzAdyen(f *testing.F) { fuzzNormalizer(f, Adyen{}, "adyen") }
