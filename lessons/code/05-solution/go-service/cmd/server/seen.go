package main

import "example.com/pipeline/go-service/pb"

// seen remembers the last status published for each payment id, so that a
// record read twice (at-least-once) is published once. It lives in memory:
// after a restart the gRPC server's state is empty too.
type seen map[string]pb.PaymentStatus

// first reports whether p is news: an id not seen yet, or a new status.
func (s seen) first(p *pb.Payment) bool {
	if last, ok := s[p.GetId()]; ok && last == p.GetStatus() {
		return false
	}
	s[p.GetId()] = p.GetStatus()
	return true
}
