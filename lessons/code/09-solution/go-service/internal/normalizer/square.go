package normalizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"example.com/pipeline/go-service/pb"
)

type squareMoney struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type squareEvent struct {
	Type    string `json:"type"`
	EventID string `json:"event_id"`
	Data    struct {
		Object struct {
			Payment *struct {
				ID          string       `json:"id"`
				CreatedAt   string       `json:"created_at"`
				UpdatedAt   string       `json:"updated_at"`
				AmountMoney *squareMoney `json:"amount_money"`
				TotalMoney  *squareMoney `json:"total_money"`
				Status      string       `json:"status"`
				BuyerEmail  string       `json:"buyer_email_address"`
			} `json:"payment"`
		} `json:"object"`
	} `json:"data"`
}

// squareStatus maps the payment's own status field: Square sends
// payment.created and payment.updated, and the status says what changed.
var squareStatus = map[string]pb.PaymentStatus{
	"PENDING":   pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"APPROVED":  pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
	"COMPLETED": pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
	"CANCELED":  pb.PaymentStatus_PAYMENT_STATUS_CANCELED,
	"FAILED":    pb.PaymentStatus_PAYMENT_STATUS_FAILED,
}

// Square normalizes a Square payment.created or payment.updated event.
// Amounts are integers in the minor unit; the charged amount is total_money
// (tip included), or amount_money when there is no total. Times are RFC 3339
// text, not Unix seconds.
func Square(raw []byte) (*pb.Payment, error) {
	var ev squareEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("square: %w: %v", ErrMalformed, err)
	}
	if ev.Type != "payment.created" && ev.Type != "payment.updated" {
		return nil, fmt.Errorf("square event %s of type %q: %w", ev.EventID, ev.Type, ErrNotAPayment)
	}
	sp := ev.Data.Object.Payment
	if sp == nil || ev.EventID == "" || sp.ID == "" {
		return nil, fmt.Errorf("square: %w: event id, payment or payment id missing", ErrMalformed)
	}
	money := sp.TotalMoney
	if money == nil {
		money = sp.AmountMoney
	}
	status, ok := squareStatus[sp.Status]
	switch {
	case !ok:
		return nil, fmt.Errorf("square payment %s: %w: status %q", sp.ID, ErrMalformed, sp.Status)
	case money == nil:
		return nil, fmt.Errorf("square payment %s: %w: no amount_money", sp.ID, ErrMalformed)
	case money.Amount < 0:
		return nil, fmt.Errorf("square payment %s: %w: negative amount %d", sp.ID, ErrMalformed, money.Amount)
	case len(money.Currency) != 3 || strings.ToUpper(money.Currency) != money.Currency:
		return nil, fmt.Errorf("square payment %s: %w: currency %q", sp.ID, ErrMalformed, money.Currency)
	}
	created, err := squareTime(sp.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("square payment %s: created_at: %w", sp.ID, err)
	}
	updated, err := squareTime(sp.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("square payment %s: updated_at: %w", sp.ID, err)
	}
	return &pb.Payment{
		Id:            sp.ID,
		Gateway:       pb.Gateway_GATEWAY_SQUARE,
		Amount:        &pb.Money{AmountMinor: money.Amount, Currency: money.Currency},
		Status:        status,
		CreatedAt:     created,
		UpdatedAt:     updated,
		CustomerEmail: sp.BuyerEmail,
		EventId:       ev.EventID,
	}, nil
}

// squareTime parses Square's RFC 3339 times ("2026-03-02T16:41:06.877Z").
func squareTime(text string) (*timestamppb.Timestamp, error) {
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return timestamppb.New(t), nil
}
