package main

import (
	"testing"

	"example.com/pipeline/go-service/pb"
)

func TestSeenFirst(t *testing.T) {
	completed := pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	failed := pb.PaymentStatus_PAYMENT_STATUS_FAILED
	s := seen{}
	for _, tc := range []struct {
		id     string
		status pb.PaymentStatus
		want   bool
	}{
		{"pi_1", completed, true},
		{"pi_1", completed, false}, // the same record again
		{"pi_2", completed, true},
		{"pi_1", failed, true}, // a new status is news
	} {
		if got := s.first(&pb.Payment{Id: tc.id, Status: tc.status}); got != tc.want {
			t.Errorf("first(%s %v) = %v, want %v", tc.id, tc.status, got, tc.want)
		}
	}
}
