package stream

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/paymentgateway/aggregator/go-service/internal/merge"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// counts are the fold's statistics over the latest state of every payment.
type counts struct {
	byGateway  map[pb.Gateway]int64
	byStatus   map[pb.PaymentStatus]int64
	byCurrency map[string]*wideSum // sum of amount_minor, exact
	events     int64
	duplicates int64
	notFolded  map[string]int64 // by NotFolded.Reason
	saturated  map[string]bool  // currencies whose total once passed math.MaxInt64
}

func newCounts() counts {
	return counts{byGateway: map[pb.Gateway]int64{}, byStatus: map[pb.PaymentStatus]int64{},
		byCurrency: map[string]*wideSum{}, notFolded: map[string]int64{}, saturated: map[string]bool{}}
}

// Saturated reports a currency whose total of amounts has passed what an
// int64 holds: GetStats and the metrics show math.MaxInt64 for it from then
// on (the contract's totals are int64), while the hub keeps the exact sum.
type Saturated struct{ Currency string }

func (e *Saturated) Error() string {
	return fmt.Sprintf("total of %s amounts is past %d minor units: GetStats reports it saturated at that value", e.Currency, int64(math.MaxInt64))
}

// apply moves a payment's contribution from its previous state to its new
// one. It returns *Saturated the first time a currency's total passes int64.
func (c *counts) apply(prev, next *pb.Payment) error {
	c.events++
	if prev != nil {
		c.byStatus[prev.GetStatus()]--
		c.sum(prev.GetAmount().GetCurrency()).sub(prev.GetAmount().GetAmountMinor())
	} else {
		c.byGateway[next.GetGateway()]++
	}
	c.byStatus[next.GetStatus()]++
	cur := next.GetAmount().GetCurrency()
	total := c.sum(cur)
	total.add(next.GetAmount().GetAmountMinor())
	if _, exact := total.int64(); !exact && cur != "" && !c.saturated[cur] {
		c.saturated[cur] = true
		return &Saturated{Currency: cur}
	}
	return nil
}

// refused counts an event Merge did not fold in.
func (c *counts) refused(err error) {
	var nf *merge.NotFolded
	if errors.As(err, &nf) {
		c.notFolded[nf.Reason]++
	}
}

func (c *counts) sum(currency string) *wideSum {
	s, ok := c.byCurrency[currency]
	if !ok {
		s = &wideSum{}
		c.byCurrency[currency] = s
	}
	return s
}

// wideSum is a 128-bit two's-complement sum: int64 amounts can be added up
// far past int64 without wrapping (2^64 of the largest amount still fit).
type wideSum struct {
	hi int64
	lo uint64
}

func (w *wideSum) add(v int64) {
	var carry uint64
	w.lo, carry = bits.Add64(w.lo, uint64(v), 0)
	w.hi += int64(carry) + (v >> 63) // v>>63 is -1 for a negative v: its sign extension
}

func (w *wideSum) sub(v int64) {
	var borrow uint64
	w.lo, borrow = bits.Sub64(w.lo, uint64(v), 0)
	w.hi -= int64(borrow) + (v >> 63)
}

// int64 returns the sum clamped to the int64 range, and whether it fitted.
func (w *wideSum) int64() (int64, bool) {
	switch {
	case w.hi == 0 && w.lo <= math.MaxInt64:
		return int64(w.lo), true
	case w.hi == -1 && w.lo > math.MaxInt64:
		return int64(w.lo), true
	case w.hi < 0:
		return math.MinInt64, false
	}
	return math.MaxInt64, false
}

// Snapshot is a copy of the hub's statistics.
type Snapshot struct {
	Payments         int64 // distinct payments
	Events           int64 // events applied (duplicates excluded)
	Duplicates       int64
	ByGateway        map[string]int64
	ByStatus         map[string]int64
	TotalsByCurrency map[string]int64 // saturated at math.MaxInt64: see SaturatedCurrencies
	// SaturatedCurrencies are the currencies whose true total is larger than
	// TotalsByCurrency can say (the contract's totals are int64).
	SaturatedCurrencies []string
	// NotFolded counts events Merge refused, by reason (NotFolded.Reason).
	NotFolded        map[string]int64
	ConnectedClients int
	// CatchUpReaders is the number of Kafka readers open for streams that
	// started before the window (shared by those streams).
	CatchUpReaders int
}

// Stats returns a snapshot of the statistics. Without the hub's own fold
// only the stream figures are known here.
func (h *Hub) Stats() Snapshot {
	readers := h.CatchUpReaders()
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Snapshot{
		ByGateway: map[string]int64{}, ByStatus: map[string]int64{}, TotalsByCurrency: map[string]int64{},
		NotFolded: map[string]int64{}, ConnectedClients: h.clients, CatchUpReaders: readers,
	}
	if h.fold == nil {
		return s
	}
	c := &h.fold.counts
	s.Payments, s.Events, s.Duplicates = int64(len(h.fold.states)), c.events, c.duplicates
	for k, v := range c.byGateway {
		s.ByGateway[k.String()] = v
	}
	for k, v := range c.byStatus {
		if v != 0 {
			s.ByStatus[k.String()] = v
		}
	}
	for k, v := range c.byCurrency {
		if k == "" {
			continue
		}
		total, exact := v.int64()
		s.TotalsByCurrency[k] = total
		if !exact {
			s.SaturatedCurrencies = append(s.SaturatedCurrencies, k)
		}
	}
	slices.Sort(s.SaturatedCurrencies)
	for k, v := range c.notFolded {
		s.NotFolded[k] = v
	}
	return s
}
