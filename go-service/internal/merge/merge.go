// Package merge folds a payment's events into its latest state: the pure
// rules the state stage applies to each event (and nothing else does).
package merge

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// rank orders the states a payment moves through. A state never moves to a
// lower rank: a late PENDING after COMPLETED does not undo it.
var rank = map[pb.PaymentStatus]int{
	pb.PaymentStatus_PAYMENT_STATUS_PENDING:            1,
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         2,
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          3,
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: 4,
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           5,
}

// finalStatuses says, per gateway, which statuses end a payment: no later
// event changes its status. Finality is a fact of each gateway's payment
// object, not of the status (the README's finality table gives the sources):
//   - Stripe: a PaymentIntent whose attempt failed returns to
//     requires_payment_method and the customer may retry it, so the same pi_…
//     can still succeed: FAILED is not final. A canceled PaymentIntent cannot
//     be used again.
//   - Razorpay: a failed payment id stays failed; a retry is a new pay_… id.
//   - PayPal: a DENIED capture and a VOIDED authorization are final.
//   - Adyen: a refused AUTHORISATION ends that pspReference (a retry gets a
//     new one), as do a cancellation and a failed capture.
//   - Square: FAILED and CANCELED are terminal Payment statuses.
//
// A full refund is final everywhere. A gateway not in the table (none today)
// gets the strictest rule.
var finalStatuses = map[pb.Gateway][]pb.PaymentStatus{
	pb.Gateway_GATEWAY_STRIPE:   {canceled, refunded},
	pb.Gateway_GATEWAY_RAZORPAY: {failed, canceled, refunded},
	pb.Gateway_GATEWAY_PAYPAL:   {failed, canceled, refunded},
	pb.Gateway_GATEWAY_ADYEN:    {failed, canceled, refunded},
	pb.Gateway_GATEWAY_SQUARE:   {failed, canceled, refunded},
}

const (
	failed    = pb.PaymentStatus_PAYMENT_STATUS_FAILED
	canceled  = pb.PaymentStatus_PAYMENT_STATUS_CANCELED
	refunded  = pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
	completed = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
)

// isFinal reports whether status s ends a payment of gateway g.
func isFinal(g pb.Gateway, s pb.PaymentStatus) bool {
	statuses, ok := finalStatuses[g]
	if !ok {
		statuses = []pb.PaymentStatus{failed, canceled, refunded}
	}
	for _, f := range statuses {
		if f == s {
			return true
		}
	}
	return false
}

// NotFolded is why Merge refused an event: folding it in would make the
// payment's money wrong. The payment keeps its last correct state.
type NotFolded struct {
	Reason string // a metric label: "amount_overflow" or "currency_mismatch"
	Detail string
}

func (e *NotFolded) Error() string { return "event not folded in (" + e.Reason + "): " + e.Detail }

// Reasons Merge refuses an event.
const (
	ReasonOverflow         = "amount_overflow"
	ReasonCurrencyMismatch = "currency_mismatch"
)

// Merge applies event to the latest known state of its payment and returns
// the new state (cur is not modified; cur may be nil). The rules:
//   - a status that is final for the payment's gateway (finalStatuses) is
//     never left;
//   - FAILED and CANCELED apply only before completion (a capture is not undone);
//   - a FAILED that is not final (a Stripe PaymentIntent) moves on to
//     COMPLETED, a refund or CANCELED whenever they arrive, and to a later
//     FAILED (a retry that failed too, with its own reason); a retry still in
//     progress (PENDING, AUTHORIZED) does not show: its events cannot be told
//     from the failed attempt's own, delivered late;
//   - otherwise the status only moves forward: PENDING < AUTHORIZED <
//     COMPLETED < PARTIALLY_REFUNDED < REFUNDED;
//   - failure_reason belongs to FAILED and CANCELED: it is cleared when the
//     payment leaves them;
//   - refunded only grows (gateways report the running total), and once
//     anything is refunded the status follows from refunded vs amount.
//
// An event whose money cannot be folded in exactly (a sum past int64, a
// refund in another currency than the payment) is refused with *NotFolded and
// cur is returned unchanged: the caller counts and logs it.
func Merge(cur, event *pb.Payment) (*pb.Payment, error) {
	if cur == nil {
		return proto.Clone(event).(*pb.Payment), nil
	}
	refunded, err := refundedAfter(cur, event)
	if err != nil {
		return cur, err
	}
	next := proto.Clone(cur).(*pb.Payment)
	next.EventId, next.Source = event.GetEventId(), event.GetSource()
	if later(event, cur) {
		next.UpdatedAt = event.GetUpdatedAt()
	}
	fillMissing(next, event)
	if !isFinal(cur.GetGateway(), cur.GetStatus()) {
		next.Status, next.FailureReason = advance(cur, event)
	}
	if refunded != nil && !failedOrCanceled(next.GetStatus()) {
		next.Refunded = refunded
		next.Status = refundStatus(next)
	}
	return next, nil
}

// refundedAfter returns the payment's refunded total after event, or nil if
// the event refunds nothing new. Most gateways report the running total, so
// it only grows; an Adyen REFUND notification carries that one refund's
// amount, so Adyen refunds add up (each event counts once: duplicates were
// dropped before Merge, within the dedupe window), with checked arithmetic.
func refundedAfter(cur, event *pb.Payment) (*pb.Money, error) {
	r := event.GetRefunded()
	if r.GetAmountMinor() == 0 {
		return nil, nil
	}
	if want := paymentCurrency(cur); want != "" && r.GetCurrency() != want {
		return nil, &NotFolded{Reason: ReasonCurrencyMismatch,
			Detail: fmt.Sprintf("a refund in %s of a payment in %s", r.GetCurrency(), want)}
	}
	if event.GetGateway() == pb.Gateway_GATEWAY_ADYEN {
		have := cur.GetRefunded().GetAmountMinor()
		if r.GetAmountMinor() > math.MaxInt64-have {
			return nil, &NotFolded{Reason: ReasonOverflow,
				Detail: fmt.Sprintf("refunded %d + %d %s is more than an int64 holds", have, r.GetAmountMinor(), r.GetCurrency())}
		}
		return &pb.Money{AmountMinor: have + r.GetAmountMinor(), Currency: r.GetCurrency()}, nil
	}
	if r.GetAmountMinor() > cur.GetRefunded().GetAmountMinor() {
		return r, nil
	}
	return nil, nil
}

// paymentCurrency is the currency the payment's money is in, once known.
func paymentCurrency(p *pb.Payment) string {
	if c := p.GetAmount().GetCurrency(); c != "" {
		return c
	}
	return p.GetRefunded().GetCurrency()
}

func advance(cur, event *pb.Payment) (pb.PaymentStatus, string) {
	s, from := event.GetStatus(), cur.GetStatus()
	switch {
	case s == pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED:
		return from, cur.GetFailureReason()
	case from == failed: // not final for this gateway: the payment may be retried
		if rank[s] >= rank[completed] || s == canceled || s == failed && later(event, cur) {
			return s, reasonFor(s, event)
		}
		return from, cur.GetFailureReason()
	case failedOrCanceled(s):
		if rank[from] < rank[completed] {
			return s, event.GetFailureReason()
		}
		return from, cur.GetFailureReason()
	case rank[s] > rank[from]:
		return s, ""
	}
	return from, cur.GetFailureReason()
}

// reasonFor is the failure_reason that goes with status s after event.
func reasonFor(s pb.PaymentStatus, event *pb.Payment) string {
	if failedOrCanceled(s) {
		return event.GetFailureReason()
	}
	return ""
}

func failedOrCanceled(s pb.PaymentStatus) bool {
	return s == failed || s == canceled
}

func refundStatus(p *pb.Payment) pb.PaymentStatus {
	if p.GetRefunded().GetAmountMinor() >= p.GetAmount().GetAmountMinor() {
		return pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
	}
	return pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
}

func later(a, b *pb.Payment) bool {
	return a.GetUpdatedAt().AsTime().After(b.GetUpdatedAt().AsTime())
}

// fillMissing takes from event what the state does not know yet: events of
// one payment carry different subsets of its fields.
func fillMissing(next, event *pb.Payment) {
	if next.Amount == nil || next.Amount.AmountMinor == 0 {
		next.Amount = event.GetAmount()
	}
	if next.CreatedAt == nil || (event.CreatedAt != nil && event.CreatedAt.AsTime().Before(next.CreatedAt.AsTime())) {
		next.CreatedAt = event.GetCreatedAt()
	}
	if next.CustomerEmail == "" {
		next.CustomerEmail = event.GetCustomerEmail()
	}
	if next.Method == "" {
		next.Method = event.GetMethod()
	}
	for k, v := range event.GetMetadata() {
		if next.Metadata == nil {
			next.Metadata = map[string]string{}
		}
		next.Metadata[k] = v
	}
}
