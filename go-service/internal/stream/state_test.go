package stream

import (
	"testing"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func pay(status pb.PaymentStatus, amount, refunded int64) *pb.Payment {
	p := &pb.Payment{Id: "pi_1", Gateway: pb.Gateway_GATEWAY_STRIPE, Status: status, Amount: &pb.Money{AmountMinor: amount, Currency: "USD"}}
	if refunded > 0 {
		p.Refunded = &pb.Money{AmountMinor: refunded, Currency: "USD"}
	}
	return p
}

// adyen is an Adyen event: a REFUND carries that one refund's amount.
func adyen(status pb.PaymentStatus, refund int64) *pb.Payment {
	p := pay(status, 100, refund)
	p.Gateway = pb.Gateway_GATEWAY_ADYEN
	return p
}

func TestMergeNeverMovesBackwards(t *testing.T) {
	const (
		pending    = pb.PaymentStatus_PAYMENT_STATUS_PENDING
		authorized = pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
		completed  = pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
		failed     = pb.PaymentStatus_PAYMENT_STATUS_FAILED
		canceled   = pb.PaymentStatus_PAYMENT_STATUS_CANCELED
		refunded   = pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
		partial    = pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
	)
	tests := []struct {
		name         string
		events       []*pb.Payment
		want         pb.PaymentStatus
		wantRefunded int64
	}{
		{"in order", []*pb.Payment{pay(pending, 100, 0), pay(authorized, 100, 0), pay(completed, 100, 0)}, completed, 0},
		{"late pending after completed", []*pb.Payment{pay(completed, 100, 0), pay(pending, 100, 0)}, completed, 0},
		{"failed is final", []*pb.Payment{pay(pending, 100, 0), pay(failed, 100, 0), pay(completed, 100, 0)}, failed, 0},
		{"canceled is final", []*pb.Payment{pay(authorized, 100, 0), pay(canceled, 100, 0), pay(authorized, 100, 0)}, canceled, 0},
		{"failure after completion does not undo it", []*pb.Payment{pay(completed, 100, 0), pay(failed, 100, 0)}, completed, 0},
		{"partial then full refund", []*pb.Payment{pay(completed, 100, 0), pay(partial, 100, 30), pay(refunded, 100, 100)}, refunded, 100},
		{"refund before completion arrives", []*pb.Payment{pay(partial, 100, 30), pay(completed, 100, 0)}, partial, 30},
		{"refunded only grows", []*pb.Payment{pay(completed, 100, 0), pay(partial, 100, 60), pay(partial, 100, 30)}, partial, 60},
		{"refunded is final", []*pb.Payment{pay(refunded, 100, 100), pay(completed, 100, 0)}, refunded, 100},
		{"adyen refunds add up", []*pb.Payment{adyen(completed, 0), adyen(partial, 30), adyen(partial, 30), adyen(refunded, 40)}, refunded, 100},
		{"adyen partial refunds stay partial", []*pb.Payment{adyen(completed, 0), adyen(partial, 30), adyen(partial, 30)}, partial, 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var state *pb.Payment
			for _, e := range tc.events {
				before := state
				state = Merge(state, e)
				if before != nil && before == state {
					t.Fatal("Merge modified its input")
				}
			}
			if state.GetStatus() != tc.want || state.GetRefunded().GetAmountMinor() != tc.wantRefunded {
				t.Fatalf("got %v refunded %d, want %v refunded %d", state.GetStatus(), state.GetRefunded().GetAmountMinor(), tc.want, tc.wantRefunded)
			}
		})
	}
}
