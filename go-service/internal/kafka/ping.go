package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// Pinger tells whether the cluster answers: it asks a broker for cluster
// metadata with a short timeout. It keeps one admin client (one connection)
// for its whole life, so a probe costs a small request, not a new client.
type Pinger struct {
	admin *Admin

	mu   sync.Mutex
	up   bool
	last error
}

// NewPinger returns a Pinger for the cluster k. Creating it does not
// connect; the first Ping does.
func NewPinger(k config.Kafka) (*Pinger, error) {
	admin, err := NewAdminClient(k, ckafka.ConfigMap{
		"client.id": "payment-aggregator-health",
		// Notice a broker that is back within about a second.
		"reconnect.backoff.ms":     100,
		"reconnect.backoff.max.ms": 1000,
		// A down broker is what this client is for: the server says so in
		// one line of its own, so librdkafka's per-connection errors (log
		// level 3) are not printed for this client.
		"log.connection.close": false,
		"log_level":            2,
	})
	if err != nil {
		return nil, err
	}
	return &Pinger{admin: admin}, nil
}

// Ping asks for the cluster's metadata and fails if no broker answers within
// timeout (or ctx ends first).
func (p *Pinger) Ping(ctx context.Context, timeout time.Duration) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	if timeout < time.Millisecond {
		return context.DeadlineExceeded
	}
	md, err := p.admin.GetMetadata(nil, false, int(timeout.Milliseconds()))
	if err == nil && len(md.Brokers) == 0 {
		err = fmt.Errorf("kafka answered with no brokers")
	}
	if err != nil {
		err = fmt.Errorf("kafka unreachable: %w", err)
	}
	p.mu.Lock()
	p.up, p.last = err == nil, err
	p.mu.Unlock()
	return err
}

// Up reports the result of the last Ping: false before the first one.
func (p *Pinger) Up() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up, p.last
}

// Run pings every interval until ctx is done, and calls changed (if not nil)
// on the first result and every time reachability flips.
func (p *Pinger) Run(ctx context.Context, every, timeout time.Duration, changed func(up bool, err error)) {
	first := true
	was := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		err := p.Ping(ctx, timeout)
		if ctx.Err() != nil {
			return
		}
		if up := err == nil; first || up != was {
			first, was = false, up
			if changed != nil {
				changed(up, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases the admin client.
func (p *Pinger) Close() { p.admin.Close() }
