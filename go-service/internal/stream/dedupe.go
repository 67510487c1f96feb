package stream

import "github.com/paymentgateway/aggregator/go-service/pb"

// seenSet remembers the last n (gateway, event id) pairs. A gateway that
// retries a webhook, or a raw record consumed twice after a crash, gives the
// same pair again; within the window it is dropped.
type seenSet struct {
	keys []eventKey
	next int
	set  map[eventKey]struct{}
}

type eventKey struct {
	gateway pb.Gateway
	id      string
}

func newSeenSet(n int) *seenSet {
	return &seenSet{keys: make([]eventKey, n), set: make(map[eventKey]struct{}, min(n, 1<<16))}
}

// add reports whether the pair is new, remembering it.
func (s *seenSet) add(g pb.Gateway, id string) bool {
	k := eventKey{g, id}
	if _, ok := s.set[k]; ok {
		return false
	}
	if old := s.keys[s.next]; old.id != "" {
		delete(s.set, old)
	}
	s.keys[s.next] = k
	s.next = (s.next + 1) % len(s.keys)
	s.set[k] = struct{}{}
	return true
}
