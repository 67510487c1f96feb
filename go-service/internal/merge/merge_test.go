package merge

import (
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

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

const (
	razorpay = pb.Gateway_GATEWAY_RAZORPAY
	paypal   = pb.Gateway_GATEWAY_PAYPAL
	square   = pb.Gateway_GATEWAY_SQUARE
	partial  = pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED
)

// on is p of gateway g.
func on(g pb.Gateway, p *pb.Payment) *pb.Payment {
	p.Gateway = g
	return p
}

// at is p as of second sec.
func at(sec int64, p *pb.Payment) *pb.Payment {
	p.UpdatedAt = timestamppb.New(time.Unix(sec, 0))
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
		{"razorpay failed is final", []*pb.Payment{on(razorpay, pay(pending, 100, 0)), on(razorpay, pay(failed, 100, 0)), on(razorpay, pay(completed, 100, 0))}, failed, 0},
		{"adyen refused authorisation is final", []*pb.Payment{adyen(failed, 0), adyen(pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED, 0), adyen(completed, 0)}, failed, 0},
		{"square failed is final", []*pb.Payment{on(square, pay(failed, 100, 0)), on(square, pay(completed, 100, 0))}, failed, 0},
		{"paypal denied is final", []*pb.Payment{on(paypal, pay(failed, 100, 0)), on(paypal, pay(completed, 100, 0))}, failed, 0},
		{"stripe failed then succeeded", []*pb.Payment{pay(pending, 100, 0), pay(failed, 100, 0), pay(completed, 100, 0)}, completed, 0},
		{"stripe failed then refunded", []*pb.Payment{pay(failed, 100, 0), pay(partial, 100, 30)}, partial, 30},
		{"stripe failed, then an earlier pending of that attempt", []*pb.Payment{at(2, pay(failed, 100, 0)), at(1, pay(pending, 100, 0))}, failed, 0},
		{"stripe failed, then a retry in progress", []*pb.Payment{at(1, pay(failed, 100, 0)), at(2, pay(pending, 100, 0))}, failed, 0},
		{"stripe failed, then canceled", []*pb.Payment{at(2, pay(failed, 100, 0)), at(1, pay(canceled, 100, 0))}, canceled, 0},
		{"stripe canceled is final", []*pb.Payment{pay(failed, 100, 0), at(5, pay(canceled, 100, 0)), at(6, pay(completed, 100, 0))}, canceled, 0},
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
				var err error
				if state, err = Merge(state, e); err != nil {
					t.Fatal(err)
				}
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

// A Stripe PaymentIntent that failed and was then paid ends COMPLETED, and
// the failure's reason goes with the failure.
func TestMergeStripeFailThenSucceedClearsFailureReason(t *testing.T) {
	fail := at(100, pay(failed, 5000, 0))
	fail.FailureReason = "Your card was declined."
	fail.EventId = "evt_fail"
	succeed := at(160, pay(completed, 5000, 0))
	succeed.EventId = "evt_ok"
	state, err := Merge(nil, fail)
	if err != nil {
		t.Fatal(err)
	}
	if state, err = Merge(state, succeed); err != nil {
		t.Fatal(err)
	}
	if state.GetStatus() != completed || state.GetFailureReason() != "" || state.GetEventId() != "evt_ok" {
		t.Fatalf("got %v reason %q event %s, want COMPLETED, no reason, evt_ok", state.GetStatus(), state.GetFailureReason(), state.GetEventId())
	}
}

func TestFinalityTableCoversEveryGateway(t *testing.T) {
	for v, name := range pb.Gateway_name {
		g := pb.Gateway(v)
		if g == pb.Gateway_GATEWAY_UNSPECIFIED {
			continue
		}
		if _, ok := finalStatuses[g]; !ok {
			t.Errorf("%s has no row in finalStatuses", name)
		}
		if !isFinal(g, refunded) || !isFinal(g, canceled) || isFinal(g, completed) {
			t.Errorf("%s: REFUNDED and CANCELED must be final, COMPLETED not", name)
		}
	}
	if isFinal(pb.Gateway_GATEWAY_STRIPE, failed) {
		t.Error("a Stripe PaymentIntent that failed can still succeed: FAILED is not final there")
	}
}

// Money that would come out wrong is not folded in: the state stays as it was.
func TestMergeRefusesWhatWouldMakeMoneyWrong(t *testing.T) {
	refund := func(amount int64, currency string) *pb.Payment {
		p := adyen(partial, 0)
		p.Refunded = &pb.Money{AmountMinor: amount, Currency: currency}
		return p
	}
	big := adyen(completed, 0)
	big.Amount.AmountMinor = math.MaxInt64
	tests := []struct {
		name   string
		state  *pb.Payment
		event  *pb.Payment
		reason string
	}{
		{"two huge adyen refunds", mustMerge(t, big, refund(math.MaxInt64-10, "USD")), refund(11, "USD"), ReasonOverflow},
		{"adyen refund in another currency", adyen(completed, 0), refund(30, "EUR"), ReasonCurrencyMismatch},
		{"stripe refund in another currency", pay(completed, 100, 0), on(pb.Gateway_GATEWAY_STRIPE, &pb.Payment{Id: "pi_1", Status: partial, Refunded: &pb.Money{AmountMinor: 30, Currency: "EUR"}}), ReasonCurrencyMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(tc.state, tc.event)
			var nf *NotFolded
			if !errors.As(err, &nf) || nf.Reason != tc.reason {
				t.Fatalf("err = %v, want NotFolded %s", err, tc.reason)
			}
			if got != tc.state {
				t.Fatal("a refused event changed the state")
			}
		})
	}
}

func mustMerge(t *testing.T, events ...*pb.Payment) *pb.Payment {
	t.Helper()
	var state *pb.Payment
	for _, e := range events {
		var err error
		if state, err = Merge(state, e); err != nil {
			t.Fatal(err)
		}
	}
	return state
}
