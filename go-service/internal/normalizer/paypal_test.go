package normalizer

import (
	"fmt"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestPayPal(t *testing.T) {
	const (
		pending    = pb.PaymentStatus_PAYMENT_STATUS_PENDING
		authorized = pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
		completed  = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
		failed     = pb.PaymentStatus_PAYMENT_STATUS_FAILED
		canceled   = pb.PaymentStatus_PAYMENT_STATUS_CANCELED
		refunded   = pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
		partially  = pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
	)
	runFixtures(t, PayPal{}, "paypal", []fixtureCase{
		{file: "capture_completed.json", want: []*pb.Payment{{
			Id:        "6TC49175WB218830K",
			Amount:    &pb.Money{AmountMinor: 12995, Currency: "USD"},
			Status:    completed,
			CreatedAt: fixtureTime(t, "2026-03-14T09:26:49Z"),
			UpdatedAt: fixtureTime(t, "2026-03-14T09:26:53.589Z"),
			Method:    "paypal",
			EventId:   "WH-4LK27180TX392615B-1RM60343DS5082942",
			Metadata:  map[string]string{"custom_id": "cart-88120", "invoice_id": "INV-2026-0419", "order_id": "3YB20657VR1145239"},
		}}},
		{file: "capture_pending.json", want: []*pb.Payment{{
			Id:        "9JD55820HF173604R",
			Amount:    &pb.Money{AmountMinor: 4250, Currency: "GBP"},
			Status:    pending,
			CreatedAt: fixtureTime(t, "2026-03-15T16:02:07Z"),
			UpdatedAt: fixtureTime(t, "2026-03-15T16:02:11.204Z"), // +01:00 in the event, UTC here
			Method:    "paypal",
			EventId:   "WH-0PA81736BN440215S-7XE18221KJ6930113",
			Metadata:  map[string]string{"custom_id": "basket-5531", "order_id": "8KT61102MX2297740", "status_reason": "PENDING_REVIEW"},
		}}},
		{file: "capture_denied.json", want: []*pb.Payment{{
			Id:            "1WA87306EC522915N",
			Amount:        &pb.Money{AmountMinor: 31000, Currency: "EUR"},
			Status:        failed,
			CreatedAt:     fixtureTime(t, "2026-03-16T08:41:22Z"),
			UpdatedAt:     fixtureTime(t, "2026-03-16T08:41:30.017Z"),
			Method:        "paypal",
			FailureReason: "processor response code 0500",
			EventId:       "WH-2MC09358RS774180U-6FN47790CV1628402",
			Metadata:      map[string]string{"invoice_id": "RE-77140", "order_id": "5SW43988LA0067315"},
		}}},
		// PayPal's own refund event: the capture's amount is not in it.
		{file: "capture_refunded.json", want: []*pb.Payment{{
			Id:        "6TC49175WB218830K",
			Amount:    &pb.Money{AmountMinor: 4500, Currency: "USD"},
			Refunded:  &pb.Money{AmountMinor: 4500, Currency: "USD"},
			Status:    partially,
			UpdatedAt: fixtureTime(t, "2026-03-20T13:05:44.712Z"),
			Method:    "paypal",
			EventId:   "WH-7HV33410PD981052M-0TS29585GY4471830",
			Metadata:  map[string]string{"invoice_id": "INV-2026-0419", "refund_id": "2FR70054JQ338126D", "captured_amount_unknown": "true"},
		}}},
		{file: "capture_refunded_with_capture.json", want: []*pb.Payment{{
			Id:        "9JD55820HF173604R",
			Amount:    &pb.Money{AmountMinor: 4250, Currency: "GBP"},
			Refunded:  &pb.Money{AmountMinor: 4250, Currency: "GBP"},
			Status:    refunded,
			CreatedAt: fixtureTime(t, "2026-03-15T16:02:07Z"),
			UpdatedAt: fixtureTime(t, "2026-03-23T15:51:19.047Z"),
			Method:    "paypal",
			EventId:   "WH-6EN51937KU240683Y-2VA94462RC1078315",
			Metadata:  map[string]string{"custom_id": "basket-5531", "order_id": "8KT61102MX2297740", "refund_id": "8UJ02716SK459930B"},
		}}},
		{file: "capture_partially_refunded_with_capture.json", want: []*pb.Payment{{
			Id:        "6TC49175WB218830K",
			Amount:    &pb.Money{AmountMinor: 12995, Currency: "USD"},
			Refunded:  &pb.Money{AmountMinor: 6000, Currency: "USD"},
			Status:    partially,
			CreatedAt: fixtureTime(t, "2026-03-14T09:26:49Z"),
			UpdatedAt: fixtureTime(t, "2026-03-24T10:12:40.53Z"),
			Method:    "paypal",
			EventId:   "WH-1CU80423NJ667591T-5MR32070EA9984436",
			Metadata:  map[string]string{"custom_id": "cart-88120", "invoice_id": "INV-2026-0419", "order_id": "3YB20657VR1145239", "refund_id": "6LB95381WE024417P"},
		}}},
		{file: "authorization_created.json", want: []*pb.Payment{{
			Id:        "4PX90218TN665307G",
			Amount:    &pb.Money{AmountMinor: 8490, Currency: "EUR"},
			Status:    authorized,
			CreatedAt: fixtureTime(t, "2026-03-17T22:14:05Z"),
			UpdatedAt: fixtureTime(t, "2026-03-17T22:14:09.356Z"),
			Method:    "paypal",
			EventId:   "WH-5RG14907MA206633W-3DJ76024LP8819571",
			Metadata:  map[string]string{"custom_id": "booking-20931", "order_id": "0CE71544UK3390618"},
		}}},
		{file: "authorization_voided.json", want: []*pb.Payment{{
			Id:        "4PX90218TN665307G",
			Amount:    &pb.Money{AmountMinor: 8490, Currency: "EUR"},
			Status:    canceled,
			CreatedAt: fixtureTime(t, "2026-03-17T22:14:05Z"),
			UpdatedAt: fixtureTime(t, "2026-03-18T07:30:02.881Z"),
			Method:    "paypal",
			EventId:   "WH-8BT62251XC017494H-9QA33680NE2765108",
			Metadata:  map[string]string{"custom_id": "booking-20931", "order_id": "0CE71544UK3390618"},
		}}},
		{file: "v1_authorization_created.json", want: []*pb.Payment{{
			Id:        "2SQ04485YX917722A",
			Amount:    &pb.Money{AmountMinor: 6400, Currency: "USD"},
			Status:    authorized,
			CreatedAt: fixtureTime(t, "2026-03-25T19:08:51Z"),
			UpdatedAt: fixtureTime(t, "2026-03-25T19:08:55.661Z"),
			Method:    "paypal",
			EventId:   "WH-9NC40512EP738210V-1KR67748ZG0395536",
		}}},
		{file: "jpy_capture_completed.json", want: []*pb.Payment{{
			Id:        "0NU24411VL837256T",
			Amount:    &pb.Money{AmountMinor: 5000, Currency: "JPY"},
			Status:    completed,
			CreatedAt: fixtureTime(t, "2026-03-21T03:18:21Z"),
			UpdatedAt: fixtureTime(t, "2026-03-21T03:18:27.12Z"),
			Method:    "paypal",
			EventId:   "WH-3QW58172FK066210J-5PB90416UD7733284",
			Metadata:  map[string]string{"custom_id": "jp-order-1187", "order_id": "7AK39960HD4401258"},
		}}},
		{file: "kwd_capture_completed.json", want: []*pb.Payment{{
			Id:        "5EH13098RB640072W",
			Amount:    &pb.Money{AmountMinor: 12345, Currency: "KWD"},
			Status:    completed,
			CreatedAt: fixtureTime(t, "2026-03-22T11:40:01Z"),
			UpdatedAt: fixtureTime(t, "2026-03-22T11:40:05.004Z"),
			Method:    "paypal",
			EventId:   "WH-6YD70325GM118947A-2LC85519QW3306627",
			// The capture of an authorization links "up" to it.
			Metadata: map[string]string{"custom_id": "kw-7781", "authorization_id": "9GV66017PC2230851"},
		}}},
		{file: "too_many_decimals.json", wantCode: CodeInvalidAmount},
		{file: "negative_amount.json", wantCode: CodeInvalidAmount},
		{file: "amount_not_a_string.json", wantCode: CodeInvalidField},
		{file: "missing_id.json", wantCode: CodeMissingField},
		{file: "missing_event_type.json", wantCode: CodeMissingField},
		{file: "unknown_currency.json", wantCode: CodeInvalidCurrency},
		{file: "bad_timestamp.json", wantCode: CodeInvalidTime},
		{file: "truncated.json", wantCode: CodeMalformedJSON},
		{file: "refund_missing_up_link.json", wantCode: CodeMissingField},
		{file: "refund_total_below_refund.json", wantCode: CodeInvalidAmount},
		{file: "refund_capture_mismatch.json", wantCode: CodeInvalidField},
		{file: "refund_capture_currency_mismatch.json", wantCode: CodeInvalidCurrency},
		{file: "unknown_payment_event.json", wantCode: CodeUnsupportedEvent},
		{file: "refund_failed.json", ignored: true},
		{file: "unrelated_event.json", ignored: true},
		{file: "checkout_order_approved.json", ignored: true},
		{file: "payouts_batch_success.json", ignored: true},
	})
}

// Amounts go through the same path as a real event, one currency exponent at a time.
func TestPayPalDecimalAmounts(t *testing.T) {
	for _, tc := range []struct {
		value, currency string
		want            int64
		code            Code
	}{
		{"50.00", "USD", 5000, ""},
		{"50", "USD", 5000, ""},
		{"50.5", "USD", 5050, ""},
		{"0.01", "USD", 1, ""},
		{"0.00", "EUR", 0, ""},
		{"5000", "JPY", 5000, ""},
		{"1.250", "KWD", 1250, ""},
		{"1.25", "kwd", 1250, ""},
		{"92233720368547758.07", "USD", 9223372036854775807, ""},
		{"92233720368547758.08", "USD", 0, CodeInvalidAmount},
		{"5000.5", "JPY", 0, CodeInvalidAmount},
		{"10.005", "USD", 0, CodeInvalidAmount},
		{"1.2345", "KWD", 0, CodeInvalidAmount},
		{"-1.00", "USD", 0, CodeInvalidAmount},
		{"+1.00", "USD", 0, CodeInvalidAmount},
		{"1e2", "USD", 0, CodeInvalidAmount},
		{"1,00", "EUR", 0, CodeInvalidAmount},
		{" 1.00", "USD", 0, CodeInvalidAmount},
		{".50", "USD", 0, CodeInvalidAmount},
		{"5.", "USD", 0, CodeInvalidAmount},
		{"", "USD", 0, CodeMissingField},
		{"1.00", "", 0, CodeMissingField},
		{"1.00", "ABC", 0, CodeInvalidCurrency},
	} {
		t.Run(tc.value+"_"+tc.currency, func(t *testing.T) {
			doc := fmt.Sprintf(`{"id":"WH-TEST","create_time":"2026-01-02T03:04:05Z","resource_type":"capture",
				"event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"0AB12345CD6789012",
				"status":"COMPLETED","amount":{"currency_code":%q,"value":%q}}}`, tc.currency, tc.value)
			got, err := PayPal{}.Normalize([]byte(doc))
			if tc.code != "" {
				if CodeOf(err) != tc.code {
					t.Fatalf("want code %s, got %v (payments %v)", tc.code, err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m := got[0].GetAmount(); m.GetAmountMinor() != tc.want {
				t.Fatalf("amount %v, want %d", m, tc.want)
			}
		})
	}
}

func FuzzPayPal(f *testing.F) { fuzzNormalizer(f, PayPal{}, "paypal") }
