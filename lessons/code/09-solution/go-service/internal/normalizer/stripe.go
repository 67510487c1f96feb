// Package normalizer turns each gateway's webhook JSON into one canonical
// pb.Payment.
package normalizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"example.com/pipeline/go-service/pb"
)

var (
	// ErrMalformed: the record can never become a Payment (bad JSON, a
	// missing id, an impossible amount). It belongs in a dead-letter topic.
	ErrMalformed = errors.New("malformed record")
	// ErrNotAPayment: a well-formed event that is not about a payment
	// (customer.created, …). It is skipped, not an error to report.
	ErrNotAPayment = errors.New("not a payment event")
)

type stripeEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object struct {
			ID           string  `json:"id"`
			Amount       int64   `json:"amount"`
			Currency     string  `json:"currency"`
			Created      int64   `json:"created"`
			ReceiptEmail *string `json:"receipt_email"`
		} `json:"object"`
	} `json:"data"`
}

// stripeStatus maps the event type, which says what just happened, to a
// canonical status.
var stripeStatus = map[string]pb.PaymentStatus{
	"payment_intent.created":                   pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"payment_intent.processing":                pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"payment_intent.amount_capturable_updated": pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
	"payment_intent.succeeded":                 pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
	"payment_intent.payment_failed":            pb.PaymentStatus_PAYMENT_STATUS_FAILED,
	"payment_intent.canceled":                  pb.PaymentStatus_PAYMENT_STATUS_CANCELED,
}

// Stripe normalizes a Stripe event whose object is a PaymentIntent. Amounts
// are already integers in the minor unit; the currency is lower case.
func Stripe(raw []byte) (*pb.Payment, error) {
	var ev stripeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("stripe: %w: %v", ErrMalformed, err)
	}
	status, ok := stripeStatus[ev.Type]
	if !ok {
		return nil, fmt.Errorf("stripe event %s of type %q: %w", ev.ID, ev.Type, ErrNotAPayment)
	}
	pi := ev.Data.Object
	switch {
	case ev.ID == "" || pi.ID == "":
		return nil, fmt.Errorf("stripe: %w: event or payment id missing", ErrMalformed)
	case pi.Amount < 0:
		return nil, fmt.Errorf("stripe event %s: %w: negative amount %d", ev.ID, ErrMalformed, pi.Amount)
	case len(pi.Currency) != 3:
		return nil, fmt.Errorf("stripe event %s: %w: currency %q", ev.ID, ErrMalformed, pi.Currency)
	}
	p := &pb.Payment{
		Id:        pi.ID,
		Gateway:   pb.Gateway_GATEWAY_STRIPE,
		Amount:    &pb.Money{AmountMinor: pi.Amount, Currency: strings.ToUpper(pi.Currency)},
		Status:    status,
		CreatedAt: &timestamppb.Timestamp{Seconds: pi.Created},
		UpdatedAt: &timestamppb.Timestamp{Seconds: ev.Created},
		EventId:   ev.ID,
	}
	if pi.ReceiptEmail != nil {
		p.CustomerEmail = *pi.ReceiptEmail
	}
	return p, nil
}
