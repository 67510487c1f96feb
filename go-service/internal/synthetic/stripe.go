package synthetic

import (
	"encoding/json"
	"math/rand/v2"
	"strings"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func init() {
	register(gateway{
		pb:         pb.Gateway_GATEWAY_STRIPE,
		name:       "stripe",
		currencies: []string{"USD", "USD", "USD", "EUR", "GBP", "JPY", "KWD"},
		methods:    []string{"card"},
		newID:      func(r *rand.Rand) string { return randomID(r, "pi_", 24, alnum) },
		newEventID: func(r *rand.Rand) string { return randomID(r, "evt_", 24, alnum) },
		lifecycle:  stripeLifecycle,
		render:     renderStripe,
	})
}

func stripeLifecycle(outcome pb.PaymentStatus) []pb.PaymentStatus {
	switch outcome {
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_PENDING, outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_CANCELED, pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED, outcome}[:lenFor(outcome)]
	case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, outcome}
	}
	return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_COMPLETED}
}

// lenFor makes AUTHORIZED alone a one-step life and CANCELED a two-step one.
func lenFor(outcome pb.PaymentStatus) int {
	if outcome == pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED {
		return 1
	}
	return 2
}

var stripeEventType = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_PENDING:            "payment_intent.processing",
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "payment_intent.amount_capturable_updated",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "payment_intent.succeeded",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "payment_intent.payment_failed",
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:           "payment_intent.canceled",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "charge.refunded",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "charge.refunded",
}

var stripeIntentState = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_PENDING:    "processing",
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED: "requires_capture",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:  "succeeded",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:     "requires_payment_method",
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:   "canceled",
}

func renderStripe(p Payment, s Step) ([]byte, error) {
	var object map[string]any
	if s.Status == pb.PaymentStatus_PAYMENT_STATUS_REFUNDED || s.Status == pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED {
		object = map[string]any{
			"id":                     "ch_" + strings.TrimPrefix(p.ID, "pi_"),
			"object":                 "charge",
			"amount":                 p.Amount,
			"amount_captured":        p.Amount,
			"amount_refunded":        s.Refunded,
			"currency":               strings.ToLower(p.Currency),
			"created":                p.Created.Unix(),
			"payment_intent":         p.ID,
			"refunded":               s.Refunded >= p.Amount,
			"receipt_email":          p.Email,
			"billing_details":        map[string]any{"email": p.Email},
			"payment_method_details": map[string]any{"type": p.Method},
			"metadata":               map[string]string{"order_id": "ord_" + p.ID[3:11]},
			"status":                 "succeeded",
		}
	} else {
		object = map[string]any{
			"id":                   p.ID,
			"object":               "payment_intent",
			"amount":               p.Amount,
			"amount_received":      receivedFor(p, s),
			"currency":             strings.ToLower(p.Currency),
			"created":              p.Created.Unix(),
			"status":               stripeIntentState[s.Status],
			"receipt_email":        p.Email,
			"payment_method_types": []string{p.Method},
			"metadata":             map[string]string{"order_id": "ord_" + p.ID[3:11]},
			"livemode":             false,
		}
		if s.Status == pb.PaymentStatus_PAYMENT_STATUS_FAILED {
			object["last_payment_error"] = map[string]any{"code": "card_declined", "decline_code": "generic_decline", "message": s.FailureReason, "type": "card_error"}
		}
		if s.Status == pb.PaymentStatus_PAYMENT_STATUS_CANCELED {
			object["cancellation_reason"] = "requested_by_customer"
		}
	}
	return json.Marshal(map[string]any{
		"id":          s.EventID,
		"object":      "event",
		"api_version": "2024-06-20",
		"created":     s.At.Unix(),
		"type":        stripeEventType[s.Status],
		"livemode":    false,
		"data":        map[string]any{"object": object},
	})
}

func receivedFor(p Payment, s Step) int64 {
	if s.Status == pb.PaymentStatus_PAYMENT_STATUS_COMPLETED {
		return p.Amount
	}
	return 0
}
