package synthetic

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func init() {
	register(gateway{
		pb:         pb.Gateway_GATEWAY_RAZORPAY,
		name:       "razorpay",
		currencies: []string{"INR"},
		methods:    []string{"upi", "card", "netbanking", "wallet"},
		newID:      func(r *rand.Rand) string { return randomID(r, "pay_", 14, alnum) },
		// Razorpay's event id travels in the X-Razorpay-Event-Id header, not
		// the body; the normalizer hashes the record instead.
		newEventID: func(r *rand.Rand) string { return "" },
		lifecycle:  razorpayLifecycle,
		render:     renderRazorpay,
	})
}

func razorpayLifecycle(outcome pb.PaymentStatus) []pb.PaymentStatus {
	switch outcome {
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED, pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:
		return []pb.PaymentStatus{outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		// Razorpay has no cancel: an uncaptured authorization is refunded.
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED}
	case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED, pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, outcome}
	}
	return []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED, pb.PaymentStatus_PAYMENT_STATUS_COMPLETED}
}

var razorpayEvent = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "payment.authorized",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "payment.captured",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "payment.failed",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "refund.processed",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "refund.processed",
}

var razorpayState = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "authorized",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "captured",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "failed",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "refunded",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "captured",
}

func renderRazorpay(p Payment, s Step) ([]byte, error) {
	entity := map[string]any{
		"id":                p.ID,
		"entity":            "payment",
		"amount":            p.Amount,
		"currency":          p.Currency,
		"status":            razorpayState[s.Status],
		"order_id":          "order_" + p.ID[4:],
		"method":            p.Method,
		"amount_refunded":   s.Refunded,
		"refund_status":     nil,
		"captured":          s.Status != pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED && s.Status != pb.PaymentStatus_PAYMENT_STATUS_FAILED,
		"email":             p.Email,
		"contact":           "+919000090000",
		"notes":             []any{},
		"fee":               nil,
		"tax":               nil,
		"error_code":        nil,
		"error_description": nil,
		"created_at":        p.Created.Unix(),
	}
	payload := map[string]any{"payment": map[string]any{"entity": entity}}
	contains := []string{"payment"}
	switch s.Status {
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		entity["error_code"] = "BAD_REQUEST_ERROR"
		entity["error_description"] = s.FailureReason
		entity["error_reason"] = "payment_failed"
	case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:
		entity["refund_status"] = "full"
	case pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		entity["refund_status"] = "partial"
	case pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:
		entity["notes"] = map[string]string{"order_ref": "ORD-" + p.ID[4:10]}
	}
	if s.Refunded > 0 {
		payload["refund"] = map[string]any{"entity": map[string]any{
			"id": "rfnd_" + p.ID[4:], "entity": "refund", "amount": s.Refunded, "currency": p.Currency,
			"payment_id": p.ID, "status": "processed", "created_at": s.At.Unix(),
		}}
		contains = []string{"refund", "payment"}
	}
	return json.Marshal(map[string]any{
		"entity":     "event",
		"account_id": "acc_BFQ7uQEaa7j2z7",
		"event":      razorpayEvent[s.Status],
		"contains":   contains,
		"payload":    payload,
		"created_at": s.At.Unix(),
	})
}
