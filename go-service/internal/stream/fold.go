package stream

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/merge"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// fold is the serve stage's own dedupe and merge, for a normalized topic of
// events rather than merged payments: it keeps every payment's state in
// memory. The state stage takes it over (issue 13); a hub without Fold
// publishes what it reads as it is.
type fold struct {
	states map[paymentKey]*pb.Payment
	dedupe *seenSet
	counts counts
}

type paymentKey struct {
	gateway pb.Gateway
	id      string
}

func newFold(dedupeWindow int) *fold {
	return &fold{states: map[paymentKey]*pb.Payment{}, dedupe: newSeenSet(dedupeWindow), counts: newCounts()}
}

// apply folds event in and returns the payment's new state, or nil when the
// event is a duplicate or Merge refused it (err says why, *NotFolded). err
// may also report *Saturated with a state: that event was applied.
func (f *fold) apply(event *pb.Payment) (*pb.Payment, error) {
	if !f.dedupe.add(event.GetGateway(), event.GetEventId()) {
		f.counts.duplicates++
		return nil, nil
	}
	key := paymentKey{event.GetGateway(), event.GetId()}
	prev := f.states[key]
	state, err := merge.Merge(prev, event)
	if err != nil {
		f.counts.refused(err)
		return nil, err
	}
	f.states[key] = state
	return state, f.counts.apply(prev, state)
}

// foldIn folds the event read at partition/offset into the hub's states and
// publishes the merged state. Duplicates (same gateway and event id) and
// events Merge refuses (*NotFolded, returned for the caller to log with the
// event's offset) advance the position but reach no subscriber.
func (h *Hub) foldIn(partition int32, offset int64, event *pb.Payment) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	state, err := h.fold.apply(event)
	if state == nil {
		h.next[partition] = offset + 1
		return err
	}
	wire, merr := proto.Marshal(state)
	if merr != nil {
		h.next[partition] = offset + 1
		return fmt.Errorf("encode payment %s: %w", state.GetId(), merr)
	}
	h.appendLocked(partition, offset, HeaderOf(state), wire)
	return err
}

// Get returns the latest state of a payment (only while the hub folds).
func (h *Hub) Get(gateway pb.Gateway, id string) (*pb.Payment, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fold == nil {
		return nil, false
	}
	p, ok := h.fold.states[paymentKey{gateway, id}]
	return p, ok
}
