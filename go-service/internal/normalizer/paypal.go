package normalizer

import (
	"net/url"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// PayPal normalizes PayPal webhook events. The envelope names the event
// (event_type) and carries one Payments API resource: a capture, an
// authorization or a refund. Amounts are decimal strings in the major unit
// ("50.00", "5000" for JPY) and are converted exactly with ParseDecimal.
//
// The payment id is the capture id for capture events and the authorization
// id for authorization events. PAYMENT.CAPTURE.REFUNDED carries a refund, not
// the capture: the capture id is the last path segment of the refund's "up"
// link, and the cumulative refunded amount is
// seller_payable_breakdown.total_refunded_amount.
//
// A PayPal refund does not carry the amount of the capture it refunds, so
// the event alone cannot tell a full refund from a partial one. When the
// record also holds the refunded capture under the top-level key
// "related_capture" (the object GET /v2/payments/captures/{id} returns, which
// a receiver gets by following the refund's "up" link), the status is decided
// by comparing the total refunded with that capture's amount. Without it the
// normalizer claims only what the event proves: PARTIALLY_REFUNDED, with the
// total refunded as the amount (a lower bound of the captured amount) and
// metadata captured_amount_unknown=true, so that a consumer holding the
// capture's amount can settle it.
type PayPal struct{}

func (PayPal) Gateway() pb.Gateway { return pb.Gateway_GATEWAY_PAYPAL }

type paypalEvent struct {
	ID           string         `json:"id"`
	CreateTime   string         `json:"create_time"`
	ResourceType string         `json:"resource_type"`
	EventType    string         `json:"event_type"`
	Resource     jsontext.Value `json:"resource"`
	// RelatedCapture is not sent by PayPal; see the PayPal type's comment.
	RelatedCapture jsontext.Value `json:"related_capture"`
}

// paypalMoney is a v2 money object {currency_code, value}; Payments API v1
// resources, still sent to classic integrations, spell it {currency, total}.
type paypalMoney struct {
	CurrencyCode string `json:"currency_code"`
	Value        string `json:"value"`
	Currency     string `json:"currency"`
	Total        string `json:"total"`
}

type paypalLink struct {
	Href   string `json:"href"`
	Rel    string `json:"rel"`
	Method string `json:"method"`
}

// paypalResource holds the fields of a capture, authorization or refund that
// the canonical Payment needs; the three share most of them.
type paypalResource struct {
	ID                string       `json:"id"`
	Status            string       `json:"status"`
	Amount            *paypalMoney `json:"amount"`
	CreateTime        string       `json:"create_time"`
	UpdateTime        string       `json:"update_time"`
	CustomID          string       `json:"custom_id"`
	InvoiceID         string       `json:"invoice_id"`
	SupplementaryData *struct {
		RelatedIDs *struct {
			OrderID         string `json:"order_id"`
			AuthorizationID string `json:"authorization_id"`
		} `json:"related_ids"`
	} `json:"supplementary_data"`
	StatusDetails *struct {
		Reason string `json:"reason"`
	} `json:"status_details"`
	ProcessorResponse *struct {
		ResponseCode string `json:"response_code"`
	} `json:"processor_response"`
	SellerPayableBreakdown *struct {
		TotalRefundedAmount *paypalMoney `json:"total_refunded_amount"`
	} `json:"seller_payable_breakdown"`
	Links []paypalLink `json:"links"`
	// CaptureID is how a Payments API v1 refund names its capture.
	CaptureID string `json:"capture_id"`
}

const paypalRefunded = "PAYMENT.CAPTURE.REFUNDED"

// paypalEventStatus maps the capture and authorization events we handle. As
// for Stripe, the event type decides, not the resource's status field.
var paypalEventStatus = map[string]pb.PaymentStatus{
	"PAYMENT.CAPTURE.PENDING":       pb.PaymentStatus_PAYMENT_STATUS_PENDING,
	"PAYMENT.AUTHORIZATION.CREATED": pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED,
	"PAYMENT.CAPTURE.COMPLETED":     pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
	"PAYMENT.CAPTURE.DENIED":        pb.PaymentStatus_PAYMENT_STATUS_FAILED,
	"PAYMENT.AUTHORIZATION.VOIDED":  pb.PaymentStatus_PAYMENT_STATUS_CANCELED,
}

// paypalResourceType is the resource_type each handled event must carry.
var paypalResourceType = map[string]string{
	"PAYMENT.CAPTURE.PENDING":       "capture",
	"PAYMENT.CAPTURE.COMPLETED":     "capture",
	"PAYMENT.CAPTURE.DENIED":        "capture",
	"PAYMENT.AUTHORIZATION.CREATED": "authorization",
	"PAYMENT.AUTHORIZATION.VOIDED":  "authorization",
	paypalRefunded:                  "refund",
}

func (pp PayPal) Normalize(doc []byte) ([]*pb.Payment, error) {
	var ev paypalEvent
	if err := decode(doc, &ev); err != nil {
		return nil, err
	}
	if err := require("id", ev.ID); err != nil {
		return nil, err
	}
	want, handled := paypalResourceType[ev.EventType]
	switch {
	case handled:
	case ev.EventType == "":
		return nil, unsupported("paypal", ev.EventType)
	case paypalPayoutEvent(ev.EventType):
		// Payouts send money from the merchant to third parties: no payment
		// into the merchant changes.
		return nil, ignored("paypal", ev.EventType)
	case strings.HasPrefix(ev.EventType, "PAYMENT."):
		// PAYMENT.CAPTURE.REVERSED, PAYMENT.SALE.* (v1), PAYMENT.ORDER.*, …
		return nil, unsupported("paypal", ev.EventType)
	default:
		// CHECKOUT.ORDER.*, CUSTOMER.*, BILLING.*, MERCHANT.*, …: no
		// capture, authorization or refund changed.
		return nil, ignored("paypal", ev.EventType)
	}
	if ev.ResourceType != "" && !strings.EqualFold(ev.ResourceType, want) {
		return nil, errorf(CodeUnsupportedEvent, "paypal %s event carries a %q resource, want %q", ev.EventType, ev.ResourceType, want)
	}
	if len(ev.Resource) == 0 || string(ev.Resource) == "null" {
		return nil, errorf(CodeMissingField, "resource is missing")
	}
	var r paypalResource
	if err := decode(ev.Resource, &r); err != nil {
		return nil, err
	}
	var p *pb.Payment
	var err error
	if ev.EventType == paypalRefunded {
		p, err = pp.fromRefund(ev, &r)
	} else {
		p, err = pp.fromPayment(paypalEventStatus[ev.EventType], &r)
	}
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, ignored("paypal", ev.EventType+" ("+r.Status+" refund)")
	}
	p.EventId = ev.ID
	p.Method = "paypal"
	// The event's time is when this change happened; the resource's
	// update_time stands in only when the envelope has none.
	at, err := rfc3339Time("create_time", ev.CreateTime)
	if err != nil {
		return nil, err
	}
	if at == nil {
		if at, err = rfc3339Time("resource.update_time", r.UpdateTime); err != nil {
			return nil, err
		}
	}
	p.UpdatedAt = at
	return []*pb.Payment{p}, nil
}

// fromPayment reads a capture or an authorization: the payment itself.
func (PayPal) fromPayment(status pb.PaymentStatus, r *paypalResource) (*pb.Payment, error) {
	if err := require("resource.id", r.ID); err != nil {
		return nil, err
	}
	amount, err := paypalAmount("resource.amount", r.Amount)
	if err != nil {
		return nil, err
	}
	p := &pb.Payment{Id: r.ID, Amount: amount, Status: status}
	if p.CreatedAt, err = rfc3339Time("resource.create_time", r.CreateTime); err != nil {
		return nil, err
	}
	p.Metadata = paypalMetadata(nil, r)
	switch status {
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		p.FailureReason = r.statusReason()
		if p.FailureReason == "" && r.ProcessorResponse != nil && r.ProcessorResponse.ResponseCode != "" {
			p.FailureReason = "processor response code " + r.ProcessorResponse.ResponseCode
		}
	case pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		p.FailureReason = r.statusReason()
	}
	return p, nil
}

// fromRefund reads a refund and turns it into the state of the capture it
// refunds. It returns nil, nil for a refund that failed or was cancelled:
// no money moved, so the payment did not change.
func (PayPal) fromRefund(ev paypalEvent, r *paypalResource) (*pb.Payment, error) {
	switch strings.ToUpper(r.Status) {
	case "FAILED", "CANCELLED", "CANCELED":
		return nil, nil
	}
	captureID := firstNonEmpty(paypalLinkedID(r.Links, "captures"), r.CaptureID)
	if err := require("resource.links[rel=up] (the refunded capture)", captureID); err != nil {
		return nil, err
	}
	refund, err := paypalAmount("resource.amount", r.Amount)
	if err != nil {
		return nil, err
	}
	total := refund
	if r.SellerPayableBreakdown != nil && r.SellerPayableBreakdown.TotalRefundedAmount != nil {
		total, err = paypalAmount("resource.seller_payable_breakdown.total_refunded_amount", r.SellerPayableBreakdown.TotalRefundedAmount)
		if err != nil {
			return nil, err
		}
		if total.Currency != refund.Currency {
			return nil, errorf(CodeInvalidCurrency, "total refunded is in %s but the refund is in %s", total.Currency, refund.Currency)
		}
		if total.AmountMinor < refund.AmountMinor {
			return nil, errorf(CodeInvalidAmount, "total refunded %d is less than this refund's %d", total.AmountMinor, refund.AmountMinor)
		}
	}
	p := &pb.Payment{Id: captureID, Refunded: total}
	var capture *paypalResource
	if len(ev.RelatedCapture) > 0 && string(ev.RelatedCapture) != "null" {
		capture = &paypalResource{}
		if err := decode(ev.RelatedCapture, capture); err != nil {
			return nil, err
		}
		if capture.ID != "" && capture.ID != captureID {
			return nil, errorf(CodeInvalidField, "related_capture.id %q is not the refunded capture %q", capture.ID, captureID)
		}
		if p.Amount, err = paypalAmount("related_capture.amount", capture.Amount); err != nil {
			return nil, err
		}
		if p.Amount.Currency != total.Currency {
			return nil, errorf(CodeInvalidCurrency, "the refund is in %s but the capture is in %s", total.Currency, p.Amount.Currency)
		}
		if total.AmountMinor > p.Amount.AmountMinor {
			return nil, errorf(CodeInvalidAmount, "total refunded %d is more than the captured %d", total.AmountMinor, p.Amount.AmountMinor)
		}
		p.Status = refundStatus(p.Amount, total)
		if p.CreatedAt, err = rfc3339Time("related_capture.create_time", capture.CreateTime); err != nil {
			return nil, err
		}
	} else {
		p.Amount = &pb.Money{AmountMinor: total.AmountMinor, Currency: total.Currency}
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
		// The refund's create_time is when the refund, not the payment, was
		// created: created_at stays unknown rather than wrong.
	}
	if _, err := rfc3339Time("resource.create_time", r.CreateTime); err != nil {
		return nil, err
	}
	p.Metadata = paypalMetadata(capture, r)
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	if capture == nil {
		p.Metadata["captured_amount_unknown"] = "true"
	}
	if r.ID != "" {
		p.Metadata["refund_id"] = r.ID
	}
	return p, nil
}

// paypalAmount converts a PayPal money object to minor units, exactly.
func paypalAmount(field string, m *paypalMoney) (*pb.Money, error) {
	if m == nil {
		return nil, errorf(CodeMissingField, "%s is missing", field)
	}
	code := firstNonEmpty(m.CurrencyCode, m.Currency)
	if code == "" {
		return nil, errorf(CodeMissingField, "%s.currency_code is missing", field)
	}
	cur, err := parseCurrency(code)
	if err != nil {
		return nil, err
	}
	value := firstNonEmpty(m.Value, m.Total)
	if value == "" {
		return nil, errorf(CodeMissingField, "%s.value is missing", field)
	}
	minor, err := ParseDecimal(value, cur)
	if err != nil {
		if e, ok := err.(*Error); ok {
			return nil, errorf(e.Code, "%s: %s", field, e.Msg)
		}
		return nil, err
	}
	if paypalWholeOnly[cur] && minor%pow10(isoExponent(cur)) != 0 {
		return nil, errorf(CodeInvalidAmount, "%s %q: PayPal does not support decimals in %s", field, value, cur)
	}
	return &pb.Money{AmountMinor: minor, Currency: cur}, nil
}

// paypalWholeOnly are the currencies PayPal takes only in whole units: "This
// currency does not support decimals. If you pass a decimal amount, an error
// occurs" (https://developer.paypal.com/reference/currency-codes/). HUF and
// TWD have two decimals in ISO 4217, so "1500.50" HUF cannot come from PayPal;
// "1500.00" is the same whole amount and is read as 150000 ISO minor units.
// Every other currency is a decimal string with at most its ISO 4217 digits.
var paypalWholeOnly = map[string]bool{"HUF": true, "JPY": true, "TWD": true}

// paypalLinkedID returns the id at the end of the resource's "up" link when
// that link points into collection ("captures", "authorizations", "orders"):
// https://api.paypal.com/v2/payments/captures/3C679366HH908993F → 3C679366HH908993F.
func paypalLinkedID(links []paypalLink, collection string) string {
	for _, l := range links {
		if !strings.EqualFold(l.Rel, "up") {
			continue
		}
		u, err := url.Parse(l.Href)
		if err != nil {
			continue
		}
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		if n := len(segs); n >= 2 && segs[n-2] == collection && strings.TrimSpace(segs[n-1]) != "" {
			return segs[n-1]
		}
	}
	return ""
}

// paypalMetadata keeps the merchant's references and PayPal's related ids.
// The capture's own fields win over the refund's when both are known.
func paypalMetadata(capture, r *paypalResource) map[string]string {
	out := map[string]string{}
	for _, res := range []*paypalResource{capture, r} {
		if res == nil {
			continue
		}
		var orderID, authID string
		if sd := res.SupplementaryData; sd != nil && sd.RelatedIDs != nil {
			orderID, authID = sd.RelatedIDs.OrderID, sd.RelatedIDs.AuthorizationID
		}
		for k, v := range map[string]string{
			"custom_id":        res.CustomID,
			"invoice_id":       res.InvoiceID,
			"order_id":         firstNonEmpty(orderID, paypalLinkedID(res.Links, "orders")),
			"authorization_id": firstNonEmpty(authID, paypalLinkedID(res.Links, "authorizations")),
			"status_reason":    res.statusReason(),
		} {
			if _, set := out[k]; !set && v != "" {
				out[k] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (r *paypalResource) statusReason() string {
	if r == nil || r.StatusDetails == nil {
		return ""
	}
	return r.StatusDetails.Reason
}

// paypalPayoutEvent tells payout events (money the merchant sends out) from
// payment events.
func paypalPayoutEvent(t string) bool {
	return strings.HasPrefix(t, "PAYMENT.PAYOUTS") || strings.HasPrefix(t, "PAYMENT.REFERENCED-PAYOUT-ITEM.")
}
