package normalizer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"example.com/pipeline/go-service/pb"
)

func razorpayFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "razorpay", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRazorpay(t *testing.T) {
	tests := []struct {
		fixture string
		want    *pb.Payment
	}{
		{"payment.captured.json", &pb.Payment{
			Id:            "pay_DESlfW9H8K9uqM",
			Gateway:       pb.Gateway_GATEWAY_RAZORPAY,
			Amount:        &pb.Money{AmountMinor: 50000, Currency: "INR"},
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     &timestamppb.Timestamp{Seconds: 1767225600},
			UpdatedAt:     &timestamppb.Timestamp{Seconds: 1767225660},
			CustomerEmail: "asha@example.com",
			EventId:       "pay_DESlfW9H8K9uqM/payment.captured",
		}},
		{"payment.failed.json", &pb.Payment{
			Id:        "pay_DESlfW9H8K9uqN",
			Gateway:   pb.Gateway_GATEWAY_RAZORPAY,
			Amount:    &pb.Money{AmountMinor: 120000, Currency: "INR"},
			Status:    pb.PaymentStatus_PAYMENT_STATUS_FAILED,
			CreatedAt: &timestamppb.Timestamp{Seconds: 1767225700},
			UpdatedAt: &timestamppb.Timestamp{Seconds: 1767225720},
			EventId:   "pay_DESlfW9H8K9uqN/payment.failed",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := Razorpay(razorpayFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestRazorpayRejects(t *testing.T) {
	for fixture, want := range map[string]error{
		"order.paid.json":          ErrNotAPayment,
		"malformed.truncated.json": ErrMalformed,
	} {
		if _, err := Razorpay(razorpayFixture(t, fixture)); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", fixture, err, want)
		}
	}
}
