package main

import (
	"testing"

	"learner.example/go-service/pb"
)

// The exercise's type, fed records the way a consumer sees them after a
// rebalance: some again, some with a new status.
func TestCheck05xSeenDropsTheDuplicates(t *testing.T) {
	pending := pb.PaymentStatus_PAYMENT_STATUS_PENDING
	completed := pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	refunded := pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
	s := seen{} // ready to use as it is: the server starts with `published := seen{}`
	for i, step := range []struct {
		id     string
		status pb.PaymentStatus
		want   bool
		why    string
	}{
		{"pi_check5x_a", pending, true, "a payment never seen"},
		{"pi_check5x_a", pending, false, "the same id and status again (a record read twice)"},
		{"pi_check5x_b", pending, true, "another id with the same status"},
		{"pi_check5x_a", completed, true, "a new status for a known id"},
		{"pi_check5x_a", completed, false, "that new status again"},
		{"pi_check5x_b", pending, false, "the other id's record again, later"},
		{"pi_check5x_a", refunded, true, "a third status"},
	} {
		p := &pb.Payment{Id: step.id, Gateway: pb.Gateway_GATEWAY_STRIPE, Status: step.status,
			Amount: &pb.Money{AmountMinor: int64(100 + i), Currency: "USD"}}
		if got := s.first(p); got != step.want {
			t.Errorf("step %d, %s: first(%s %v) = %v, want %v", i+1, step.why, step.id, step.status, got, step.want)
		}
	}
}
