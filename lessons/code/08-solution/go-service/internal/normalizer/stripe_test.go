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

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "stripe", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestStripe(t *testing.T) {
	tests := []struct {
		fixture string
		want    *pb.Payment
	}{
		{"payment_intent.succeeded.json", &pb.Payment{
			Id:            "pi_3Pq2",
			Gateway:       pb.Gateway_GATEWAY_STRIPE,
			Amount:        &pb.Money{AmountMinor: 1234, Currency: "USD"},
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     &timestamppb.Timestamp{Seconds: 1767225600},
			UpdatedAt:     &timestamppb.Timestamp{Seconds: 1767225660},
			CustomerEmail: "ada@example.com",
			EventId:       "evt_1Pq2",
		}},
		{"payment_intent.payment_failed.json", &pb.Payment{
			Id:        "pi_3Pq3",
			Gateway:   pb.Gateway_GATEWAY_STRIPE,
			Amount:    &pb.Money{AmountMinor: 1500, Currency: "JPY"},
			Status:    pb.PaymentStatus_PAYMENT_STATUS_FAILED,
			CreatedAt: &timestamppb.Timestamp{Seconds: 1767225700},
			UpdatedAt: &timestamppb.Timestamp{Seconds: 1767225720},
			EventId:   "evt_1Pq3",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := Stripe(fixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestStripeRejects(t *testing.T) {
	tests := []struct {
		fixture string
		want    error
	}{
		{"customer.created.json", ErrNotAPayment},
		{"malformed.truncated.json", ErrMalformed},
		{"invalid.amount_negative.json", ErrMalformed},
	}
	for _, tt := range tests {
		_, err := Stripe(fixture(t, tt.fixture))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.fixture, err, tt.want)
		}
	}
}
