package normalizer

import (
	"testing"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestRazorpay(t *testing.T) {
	// Razorpay sends its event id in a header, not the body: EventId stays
	// empty here and Normalize stamps a record hash (see TestNormalize).
	runFixtures(t, Razorpay{}, "razorpay", []fixtureCase{
		{file: "payment.authorized.json", want: []*pb.Payment{{
			Id:            "pay_Rk2mA1uthZ9xQ1",
			Amount:        fixtureMoney(49900, "INR"),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:16:40Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T16:16:45Z"),
			CustomerEmail: "priya.sharma@example.in",
			Method:        "card",
			Metadata:      map[string]string{"order_ref": "A-1001"},
		}}},
		{file: "payment.captured.json", want: []*pb.Payment{{
			Id:            "pay_Rk2mCapt0bJ7y2",
			Amount:        fixtureMoney(125000, "INR"),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:20:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T16:20:03Z"),
			CustomerEmail: "priya.sharma@example.in",
			Method:        "upi",
			Metadata:      map[string]string{"order_ref": "A-1002", "plan": "gold"},
		}}},
		{file: "payment.captured.notes_list.json", want: []*pb.Payment{{
			Id:            "pay_Rk2mNbank3Kq4z",
			Amount:        fixtureMoney(250050, "INR"),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:30:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T16:30:06Z"),
			CustomerEmail: "arjun.mehta@example.in",
			Method:        "netbanking", // sent as "NetBanking": lower-cased
			// notes: [] is Razorpay's empty notes: no metadata
		}}},
		{file: "payment.captured.notes_merchant_id.json", want: []*pb.Payment{{
			Id:            "pay_Rk2mNote5Mx8v9",
			Amount:        fixtureMoney(125000, "INR"),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:20:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T16:20:03Z"),
			CustomerEmail: "priya.sharma@example.in",
			Method:        "upi",
			Metadata:      map[string]string{"merchant_id": "M-4471", "order_ref": "A-1009"},
		}}},
		{file: "payment.failed.json", want: []*pb.Payment{{
			Id:            "pay_Rk2mFail4Lr5w6",
			Amount:        fixtureMoney(79900, "INR"),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_FAILED,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:40:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-24T16:40:12Z"),
			CustomerEmail: "rahul.verma@example.in",
			Method:        "card",
			FailureReason: "The customer's bank declined this payment.",
			Metadata:      map[string]string{"order_ref": "A-1004"},
		}}},
		{file: "refund.processed.full.json", want: []*pb.Payment{{
			Id:            "pay_Rk2mCapt0bJ7y2",
			Amount:        fixtureMoney(125000, "INR"),
			Refunded:      fixtureMoney(125000, "INR"),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_REFUNDED,
			CreatedAt:     fixtureTime(t, "2025-11-24T16:20:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-25T11:00:09Z"),
			CustomerEmail: "priya.sharma@example.in",
			Method:        "upi",
			Metadata:      map[string]string{"order_ref": "A-1002", "plan": "gold"},
		}}},
		{file: "refund.processed.partial.json", want: []*pb.Payment{{
			Id:            "pay_Rk2mNbank3Kq4z",
			Amount:        fixtureMoney(250050, "INR"),
			Refunded:      fixtureMoney(50050, "INR"),
			Status:        pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED, // payment still "captured"; refund_status says partial
			CreatedAt:     fixtureTime(t, "2025-11-24T16:30:00Z"),
			UpdatedAt:     fixtureTime(t, "2025-11-25T12:00:08Z"),
			CustomerEmail: "arjun.mehta@example.in",
			Method:        "netbanking",
		}}},
		{file: "order.paid.json", ignored: true},
		{file: "payment.unknown.json", wantCode: CodeUnsupportedEvent},
		{file: "missing.currency.json", wantCode: CodeMissingField},
		{file: "malformed.truncated.json", wantCode: CodeMalformedJSON},
	})
}

// TestRazorpayAmountAsString: Razorpay amounts are JSON integers; "100" in
// quotes is a field of the wrong type and must be rejected, not read as 100.
func TestRazorpayAmountAsString(t *testing.T) {
	got, err := Razorpay{}.Normalize(readFixture(t, "razorpay", "invalid.amount_string.json"))
	if code := CodeOf(err); code != CodeInvalidField {
		t.Fatalf("want DLQ code %q, got code %q (err %v, payments %v)", CodeInvalidField, code, err, got)
	}
	// Lesson 03 quotes this reason.
	if want := "field payload.payment.entity.amount has the wrong type: want a number, got string"; err.Error() != want {
		t.Errorf("reason = %q; want %q", err.Error(), want)
	}
}

func FuzzRazorpay(f *testing.F) { fuzzNormalizer(f, Razorpay{}, "razorpay") }
