package normalizer

import (
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"example.com/pipeline/go-service/pb"
)

type razorpayEvent struct {
	Event     string `json:"event"`
	CreatedAt int64  `json:"created_at"`
	Payload   struct {
		Payment struct {
			Entity struct {
				ID        string `json:"id"`
				Amount    int64  `json:"amount"`
				Currency  string `json:"currency"`
				Email     string `json:"email"`
				CreatedAt int64  `json:"created_at"`
			} `json:"entity"`
		} `json:"payment"`
	} `json:"payload"`
}

var razorpayStatus = map[string]pb.PaymentStatus{
	"payment.authorized": pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
	"payment.captured":   pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
	"payment.failed":     pb.PaymentStatus_PAYMENT_STATUS_FAILED,
}

// Razorpay normalizes a Razorpay payment.* webhook. Amounts are integers in
// paise (the minor unit). Razorpay sends its event id in the
// x-razorpay-event-id header, not in the body, so the body alone names an
// event by its payment and event type.
func Razorpay(raw []byte) (*pb.Payment, error) {
	var ev razorpayEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("razorpay: %w: %v", ErrMalformed, err)
	}
	status, ok := razorpayStatus[ev.Event]
	if !ok {
		return nil, fmt.Errorf("razorpay event %q: %w", ev.Event, ErrNotAPayment)
	}
	pay := ev.Payload.Payment.Entity
	switch {
	case pay.ID == "":
		return nil, fmt.Errorf("razorpay %s: %w: payment id missing", ev.Event, ErrMalformed)
	case pay.Amount < 0:
		return nil, fmt.Errorf("razorpay %s: %w: negative amount %d", pay.ID, ErrMalformed, pay.Amount)
	case len(pay.Currency) != 3:
		return nil, fmt.Errorf("razorpay %s: %w: currency %q", pay.ID, ErrMalformed, pay.Currency)
	}
	return &pb.Payment{
		Id:            pay.ID,
		Gateway:       pb.Gateway_GATEWAY_RAZORPAY,
		Amount:        &pb.Money{AmountMinor: pay.Amount, Currency: strings.ToUpper(pay.Currency)},
		Status:        status,
		CreatedAt:     &timestamppb.Timestamp{Seconds: pay.CreatedAt},
		UpdatedAt:     &timestamppb.Timestamp{Seconds: ev.CreatedAt},
		CustomerEmail: pay.Email,
		EventId:       pay.ID + "/" + ev.Event,
	}, nil
}
