package synthetic

import (
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func init() {
	register(gateway{
		pb:         pb.Gateway_GATEWAY_SQUARE,
		name:       "square",
		currencies: []string{"USD", "USD", "CAD", "GBP", "JPY", "AUD"},
		methods:    []string{"card", "card", "wallet"},
		// Square payment ids are 22 to 29 letters and digits.
		newID:      func(r *rand.Rand) string { return randomID(r, "", 22+r.IntN(8), alnum) },
		newEventID: squareEventID,
		lifecycle:  squareLifecycle,
		render:     renderSquare,
	})
}

// squareEventID returns a random version-4 UUID, the form of Square's event_id.
func squareEventID(r *rand.Rand) string {
	const hex = "0123456789abcdef"
	b := []byte(randomID(r, "", 32, hex))
	b[12] = '4'              // version 4
	b[16] = hex[8+r.IntN(4)] // RFC 4122 variant: 8, 9, a or b
	return string(b[0:8]) + "-" + string(b[8:12]) + "-" + string(b[12:16]) + "-" + string(b[16:20]) + "-" + string(b[20:32])
}

// squareLifecycle: a plain sale is created COMPLETED (autocomplete, Square's
// default), so the simple mix is all completed payments; a delayed capture is
// APPROVED, then COMPLETED (and refunded) or CANCELED; a payment that fails
// is PENDING first.
func squareLifecycle(outcome pb.PaymentStatus) []pb.PaymentStatus {
	const (
		approved  = pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
		completed = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	)
	switch outcome {
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_PENDING, outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		return []pb.PaymentStatus{approved, outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:
		return []pb.PaymentStatus{approved}
	case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		return []pb.PaymentStatus{approved, completed, outcome}
	}
	return []pb.PaymentStatus{completed}
}

// squarePaymentStatus is Payment.status; refunds leave a payment COMPLETED.
var squarePaymentStatus = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_PENDING:            "PENDING",
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "APPROVED",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "COMPLETED",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "FAILED",
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:           "CANCELED",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "COMPLETED",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "COMPLETED",
}

// squareDetailsStatus is card_details.status / wallet_details.status.
var squareDetailsStatus = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "AUTHORIZED",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "CAPTURED",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "FAILED",
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:           "VOIDED",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "CAPTURED",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "CAPTURED",
}

// squareVersion is the payment's version number after the step: it grows
// with every change Square makes to the payment.
var squareVersion = map[pb.PaymentStatus]int{
	pb.PaymentStatus_PAYMENT_STATUS_PENDING:            1,
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         1,
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          3,
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             2,
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:           2,
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           5,
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: 5,
}

// squareLocation is one seller location per country, as Square ties a
// location to one currency.
var squareLocation = map[string]string{
	"USD": "LH2XQ7N4M9K1P", "CAD": "LCA5T8PQ2ZR7W", "GBP": "LGB6W2RN8QT4K",
	"JPY": "LJP3K7TQ9WN2R", "AUD": "LAU9R4TK2WQ6N",
}

const squareTime = "2006-01-02T15:04:05.000Z07:00" // Square's RFC 3339, to the millisecond

func renderSquare(p Payment, s Step) ([]byte, error) {
	// A tip on some card sales: amount_money plus tip_money is total_money,
	// and total_money is the payment's amount.
	tip := int64(0)
	if p.Method == "card" && p.Currency != "JPY" && p.ID[0]%4 == 0 {
		tip = p.Amount / 6
	}
	money := func(amount int64) map[string]any { return map[string]any{"amount": amount, "currency": p.Currency} }
	at := s.At.UTC().Format(squareTime)
	payment := map[string]any{
		"id":                  p.ID,
		"created_at":          p.Created.UTC().Format(squareTime),
		"updated_at":          at,
		"amount_money":        money(p.Amount - tip),
		"total_money":         money(p.Amount),
		"status":              squarePaymentStatus[s.Status],
		"location_id":         squareLocation[p.Currency],
		"order_id":            squareDerivedID(p.ID, 'o'),
		"reference_id":        "ORD-" + p.ID[:8],
		"buyer_email_address": p.Email,
		"application_details": map[string]any{"square_product": "ECOMMERCE_API", "application_id": "sq0idp-4kVn2Rx8TqLm0WcZ7bHs1A"},
		"version_token":       squareDerivedID(p.ID, 'v'),
		"version":             squareVersion[s.Status],
	}
	if tip > 0 {
		payment["tip_money"] = money(tip)
	}
	switch s.Status {
	case pb.PaymentStatus_PAYMENT_STATUS_PENDING, pb.PaymentStatus_PAYMENT_STATUS_FAILED:
	default:
		payment["approved_money"] = money(p.Amount)
	}
	if s.Status == pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED || s.Status == pb.PaymentStatus_PAYMENT_STATUS_CANCELED {
		payment["delay_duration"] = "PT168H"
		payment["delay_action"] = "CANCEL"
		payment["delayed_until"] = p.Created.Add(168 * time.Hour).UTC().Format(squareTime)
	}
	if s.Refunded > 0 {
		payment["refunded_money"] = money(s.Refunded)
		payment["refund_ids"] = []string{p.ID + "_" + squareDerivedID(p.ID, 'r')}
	}
	if squareCaptured(s.Status) {
		payment["receipt_number"] = p.ID[:4]
		payment["receipt_url"] = "https://squareup.com/receipt/preview/" + p.ID
	}

	details := map[string]any{}
	if st, ok := squareDetailsStatus[s.Status]; ok {
		details["status"] = st
	}
	if s.Status == pb.PaymentStatus_PAYMENT_STATUS_FAILED {
		details["errors"] = []map[string]string{{
			"category": "PAYMENT_METHOD_ERROR",
			"code":     "GENERIC_DECLINE",
			"detail":   s.FailureReason,
		}}
	}
	switch p.Method {
	case "wallet":
		payment["source_type"] = "WALLET"
		details["brand"] = "CASH_APP"
		if p.Currency == "JPY" {
			details["brand"] = "PAYPAY"
		}
		payment["wallet_details"] = details
	default:
		payment["source_type"] = "CARD"
		details["card"] = map[string]any{
			"card_brand": "VISA", "last_4": "1111", "exp_month": 12, "exp_year": 2030,
			"card_type": "CREDIT", "prepaid_type": "NOT_PREPAID", "bin": "411111",
		}
		details["entry_method"] = "KEYED"
		details["cvv_status"] = "CVV_ACCEPTED"
		details["avs_status"] = "AVS_ACCEPTED"
		details["statement_description"] = "SQ *SYNTHETIC STORE"
		timeline := map[string]any{}
		if s.Status != pb.PaymentStatus_PAYMENT_STATUS_PENDING && s.Status != pb.PaymentStatus_PAYMENT_STATUS_FAILED {
			timeline["authorized_at"] = p.Created.UTC().Format(squareTime)
		}
		if s.Status == pb.PaymentStatus_PAYMENT_STATUS_COMPLETED {
			timeline["captured_at"] = at
		}
		if s.Status == pb.PaymentStatus_PAYMENT_STATUS_CANCELED {
			timeline["voided_at"] = at
		}
		details["card_payment_timeline"] = timeline
		payment["card_details"] = details
	}

	// The event sent the instant the payment was created announces it; every
	// later one is an update (a refund included: Square sends payment.updated
	// with the new refunded_money).
	eventType := "payment.updated"
	if s.At.Equal(p.Created) {
		eventType = "payment.created"
	}
	return json.Marshal(map[string]any{
		"merchant_id": "MLQW8ZK3T5B2R",
		"type":        eventType,
		"event_id":    s.EventID,
		// Square stamps the event a moment after the payment changed.
		"created_at": s.At.Add(137 * time.Millisecond).UTC().Format(squareTime),
		"data": map[string]any{
			"type":   "payment",
			"id":     p.ID,
			"object": map[string]any{"payment": payment},
		},
	})
}

func squareCaptured(st pb.PaymentStatus) bool {
	switch st {
	case pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		return true
	}
	return false
}

// squareDerivedID makes a stable id of Square's shape from the payment id, so
// that every event of a payment names the same order, refund and so on.
func squareDerivedID(paymentID string, salt byte) string {
	b := make([]byte, 29)
	h := uint32(2166136261) ^ uint32(salt)
	for i := range b {
		h = (h ^ uint32(paymentID[i%len(paymentID)])) * 16777619
		b[i] = alnum[h%uint32(len(alnum))]
	}
	return string(b)
}
