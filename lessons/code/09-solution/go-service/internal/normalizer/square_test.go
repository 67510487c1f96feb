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

func squareFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "square", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSquare(t *testing.T) {
	tests := []struct {
		fixture string
		want    *pb.Payment
	}{
		{"payment.updated.completed.json", &pb.Payment{
			Id:            "tR7vQ2mXk9LpWc4NbH8sJd3FgZeY",
			Gateway:       pb.Gateway_GATEWAY_SQUARE,
			Amount:        &pb.Money{AmountMinor: 2999, Currency: "USD"}, // total_money: the tip included
			Status:        pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
			CreatedAt:     &timestamppb.Timestamp{Seconds: 1772469666, Nanos: 877000000},
			UpdatedAt:     &timestamppb.Timestamp{Seconds: 1772471131, Nanos: 118000000},
			CustomerEmail: "maya.okafor@example.com",
			EventId:       "c4b7e1d9-6a2f-4e38-b5c0-7d9e3a1f8b24",
		}},
		{"payment.updated.failed.json", &pb.Payment{
			Id:            "Hn2Wc6RkT9vLq3XpZ7mBd5JsFg8eY",
			Gateway:       pb.Gateway_GATEWAY_SQUARE,
			Amount:        &pb.Money{AmountMinor: 8450, Currency: "CAD"},
			Status:        pb.PaymentStatus_PAYMENT_STATUS_FAILED,
			CreatedAt:     &timestamppb.Timestamp{Seconds: 1772659081, Nanos: 90000000},
			UpdatedAt:     &timestamppb.Timestamp{Seconds: 1772659082, Nanos: 463000000},
			CustomerEmail: "liam.tremblay@example.ca",
			EventId:       "5e9a3c1b-7d40-4b2e-a6f8-0c1d9e2b4a73",
		}},
		{"payment.created.pending.json", &pb.Payment{
			Id:            "Bq5Zx8VtN2mKc7LwR4pHj9SdGf1Y",
			Gateway:       pb.Gateway_GATEWAY_SQUARE,
			Amount:        &pb.Money{AmountMinor: 120000, Currency: "USD"},
			Status:        pb.PaymentStatus_PAYMENT_STATUS_PENDING,
			CreatedAt:     &timestamppb.Timestamp{Seconds: 1772529164, Nanos: 301000000},
			UpdatedAt:     &timestamppb.Timestamp{Seconds: 1772529164, Nanos: 655000000},
			CustomerEmail: "accounts@northwind-events.example",
			EventId:       "a8d2e6f4-1b3c-4f7a-8e90-5c2d1b7a9f36",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := Square(squareFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestSquareRejects(t *testing.T) {
	tests := []struct {
		fixture string
		want    error
	}{
		{"refund.updated.json", ErrNotAPayment},
		{"malformed.truncated.json", ErrMalformed},
		{"invalid.amount_negative.json", ErrMalformed},
	}
	for _, tt := range tests {
		_, err := Square(squareFixture(t, tt.fixture))
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.fixture, err, tt.want)
		}
	}
}
