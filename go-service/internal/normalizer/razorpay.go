package normalizer

import (
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Razorpay normalizes Razorpay webhooks. The payment is always at
// payload.payment.entity (refund events carry it too); amounts are integers
// in paise (the currency's minor unit).
type Razorpay struct{}

func (Razorpay) Gateway() pb.Gateway { return pb.Gateway_GATEWAY_RAZORPAY }

type razorpayEvent struct {
	Entity    string `json:"entity"`
	Event     string `json:"event"`
	CreatedAt number `json:"created_at"`
	Payload   struct {
		Payment *struct {
			Entity razorpayPayment `json:"entity"`
		} `json:"payment"`
	} `json:"payload"`
}

type razorpayPayment struct {
	ID               string         `json:"id"`
	Amount           number         `json:"amount"`
	Currency         string         `json:"currency"`
	Status           string         `json:"status"`
	Method           string         `json:"method"`
	AmountRefunded   number         `json:"amount_refunded"`
	RefundStatus     *string        `json:"refund_status"`
	Email            *string        `json:"email"`
	Notes            jsontext.Value `json:"notes"`
	ErrorDescription *string        `json:"error_description"`
	ErrorReason      *string        `json:"error_reason"`
	CreatedAt        number         `json:"created_at"`
}

var razorpayHandled = map[string]bool{
	"payment.authorized": true,
	"payment.captured":   true,
	"payment.failed":     true,
	"refund.processed":   true,
}

var razorpayStatus = map[string]pb.PaymentStatus{
	"created":    pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"authorized": pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
	"captured":   pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
	"failed":     pb.PaymentStatus_PAYMENT_STATUS_FAILED,
	"refunded":   pb.PaymentStatus_PAYMENT_STATUS_REFUNDED,
}

func (Razorpay) Normalize(doc []byte) ([]*pb.Payment, error) {
	var ev razorpayEvent
	if err := decode(doc, &ev); err != nil {
		return nil, err
	}
	if !razorpayHandled[ev.Event] {
		// order.*, refund.created/failed, settlement.*, payment.dispute.*: no
		// change to a payment's state that the handled events don't carry.
		if ev.Event != "" && !strings.HasPrefix(ev.Event, "payment.") || strings.HasPrefix(ev.Event, "payment.dispute.") {
			return nil, ignored("razorpay", ev.Event)
		}
		return nil, unsupported("razorpay", ev.Event)
	}
	if ev.Payload.Payment == nil {
		return nil, errorf(CodeMissingField, "payload.payment.entity is missing")
	}
	e := ev.Payload.Payment.Entity
	if err := require("payload.payment.entity.id", e.ID); err != nil {
		return nil, err
	}
	amount, err := razorpayUnits.money("payload.payment.entity.amount", e.Amount, e.Currency)
	if err != nil {
		return nil, err
	}
	status, ok := razorpayStatus[e.Status]
	if !ok {
		return nil, errorf(CodeUnsupportedEvent, "razorpay payment status %q is not supported", e.Status)
	}
	p := &pb.Payment{
		Id:            e.ID,
		Amount:        amount,
		Status:        status,
		Method:        lower(e.Method),
		CustomerEmail: deref(e.Email),
	}
	if e.AmountRefunded != "" && e.AmountRefunded != "0" {
		if p.Refunded, err = razorpayUnits.money("payload.payment.entity.amount_refunded", e.AmountRefunded, e.Currency); err != nil {
			return nil, err
		}
	}
	switch deref(e.RefundStatus) {
	case "full":
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
	case "partial":
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
	}
	if p.Status == pb.PaymentStatus_PAYMENT_STATUS_FAILED {
		p.FailureReason = firstNonEmpty(deref(e.ErrorDescription), deref(e.ErrorReason))
	}
	if p.CreatedAt, err = unixTime("payload.payment.entity.created_at", e.CreatedAt); err != nil {
		return nil, err
	}
	if p.UpdatedAt, err = unixTime("created_at", ev.CreatedAt); err != nil {
		return nil, err
	}
	if p.Metadata, err = metadata(e.Notes); err != nil {
		return nil, err
	}
	return []*pb.Payment{p}, nil
}
