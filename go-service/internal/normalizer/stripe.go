package normalizer

import (
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Stripe normalizes Stripe `event` objects. Payment life-cycle events carry a
// PaymentIntent (pi_…); refunds arrive as charge.refunded, whose Charge names
// its PaymentIntent. Amounts are integers in the minor unit, currency is lower case.
type Stripe struct{}

func (Stripe) Gateway() pb.Gateway { return pb.Gateway_GATEWAY_STRIPE }

type stripeEvent struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Type    string `json:"type"`
	Created number `json:"created"`
	Data    struct {
		Object jsontext.Value `json:"object"`
	} `json:"data"`
}

type stripePaymentIntent struct {
	ID                 string         `json:"id"`
	Object             string         `json:"object"`
	Amount             number         `json:"amount"`
	Currency           string         `json:"currency"`
	Status             string         `json:"status"`
	Created            number         `json:"created"`
	ReceiptEmail       *string        `json:"receipt_email"`
	PaymentMethodTypes []string       `json:"payment_method_types"`
	Metadata           jsontext.Value `json:"metadata"`
	CancellationReason *string        `json:"cancellation_reason"`
	LastPaymentError   *struct {
		Code        string `json:"code"`
		DeclineCode string `json:"decline_code"`
		Message     string `json:"message"`
	} `json:"last_payment_error"`
}

type stripeCharge struct {
	ID             string         `json:"id"`
	Object         string         `json:"object"`
	PaymentIntent  *string        `json:"payment_intent"`
	Amount         number         `json:"amount"`
	AmountRefunded number         `json:"amount_refunded"`
	Currency       string         `json:"currency"`
	Created        number         `json:"created"`
	ReceiptEmail   *string        `json:"receipt_email"`
	Metadata       jsontext.Value `json:"metadata"`
	BillingDetails struct {
		Email *string `json:"email"`
	} `json:"billing_details"`
	PaymentMethodDetails struct {
		Type string `json:"type"`
	} `json:"payment_method_details"`
}

// stripeIntentStatus maps the PaymentIntent events we handle. The event type,
// not the object's status, decides: after payment_failed a PI is back in
// requires_payment_method, which alone would read as PENDING.
var stripeIntentStatus = map[string]pb.PaymentStatus{
	"payment_intent.created":                   pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"payment_intent.requires_action":           pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"payment_intent.processing":                pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"payment_intent.partially_funded":          pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"payment_intent.amount_capturable_updated": pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
	"payment_intent.succeeded":                 pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
	"payment_intent.payment_failed":            pb.PaymentStatus_PAYMENT_STATUS_FAILED,
	"payment_intent.canceled":                  pb.PaymentStatus_PAYMENT_STATUS_CANCELED,
}

func (s Stripe) Normalize(doc []byte) ([]*pb.Payment, error) {
	var ev stripeEvent
	if err := decode(doc, &ev); err != nil {
		return nil, err
	}
	if err := require("event id", ev.ID); err != nil {
		return nil, err
	}
	var p *pb.Payment
	var err error
	switch {
	case stripeIntentStatus[ev.Type] != pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED:
		p, err = s.fromIntent(ev)
	case ev.Type == "charge.refunded":
		p, err = s.fromRefundedCharge(ev)
	case strings.HasPrefix(ev.Type, "payment_intent."):
		return nil, unsupported("stripe", ev.Type)
	case ev.Type == "":
		return nil, unsupported("stripe", ev.Type)
	default:
		// customer.*, invoice.*, and charge.* events other than refunds, which
		// repeat what the PaymentIntent events already said.
		return nil, ignored("stripe", ev.Type)
	}
	if err != nil {
		return nil, err
	}
	p.EventId = ev.ID
	if p.UpdatedAt, err = unixTime("created", ev.Created); err != nil {
		return nil, err
	}
	return []*pb.Payment{p}, nil
}

func (Stripe) fromIntent(ev stripeEvent) (*pb.Payment, error) {
	var pi stripePaymentIntent
	if err := decode(ev.Data.Object, &pi); err != nil {
		return nil, err
	}
	if err := require("data.object.id", pi.ID); err != nil {
		return nil, err
	}
	amount, err := stripeUnits.money("data.object.amount", pi.Amount, pi.Currency)
	if err != nil {
		return nil, err
	}
	p := &pb.Payment{Id: pi.ID, Amount: amount, Status: stripeIntentStatus[ev.Type]}
	if p.CreatedAt, err = unixTime("data.object.created", pi.Created); err != nil {
		return nil, err
	}
	if p.Metadata, err = metadata(pi.Metadata); err != nil {
		return nil, err
	}
	p.CustomerEmail = deref(pi.ReceiptEmail)
	if len(pi.PaymentMethodTypes) > 0 {
		p.Method = lower(pi.PaymentMethodTypes[0])
	}
	switch {
	case p.Status == pb.PaymentStatus_PAYMENT_STATUS_FAILED && pi.LastPaymentError != nil:
		p.FailureReason = firstNonEmpty(pi.LastPaymentError.Message, pi.LastPaymentError.DeclineCode, pi.LastPaymentError.Code)
	case p.Status == pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		p.FailureReason = deref(pi.CancellationReason)
	}
	return p, nil
}

func (Stripe) fromRefundedCharge(ev stripeEvent) (*pb.Payment, error) {
	var ch stripeCharge
	if err := decode(ev.Data.Object, &ch); err != nil {
		return nil, err
	}
	// The payment is the PaymentIntent; a legacy charge without one is its own payment.
	id := firstNonEmpty(deref(ch.PaymentIntent), ch.ID)
	if err := require("data.object.payment_intent", id); err != nil {
		return nil, err
	}
	amount, err := stripeUnits.money("data.object.amount", ch.Amount, ch.Currency)
	if err != nil {
		return nil, err
	}
	refunded, err := stripeUnits.money("data.object.amount_refunded", ch.AmountRefunded, ch.Currency)
	if err != nil {
		return nil, err
	}
	p := &pb.Payment{Id: id, Amount: amount, Refunded: refunded, Status: refundStatus(amount, refunded)}
	if p.CreatedAt, err = unixTime("data.object.created", ch.Created); err != nil {
		return nil, err
	}
	if p.Metadata, err = metadata(ch.Metadata); err != nil {
		return nil, err
	}
	p.CustomerEmail = firstNonEmpty(deref(ch.BillingDetails.Email), deref(ch.ReceiptEmail))
	p.Method = lower(ch.PaymentMethodDetails.Type)
	return p, nil
}

// refundStatus tells a full refund from a partial one by amount.
func refundStatus(amount, refunded *pb.Money) pb.PaymentStatus {
	if refunded.GetAmountMinor() >= amount.GetAmountMinor() {
		return pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
	}
	return pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
