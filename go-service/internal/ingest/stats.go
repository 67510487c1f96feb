package ingest

import (
	"sync"
	"sync/atomic"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
)

// Stats counts what this instance's ingest stage did. In = records consumed;
// every one becomes Payments (one or more), a DLQ record, or Skipped.
type Stats struct {
	In       atomic.Int64
	Payments atomic.Int64
	DLQ      atomic.Int64
	Skipped  atomic.Int64
	// DeliveryFailures counts failed deliveries (each retry's too).
	DeliveryFailures atomic.Int64

	mu     sync.Mutex
	byCode map[normalizer.Code]int64
}

func newStats() Stats { return Stats{byCode: map[normalizer.Code]int64{}} }

func (s *Stats) countDLQ(code normalizer.Code) {
	s.DLQ.Add(1)
	s.mu.Lock()
	s.byCode[code]++
	s.mu.Unlock()
}

// DLQByCode returns a copy of the DLQ counts per error code.
func (s *Stats) DLQByCode() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.byCode))
	for k, v := range s.byCode {
		out[string(k)] = v
	}
	return out
}

// SkippedCount is the number of events that carried no payment change.
func (in *Ingester) SkippedCount() int64 { return in.Stats.Skipped.Load() }

// DLQByCode returns this instance's dead-letter counts per error code.
func (in *Ingester) DLQByCode() map[string]int64 { return in.Stats.DLQByCode() }
