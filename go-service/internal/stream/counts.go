package stream

import "github.com/paymentgateway/aggregator/go-service/pb"

// counts are the hub's statistics over the latest state of every payment.
type counts struct {
	byGateway  map[pb.Gateway]int64
	byStatus   map[pb.PaymentStatus]int64
	byCurrency map[string]int64 // sum of amount_minor
	events     int64
	duplicates int64
}

func newCounts() counts {
	return counts{byGateway: map[pb.Gateway]int64{}, byStatus: map[pb.PaymentStatus]int64{}, byCurrency: map[string]int64{}}
}

// apply moves a payment's contribution from its previous state to its new one.
func (c *counts) apply(prev, next *pb.Payment) {
	c.events++
	if prev != nil {
		c.byStatus[prev.GetStatus()]--
		c.byCurrency[prev.GetAmount().GetCurrency()] -= prev.GetAmount().GetAmountMinor()
	} else {
		c.byGateway[next.GetGateway()]++
	}
	c.byStatus[next.GetStatus()]++
	c.byCurrency[next.GetAmount().GetCurrency()] += next.GetAmount().GetAmountMinor()
}

// Snapshot is a copy of the hub's statistics.
type Snapshot struct {
	Payments         int64 // distinct payments
	Events           int64 // events applied (duplicates excluded)
	Duplicates       int64
	ByGateway        map[string]int64
	ByStatus         map[string]int64
	TotalsByCurrency map[string]int64
	ConnectedClients int
}

// Stats returns a snapshot of the statistics.
func (h *Hub) Stats() Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Snapshot{
		Payments: int64(len(h.states)), Events: h.counts.events, Duplicates: h.counts.duplicates,
		ByGateway: map[string]int64{}, ByStatus: map[string]int64{}, TotalsByCurrency: map[string]int64{},
		ConnectedClients: h.clients,
	}
	for k, v := range h.counts.byGateway {
		s.ByGateway[k.String()] = v
	}
	for k, v := range h.counts.byStatus {
		if v != 0 {
			s.ByStatus[k.String()] = v
		}
	}
	for k, v := range h.counts.byCurrency {
		if k != "" {
			s.TotalsByCurrency[k] = v
		}
	}
	return s
}
