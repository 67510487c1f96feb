package normalizer

import (
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Square normalizes Square webhook events (API v2). The whole Payment is in
// data.object.payment of payment.created and payment.updated; a refund shows
// up as a payment.updated whose refunded_money has grown. Amounts are JSON
// integers in the currency's smallest unit, timestamps are RFC 3339.
type Square struct{}

func (Square) Gateway() pb.Gateway { return pb.Gateway_GATEWAY_SQUARE }

type squareEvent struct {
	MerchantID string `json:"merchant_id"`
	Type       string `json:"type"`
	EventID    string `json:"event_id"`
	CreatedAt  string `json:"created_at"`
	Data       struct {
		Type   string         `json:"type"`
		ID     string         `json:"id"`
		Object jsontext.Value `json:"object"`
	} `json:"data"`
}

type squarePayment struct {
	ID                   string         `json:"id"`
	CreatedAt            string         `json:"created_at"`
	UpdatedAt            string         `json:"updated_at"`
	AmountMoney          *squareMoney   `json:"amount_money"`
	TotalMoney           *squareMoney   `json:"total_money"`
	RefundedMoney        *squareMoney   `json:"refunded_money"`
	Status               string         `json:"status"`
	SourceType           string         `json:"source_type"`
	CardDetails          *squareDetails `json:"card_details"`
	WalletDetails        *squareDetails `json:"wallet_details"`
	BankAccountDetails   *squareDetails `json:"bank_account_details"`
	SquareAccountDetails *squareDetails `json:"square_account_details"`
	BuyerEmailAddress    string         `json:"buyer_email_address"`
	ReferenceID          string         `json:"reference_id"`
	Note                 string         `json:"note"`
	OrderID              string         `json:"order_id"`
	LocationID           string         `json:"location_id"`
}

// squareMoney is Square's Money object.
type squareMoney struct {
	Amount   number `json:"amount"`
	Currency string `json:"currency"`
}

// squareDetails is the part of card_details, wallet_details,
// bank_account_details and square_account_details the normalizer reads.
type squareDetails struct {
	Status string        `json:"status"`
	Errors []squareError `json:"errors"`
}

// squareError is Square's Error object, as carried by a FAILED payment's details.
type squareError struct {
	Category string `json:"category"`
	Code     string `json:"code"`
	Detail   string `json:"detail"`
}

// squareStatus maps Payment.status. A refund does not change it: a refunded
// payment stays COMPLETED and only its refunded_money grows.
var squareStatus = map[string]pb.PaymentStatus{
	"PENDING":   pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"APPROVED":  pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
	"COMPLETED": pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
	"CANCELED":  pb.PaymentStatus_PAYMENT_STATUS_CANCELED,
	"FAILED":    pb.PaymentStatus_PAYMENT_STATUS_FAILED,
}

func (s Square) Normalize(doc []byte) ([]*pb.Payment, error) {
	var ev squareEvent
	if err := decode(doc, &ev); err != nil {
		return nil, err
	}
	switch {
	case ev.Type == "payment.created" || ev.Type == "payment.updated":
	case ev.Type == "" || strings.HasPrefix(ev.Type, "payment."):
		return nil, unsupported("square", ev.Type)
	default:
		// refund.created / refund.updated are followed by a payment.updated
		// carrying the new refunded_money, and a refund alone does not say how
		// much the payment was for. customer.*, order.*, invoice.*, … carry
		// no payment change at all.
		return nil, ignored("square", ev.Type)
	}
	if err := require("event_id", ev.EventID); err != nil {
		return nil, err
	}
	p, err := s.fromPayment(ev)
	if err != nil {
		return nil, err
	}
	p.EventId = ev.EventID
	return []*pb.Payment{p}, nil
}

func (Square) fromPayment(ev squareEvent) (*pb.Payment, error) {
	var object struct {
		Payment *squarePayment `json:"payment"`
	}
	if len(ev.Data.Object) > 0 {
		if err := decode(ev.Data.Object, &object); err != nil {
			return nil, err
		}
	}
	sp := object.Payment
	if sp == nil {
		return nil, errorf(CodeMissingField, "data.object.payment is missing")
	}
	if err := require("data.object.payment.id", sp.ID); err != nil {
		return nil, err
	}
	if ev.Data.ID != "" && ev.Data.ID != sp.ID {
		// Square's own published payment.created example has a data.id that
		// is not its payment's id: the payment object is authoritative.
		logDebug("square data.id and data.object.payment.id differ; using the payment's",
			"data_id", ev.Data.ID, "payment_id", sp.ID, "event_id", ev.EventID)
	}
	amount, err := squarePaymentAmount(sp)
	if err != nil {
		return nil, err
	}
	if sp.Status == "" {
		return nil, errorf(CodeMissingField, "data.object.payment.status is missing")
	}
	status, ok := squareStatus[sp.Status]
	if !ok {
		return nil, errorf(CodeUnsupportedEvent, "square payment status %q is not supported", sp.Status)
	}
	p := &pb.Payment{
		Id:            sp.ID,
		Amount:        amount,
		Status:        status,
		CustomerEmail: sp.BuyerEmailAddress,
		Method:        lower(sp.SourceType),
		Metadata:      squareMetadata(sp),
	}
	if sp.RefundedMoney != nil {
		refunded, err := squareUnits.money("data.object.payment.refunded_money.amount", sp.RefundedMoney.Amount, sp.RefundedMoney.Currency)
		if err != nil {
			return nil, err
		}
		if refunded.Currency != amount.Currency {
			return nil, errorf(CodeInvalidCurrency, "refunded_money is in %s but the payment is in %s", refunded.Currency, amount.Currency)
		}
		if refunded.AmountMinor > 0 {
			p.Refunded = refunded
			// Square refunds only COMPLETED payments.
			if status == pb.PaymentStatus_PAYMENT_STATUS_COMPLETED {
				p.Status = refundStatus(amount, refunded)
			}
		}
	}
	if status == pb.PaymentStatus_PAYMENT_STATUS_FAILED {
		p.FailureReason = squareFailureReason(sp)
	}
	if p.CreatedAt, err = rfc3339Time("data.object.payment.created_at", sp.CreatedAt); err != nil {
		return nil, err
	}
	eventAt, err := rfc3339Time("created_at", ev.CreatedAt)
	if err != nil {
		return nil, err
	}
	if p.UpdatedAt, err = rfc3339Time("data.object.payment.updated_at", sp.UpdatedAt); err != nil {
		return nil, err
	}
	if p.UpdatedAt == nil {
		p.UpdatedAt = eventAt
	}
	return p, nil
}

// squarePaymentAmount is what the buyer was charged: total_money (amount_money
// plus tip_money), which is also what refunds are measured against, or
// amount_money when total_money is absent. amount_money is required and
// checked either way.
func squarePaymentAmount(sp *squarePayment) (*pb.Money, error) {
	if sp.AmountMoney == nil {
		return nil, errorf(CodeMissingField, "data.object.payment.amount_money is missing")
	}
	amount, err := squareUnits.money("data.object.payment.amount_money.amount", sp.AmountMoney.Amount, sp.AmountMoney.Currency)
	if err != nil {
		return nil, err
	}
	if sp.TotalMoney == nil {
		return amount, nil
	}
	total, err := squareUnits.money("data.object.payment.total_money.amount", sp.TotalMoney.Amount, sp.TotalMoney.Currency)
	if err != nil {
		return nil, err
	}
	if total.Currency != amount.Currency {
		return nil, errorf(CodeInvalidCurrency, "total_money is in %s but amount_money is in %s", total.Currency, amount.Currency)
	}
	return total, nil
}

// squareFailureReason is the first error Square attached to the payment's
// source details: its human detail, else its code.
func squareFailureReason(sp *squarePayment) string {
	for _, d := range []*squareDetails{sp.CardDetails, sp.WalletDetails, sp.BankAccountDetails, sp.SquareAccountDetails} {
		if d == nil {
			continue
		}
		for _, e := range d.Errors {
			if r := firstNonEmpty(e.Detail, e.Code); r != "" {
				return r
			}
		}
	}
	return ""
}

// squareMetadata keeps the seller's references to the payment. Square has no
// free-form metadata on payments; these are its closest equivalent.
func squareMetadata(sp *squarePayment) map[string]string {
	var md map[string]string
	for _, kv := range [][2]string{
		{"reference_id", sp.ReferenceID},
		{"note", sp.Note},
		{"order_id", sp.OrderID},
		{"location_id", sp.LocationID},
	} {
		if kv[1] == "" {
			continue
		}
		if md == nil {
			md = make(map[string]string, 4)
		}
		md[kv[0]] = kv[1]
	}
	return md
}
