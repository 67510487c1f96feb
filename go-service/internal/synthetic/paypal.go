package synthetic

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

func init() {
	register(gateway{
		pb:         pb.Gateway_GATEWAY_PAYPAL,
		name:       "paypal",
		currencies: []string{"USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY"},
		methods:    []string{"paypal"},
		// Capture and authorization ids: 17 upper-case letters and digits.
		newID: func(r *rand.Rand) string { return randomID(r, "", 17, upperAlnum) },
		// WH-<17>-<17>, like WH-4LK27180TX392615B-1RM60343DS5082942.
		newEventID: func(r *rand.Rand) string {
			return randomID(r, "WH-", 17, upperAlnum) + randomID(r, "-", 17, upperAlnum)
		},
		lifecycle: paypalLifecycle,
		render:    renderPayPal,
	})
}

// paypalLifecycle keeps a payment's id stable: PayPal names an authorized
// payment by its authorization id and a captured one by its capture id, so a
// life is either authorization events or capture events, never both.
func paypalLifecycle(outcome pb.PaymentStatus) []pb.PaymentStatus {
	switch outcome {
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		// A capture held for review, then denied.
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_PENDING, outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:
		return []pb.PaymentStatus{outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED, outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, outcome}
	}
	return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_COMPLETED}
}

var paypalEventType = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_PENDING:            "PAYMENT.CAPTURE.PENDING",
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "PAYMENT.AUTHORIZATION.CREATED",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "PAYMENT.CAPTURE.COMPLETED",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "PAYMENT.CAPTURE.DENIED",
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:           "PAYMENT.AUTHORIZATION.VOIDED",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "PAYMENT.CAPTURE.REFUNDED",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "PAYMENT.CAPTURE.REFUNDED",
}

// paypalResourceStatus is the resource's own status field for each step.
var paypalResourceStatus = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_PENDING:            "PENDING",
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "CREATED",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "COMPLETED",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "DENIED",
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:           "VOIDED",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "REFUNDED",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "PARTIALLY_REFUNDED",
}

const paypalAPI = "https://api.paypal.com"

// paypalDecimal writes minor units as PayPal's decimal string, with exactly
// the currency's number of fraction digits: 5000 USD → "50.00", 5000 JPY → "5000".
func paypalDecimal(minor int64, currency string) (string, error) {
	digits, ok := normalizer.MinorUnits(currency)
	if !ok {
		return "", fmt.Errorf("currency %q has no known minor unit", currency)
	}
	if minor < 0 {
		return "", fmt.Errorf("amount %d is negative", minor)
	}
	s := strconv.FormatInt(minor, 10)
	if digits == 0 {
		return s, nil
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:], nil
}

func paypalMoney(minor int64, currency string) (map[string]string, error) {
	v, err := paypalDecimal(minor, currency)
	if err != nil {
		return nil, err
	}
	return map[string]string{"currency_code": currency, "value": v}, nil
}

// paypalRelatedID derives a stable 17-character id (an order or refund id)
// from another one, so that a duplicate render is byte-identical.
func paypalRelatedID(from string) string {
	if len(from) < 17 {
		return from
	}
	return from[len(from)-17:]
}

func paypalLink(path, rel, method string) map[string]string {
	return map[string]string{"href": paypalAPI + path, "rel": rel, "method": method}
}

// renderPayPal writes the step as the webhook event PayPal sends: a capture
// for capture events, an authorization for authorization events, a refund for
// PAYMENT.CAPTURE.REFUNDED. A refund does not carry the captured amount, so the
// refund record also holds the refunded capture under "related_capture", as a
// receiver that follows the refund's "up" link would attach it (see
// normalizer.PayPal).
func renderPayPal(p Payment, s Step) ([]byte, error) {
	amount, err := paypalMoney(p.Amount, p.Currency)
	if err != nil {
		return nil, err
	}
	orderID := p.ID[9:] + p.ID[:9] // a stable, 17-character order id
	ref := "ord-" + strings.ToLower(p.ID[:8])
	created := p.Created.UTC().Format(time.RFC3339)
	at := s.At.UTC()
	resourceType := "capture"
	var resource map[string]any
	var related map[string]any
	var summary string

	switch s.Status {
	case pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED, pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		resourceType = "authorization"
		self := "/v2/payments/authorizations/" + p.ID
		links := []map[string]string{paypalLink(self, "self", "GET")}
		if s.Status == pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED {
			links = append(links, paypalLink(self+"/capture", "capture", "POST"), paypalLink(self+"/void", "void", "POST"))
			summary = fmt.Sprintf("A payment authorization was created for %s %s", amount["value"], p.Currency)
		} else {
			summary = "A payment authorization was voided"
		}
		links = append(links, paypalLink("/v2/checkout/orders/"+orderID, "up", "GET"))
		resource = map[string]any{
			"id":                 p.ID,
			"status":             paypalResourceStatus[s.Status],
			"amount":             amount,
			"custom_id":          ref,
			"supplementary_data": map[string]any{"related_ids": map[string]string{"order_id": orderID}},
			"seller_protection":  map[string]any{"status": "ELIGIBLE", "dispute_categories": []string{"ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"}},
			"expiration_time":    p.Created.UTC().Add(29 * 24 * time.Hour).Format(time.RFC3339),
			"create_time":        created,
			"update_time":        at.Truncate(time.Second).Format(time.RFC3339),
			"links":              links,
		}

	case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		resourceType = "refund"
		// Each synthetic life refunds once, so this refund is the whole total.
		refund, err := paypalMoney(s.Refunded, p.Currency)
		if err != nil {
			return nil, err
		}
		refundID := paypalRelatedID(s.EventID)
		resource = map[string]any{
			"id":     refundID,
			"status": "COMPLETED",
			"amount": refund,
			"seller_payable_breakdown": map[string]any{
				"gross_amount":          refund,
				"net_amount":            refund,
				"total_refunded_amount": refund,
			},
			"invoice_id":  "INV-" + p.ID[:10],
			"create_time": at.Truncate(time.Second).Format(time.RFC3339),
			"update_time": at.Truncate(time.Second).Format(time.RFC3339),
			"links": []map[string]string{
				paypalLink("/v2/payments/refunds/"+refundID, "self", "GET"),
				paypalLink("/v2/payments/captures/"+p.ID, "up", "GET"),
			},
		}
		related = paypalCapture(p, s, amount, orderID, ref, created)
		summary = fmt.Sprintf("A %s %s capture payment was refunded", refund["value"], p.Currency)

	default: // capture: PENDING, COMPLETED, DENIED
		resource = paypalCapture(p, s, amount, orderID, ref, created)
		summary = fmt.Sprintf("Payment %s for %s %s", strings.ToLower(paypalResourceStatus[s.Status]), amount["value"], p.Currency)
	}

	event := map[string]any{
		"id":               s.EventID,
		"event_version":    "1.0",
		"create_time":      at.Format("2006-01-02T15:04:05.000Z07:00"),
		"resource_type":    resourceType,
		"resource_version": "2.0",
		"event_type":       paypalEventType[s.Status],
		"summary":          summary,
		"resource":         resource,
		"links": []map[string]string{
			paypalLink("/v1/notifications/webhooks-events/"+s.EventID, "self", "GET"),
			paypalLink("/v1/notifications/webhooks-events/"+s.EventID+"/resend", "resend", "POST"),
		},
	}
	if related != nil {
		event["related_capture"] = related
	}
	return json.Marshal(event)
}

// paypalCapture is the capture object in the state the step leaves it.
func paypalCapture(p Payment, s Step, amount map[string]string, orderID, ref, created string) map[string]any {
	self := "/v2/payments/captures/" + p.ID
	c := map[string]any{
		"id":                 p.ID,
		"status":             paypalResourceStatus[s.Status],
		"amount":             amount,
		"final_capture":      true,
		"custom_id":          ref,
		"supplementary_data": map[string]any{"related_ids": map[string]string{"order_id": orderID}},
		"create_time":        created,
		"update_time":        s.At.UTC().Truncate(time.Second).Format(time.RFC3339),
		"links": []map[string]string{
			paypalLink(self, "self", "GET"),
			paypalLink(self+"/refund", "refund", "POST"),
			paypalLink("/v2/checkout/orders/"+orderID, "up", "GET"),
		},
	}
	switch s.Status {
	case pb.PaymentStatus_PAYMENT_STATUS_PENDING:
		c["status_details"] = map[string]string{"reason": "PENDING_REVIEW"}
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		c["processor_response"] = map[string]string{"avs_code": "N", "cvv_code": "N", "response_code": "0500"}
	case pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:
		c["seller_receivable_breakdown"] = map[string]any{"gross_amount": amount}
	}
	return c
}
