package stream

import (
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

func final(s pb.PaymentStatus) bool {
	return s == pb.PaymentStatus_PAYMENT_STATUS_FAILED ||
		s == pb.PaymentStatus_PAYMENT_STATUS_CANCELED ||
		s == pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
}

// Merge applies event to the latest known state of its payment and returns
// the new state (cur is not modified; cur may be nil). The rules:
//   - FAILED, CANCELED and REFUNDED are final;
//   - FAILED and CANCELED apply only before completion (a capture is not undone);
//   - otherwise the status only moves forward: PENDING < AUTHORIZED <
//     COMPLETED < PARTIALLY_REFUNDED < REFUNDED;
//   - refunded only grows (gateways report the running total), and once
//     anything is refunded the status follows from refunded vs amount.
func Merge(cur, event *pb.Payment) *pb.Payment {
	if cur == nil {
		return proto.Clone(event).(*pb.Payment)
	}
	next := proto.Clone(cur).(*pb.Payment)
	next.EventId, next.Source = event.GetEventId(), event.GetSource()
	if later(event, cur) {
		next.UpdatedAt = event.GetUpdatedAt()
	}
	fillMissing(next, event)
	if !final(cur.GetStatus()) {
		next.Status, next.FailureReason = advance(cur, event)
	}
	if refunded := refundedAfter(cur, event); refunded != nil && !failedOrCanceled(next.GetStatus()) {
		next.Refunded = refunded
		next.Status = refundStatus(next)
	}
	return next
}

// refundedAfter returns the payment's refunded total after event, or nil if
// the event refunds nothing new. Most gateways report the running total, so
// it only grows; an Adyen REFUND notification carries that one refund's
// amount, so Adyen refunds add up (each event counts once: duplicates were
// dropped before Merge).
func refundedAfter(cur, event *pb.Payment) *pb.Money {
	r := event.GetRefunded()
	if r.GetAmountMinor() == 0 {
		return nil
	}
	if event.GetGateway() == pb.Gateway_GATEWAY_ADYEN {
		return &pb.Money{AmountMinor: cur.GetRefunded().GetAmountMinor() + r.GetAmountMinor(), Currency: r.GetCurrency()}
	}
	if r.GetAmountMinor() > cur.GetRefunded().GetAmountMinor() {
		return r
	}
	return nil
}

func advance(cur, event *pb.Payment) (pb.PaymentStatus, string) {
	s := event.GetStatus()
	if failedOrCanceled(s) {
		if rank[cur.GetStatus()] < rank[pb.PaymentStatus_PAYMENT_STATUS_COMPLETED] {
			return s, event.GetFailureReason()
		}
		return cur.GetStatus(), cur.GetFailureReason()
	}
	if rank[s] > rank[cur.GetStatus()] {
		return s, cur.GetFailureReason()
	}
	return cur.GetStatus(), cur.GetFailureReason()
}

func failedOrCanceled(s pb.PaymentStatus) bool {
	return s == pb.PaymentStatus_PAYMENT_STATUS_FAILED || s == pb.PaymentStatus_PAYMENT_STATUS_CANCELED
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
