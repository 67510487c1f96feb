package normalizer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Adyen normalizes Adyen standard webhooks (notifications). One document is a
// batch: {"live":"false","notificationItems":[{"NotificationRequestItem":{…}}]},
// and every item that changes a payment becomes one Payment.
//
// What an item says is eventCode + success, where success is the string
// "true" or "false". Amounts are integers in the currency's minor unit.
//
//   - AUTHORISATION "true"  → AUTHORIZED; "false" → FAILED (failure_reason = reason).
//   - CAPTURE "true"        → COMPLETED.
//   - CAPTURE_FAILED        → FAILED (whatever success says: the event is the failure).
//   - CANCELLATION, TECHNICAL_CANCEL "true" → CANCELED.
//   - CANCEL_OR_REFUND "true" → CANCELED or a refund, by additionalData["modification.action"].
//   - REFUND "true"         → REFUNDED or PARTIALLY_REFUNDED (see adyenRefund).
//   - A modification (CAPTURE, CANCELLATION, REFUND, …) with success "false"
//     was refused by Adyen and changed nothing: the payment keeps its state, so
//     the item is ignored, like the event codes in adyenIgnored.
//
// Payment.id is the pspReference of the payment: the item's own pspReference
// for AUTHORISATION, its originalReference for a modification (whose own
// pspReference names the modification, not the payment).
//
// Adyen sends no event id. event_id is eventCode:pspReference:success: the
// pspReference of a modification is unique to it, and an AUTHORISATION
// happens once per payment, so this is unique per event, and a retried
// delivery of the same notification yields the same id (a duplicate).
//
// A batch is all or nothing: if any item is invalid the whole record goes to
// the DLQ with that item's error (prefixed with its index), never a partial
// batch, since the DLQ keeps records, not items. Ignored items are left out;
// a batch of nothing but ignored items is ignored.
type Adyen struct{}

func (Adyen) Gateway() pb.Gateway { return pb.Gateway_GATEWAY_ADYEN }

type adyenNotification struct {
	NotificationItems []struct {
		Item *adyenItem `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

type adyenItem struct {
	EventCode           string `json:"eventCode"`
	Success             string `json:"success"`
	PspReference        string `json:"pspReference"`
	OriginalReference   string `json:"originalReference"`
	MerchantReference   string `json:"merchantReference"`
	MerchantAccountCode string `json:"merchantAccountCode"`
	EventDate           string `json:"eventDate"`
	Amount              struct {
		Value    number `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
	PaymentMethod  string         `json:"paymentMethod"`
	Reason         string         `json:"reason"`
	AdditionalData jsontext.Value `json:"additionalData"`
}

// adyenModification lists the event codes we turn into a Payment, and
// whether the item names the payment by originalReference (a modification).
var adyenModification = map[string]bool{
	"AUTHORISATION":    false,
	"CAPTURE":          true,
	"CAPTURE_FAILED":   true,
	"CANCELLATION":     true,
	"TECHNICAL_CANCEL": true,
	"CANCEL_OR_REFUND": true,
	"REFUND":           true,
}

// adyenIgnored are Adyen event codes that carry no change our canonical
// status can express: reports, disputes, payouts, fraud and review signals,
// orders, recurring contracts, authorisation adjustments, PENDING (the table
// has no Adyen PENDING), OFFER_CLOSED (a payment never authorised), and the
// after-the-fact refund reversals (REFUND_FAILED, REFUNDED_REVERSED), which
// would move a refunded payment backwards. They are counted and skipped.
var adyenIgnored = map[string]bool{
	"REPORT_AVAILABLE": true, "PENDING": true, "OFFER_CLOSED": true,
	"ORDER_OPENED": true, "ORDER_CLOSED": true, "RECURRING_CONTRACT": true,
	"AUTHORISATION_ADJUSTMENT": true, "EXPIRE": true, "HANDLED_EXTERNALLY": true,
	"REFUND_FAILED": true, "REFUNDED_REVERSED": true, "REFUND_WITH_DATA": true,
	"POSTPONED_REFUND": true, "VOID_PENDING_REFUND": true,
	"CHARGEBACK": true, "CHARGEBACK_REVERSED": true, "SECOND_CHARGEBACK": true,
	"NOTIFICATION_OF_CHARGEBACK": true, "REQUEST_FOR_INFORMATION": true,
	"INFORMATION_SUPPLIED": true, "PREARBITRATION_LOST": true, "PREARBITRATION_WON": true,
	"DISPUTE_DEFENSE_PERIOD_ENDED": true, "ISSUER_RESPONSE_TIMEFRAME_EXPIRED": true,
	"ISSUER_COMMENTS": true, "NOTIFICATION_OF_FRAUD": true,
	"MANUAL_REVIEW_ACCEPT": true, "MANUAL_REVIEW_REJECT": true,
	"PAIDOUT_REVERSED": true, "PAYOUT_THIRDPARTY": true, "PAYOUT_DECLINE": true,
	"PAYOUT_EXPIRE": true, "AUTORESCUE": true, "CANCEL_AUTORESCUE": true,
}

// adyenMethod maps Adyen's paymentMethod (a card brand or a method name) to
// the canonical method. Anything else is kept, lower-cased, as Adyen names it.
var adyenMethod = map[string]string{
	"scheme": "card", "card": "card", "visa": "card", "mc": "card", "amex": "card",
	"maestro": "card", "diners": "card", "discover": "card", "jcb": "card", "cup": "card",
	"cartebancaire": "card", "bcmc": "card", "dankort": "card", "visadankort": "card",
	"elo": "card", "hipercard": "card",
	"ideal": "ideal", "paypal": "paypal",
	"applepay": "wallet", "googlepay": "wallet", "paywithgoogle": "wallet", "samsungpay": "wallet",
}

// The original payment's amount on a refund. Adyen does not send it: a REFUND
// item's amount is that refund's amount. A producer or webhook receiver that
// knows the payment (the synthetic producer does) may add it to
// additionalData under these keys, in Adyen's own style (compare its
// authorisedAmountValue/authorisedAmountCurrency); the value is in Adyen's
// units, as amount.value is (adyenUnits).
const (
	adyenOriginalValueKey    = "originalAmountValue"
	adyenOriginalCurrencyKey = "originalAmountCurrency"
)

// adyenNotMetadata are additionalData keys left out of metadata: the HMAC
// signature is a transport artefact, the others are promoted to fields.
var adyenNotMetadata = []string{"hmacSignature", "shopperEmail", adyenOriginalValueKey, adyenOriginalCurrencyKey}

func (a Adyen) Normalize(doc []byte) ([]*pb.Payment, error) {
	var n adyenNotification
	if err := decode(doc, &n); err != nil {
		return nil, err
	}
	if len(n.NotificationItems) == 0 {
		return nil, errorf(CodeMissingField, "notificationItems is missing or empty")
	}
	var payments []*pb.Payment
	var skipped []string
	for i, wrapper := range n.NotificationItems {
		if wrapper.Item == nil {
			return nil, errorf(CodeMissingField, "notificationItems[%d].NotificationRequestItem is missing", i)
		}
		p, err := a.item(wrapper.Item)
		switch {
		case errors.Is(err, ErrIgnored):
			label := wrapper.Item.EventCode
			if _, handled := adyenModification[label]; handled {
				label += " success=false" // a refused modification
			}
			if !slices.Contains(skipped, label) {
				skipped = append(skipped, label)
			}
		case err != nil:
			return nil, adyenItemError(i, err)
		default:
			payments = append(payments, p)
		}
	}
	if len(payments) == 0 {
		return nil, ignored("adyen", strings.Join(skipped, ","))
	}
	return payments, nil
}

// adyenItemError says which item of the batch made the record invalid,
// keeping its DLQ code.
func adyenItemError(i int, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Msg: fmt.Sprintf("notificationItems[%d]: %s", i, e.Msg)}
	}
	return err
}

func (Adyen) item(it *adyenItem) (*pb.Payment, error) {
	modification, handled := adyenModification[it.EventCode]
	if !handled {
		if adyenIgnored[it.EventCode] {
			return nil, ignored("adyen", it.EventCode)
		}
		return nil, unsupported("adyen", it.EventCode)
	}
	var success bool
	switch lower(it.Success) {
	case "true":
		success = true
	case "false":
	case "":
		return nil, errorf(CodeMissingField, "success is missing")
	default:
		return nil, errorf(CodeInvalidField, "success %q is neither \"true\" nor \"false\"", it.Success)
	}
	if err := require("pspReference", it.PspReference); err != nil {
		return nil, err
	}
	id := it.PspReference
	if modification {
		if err := require("originalReference", it.OriginalReference); err != nil {
			return nil, err
		}
		id = it.OriginalReference
	}
	amount, err := adyenUnits.money("amount.value", it.Amount.Value, it.Amount.Currency)
	if err != nil {
		return nil, err
	}
	if err := require("eventDate", it.EventDate); err != nil {
		return nil, err
	}
	updated, err := rfc3339Time("eventDate", it.EventDate)
	if err != nil {
		return nil, err
	}
	extra, err := metadata(it.AdditionalData)
	if err != nil {
		return nil, errorf(CodeInvalidField, "additionalData is not an object")
	}

	p := &pb.Payment{
		Id:            id,
		Amount:        amount,
		UpdatedAt:     updated,
		CustomerEmail: extra["shopperEmail"],
		Method:        adyenMethodOf(it.PaymentMethod),
		EventId:       it.EventCode + ":" + it.PspReference + ":" + lower(it.Success),
	}
	event := it.EventCode
	if event == "CANCEL_OR_REFUND" && success {
		switch action := extra["modification.action"]; action {
		case "cancel":
			event = "CANCELLATION"
		case "refund":
			event = "REFUND"
		case "":
			return nil, errorf(CodeMissingField, "CANCEL_OR_REFUND without additionalData.modification.action")
		default:
			return nil, errorf(CodeUnsupportedEvent, "adyen CANCEL_OR_REFUND action %q is not supported", action)
		}
	}
	switch {
	case event == "AUTHORISATION" && success:
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
	case event == "AUTHORISATION":
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_FAILED
		p.FailureReason = firstNonEmpty(it.Reason, extra["refusalReasonRaw"])
	case event == "CAPTURE_FAILED":
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_FAILED
		p.FailureReason = firstNonEmpty(it.Reason, "capture failed")
	case !success:
		// A refused modification: the payment is as it was.
		return nil, ignored("adyen", it.EventCode)
	case event == "CAPTURE":
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	case event == "CANCELLATION" || event == "TECHNICAL_CANCEL":
		p.Status = pb.PaymentStatus_PAYMENT_STATUS_CANCELED
	case event == "REFUND":
		if err := adyenRefund(p, extra); err != nil {
			return nil, err
		}
	}
	p.Metadata = adyenMetadata(it.MerchantReference, extra)
	return p, nil
}

// adyenRefund fills a refund. Adyen's REFUND amount is the amount of that one
// refund, so it becomes `refunded`. `amount` is the original payment's amount
// when additionalData carries it (originalAmountValue), and the status is
// then full or partial by comparing the two. Without it the item cannot tell
// a partial refund from a full one: amount is the refund amount too, so the
// status reads REFUNDED, and the serve stage, which knows the authorised
// amount from the AUTHORISATION event, must correct it when it merges state.
// Several partial refunds each report only their own amount, not the sum.
func adyenRefund(p *pb.Payment, extra map[string]string) error {
	refunded := p.Amount
	p.Refunded = refunded
	p.Amount = &pb.Money{AmountMinor: refunded.AmountMinor, Currency: refunded.Currency}
	if value := extra[adyenOriginalValueKey]; value != "" {
		currency := firstNonEmpty(extra[adyenOriginalCurrencyKey], refunded.Currency)
		original, err := adyenUnits.money("additionalData."+adyenOriginalValueKey, number(strings.TrimSpace(value)), currency)
		if err != nil {
			return err
		}
		if original.Currency != refunded.Currency {
			return errorf(CodeInvalidCurrency, "refund in %s of a payment in %s", refunded.Currency, original.Currency)
		}
		if refunded.AmountMinor > original.AmountMinor {
			return errorf(CodeInvalidAmount, "refund of %d is more than the payment's %d", refunded.AmountMinor, original.AmountMinor)
		}
		p.Amount = original
	}
	p.Status = refundStatus(p.Amount, p.Refunded)
	return nil
}

func adyenMethodOf(paymentMethod string) string {
	m := lower(paymentMethod)
	if canonical, ok := adyenMethod[m]; ok {
		return canonical
	}
	return m
}

// adyenMetadata is additionalData (minus adyenNotMetadata) plus the merchant's
// own reference for the payment.
func adyenMetadata(merchantReference string, extra map[string]string) map[string]string {
	out := make(map[string]string, len(extra)+1)
	for k, v := range extra {
		if !slices.Contains(adyenNotMetadata, k) {
			out[k] = v
		}
	}
	if merchantReference != "" {
		out["merchantReference"] = merchantReference
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
