package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// DeliveryFunc learns the fate of one record: err is nil once Kafka has
// acknowledged it (acks=all), else the final delivery error.
type DeliveryFunc func(m *ckafka.Message, err error)

// Producer is an idempotent producer that hands every delivery report to the
// DeliveryFunc given with its record. Nothing is fire-and-forget.
type Producer struct {
	p      *ckafka.Producer
	log    *slog.Logger
	events sync.WaitGroup

	mu    sync.Mutex
	fatal error

	// fatalAfter, if positive, is the test hook of FatalAfterEnv.
	fatalAfter int64
	delivered  atomic.Int64
}

// FatalAfterEnv names a test hook that only binaries built with
// `-tags faulthooks` read (faulthooks.go): set to N, the producer raises a
// librdkafka fatal error (through librdkafka's own test facility) once N
// records are acknowledged. A real fatal error of an idempotent producer
// cannot be provoked on demand on a healthy broker; the end-to-end test
// builds such a binary to check the server stops and exits non-zero. The
// binaries users run have no hook.
const FatalAfterEnv = "PAYAGG_TEST_PRODUCER_FATAL_AFTER"

// ProducerDefaults favour safety first, then throughput: acks from every
// in-sync replica, idempotence (no duplicates from retries, order kept), and
// a short linger so that records travel in batches.
//
// The linger is 10 ms, not librdkafka's 5: librdkafka sends each partition's
// batch in a request of its own, and keyed records spread over every
// partition, so a short linger sends requests that carry only a record or
// two. Requests, not bytes, are what cost the broker and the clients CPU:
// the longer linger lowers the broker's CPU and the tail latency under load,
// at the price of a higher median when traffic is light (a quiet pipeline
// waits out the linger at each of its producer hops). make bench measures
// both; the figures are in the README's Performance section.
//
// The local queue is bounded (ProducerQueueKB); Send waits when it is full.
var ProducerDefaults = ckafka.ConfigMap{
	"enable.idempotence":         true,
	"acks":                       "all",
	"linger.ms":                  10,
	"compression.type":           "lz4",
	"message.timeout.ms":         120000,
	"queue.buffering.max.kbytes": ProducerQueueKB,
	// A dead-letter record is a raw record (up to the broker's default 1 MB)
	// plus headers saying why: it must fit. See DLQTopicConfig.
	"message.max.bytes": 2 << 20,
}

// ProducerQueueKB bounds the records a producer holds before Kafka has
// acknowledged them, in KiB (librdkafka's queue.buffering.max.kbytes; its
// own default is 1 GiB). The queue only has to cover what is in flight
// while Kafka acknowledges, a fraction of this at any rate one server
// reaches; a full queue makes the producer wait, never drop. Every
// producer of the server uses it, the state stage's transactional one too.
const ProducerQueueKB = 16384

// DLQTopicConfig lets the dead-letter topic hold any record a raw topic with
// default limits accepted, plus its headers.
var DLQTopicConfig = map[string]string{"max.message.bytes": "2097152"}

// StateTopicConfig makes the state topic a changelog: compaction keeps the
// latest record of every payment, however old.
var StateTopicConfig = map[string]string{"cleanup.policy": "compact"}

// NewProducer connects a producer; extra overrides ProducerDefaults.
func NewProducer(k config.Kafka, log *slog.Logger, extra ckafka.ConfigMap) (*Producer, error) {
	cm := ConfigMap(k, ProducerDefaults)
	for key, v := range extra {
		(*cm)[key] = v
	}
	p, err := ckafka.NewProducer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	pr := &Producer{p: p, log: log}
	pr.fatalAfter = fatalAfter()
	pr.events.Add(1)
	go pr.readEvents()
	return pr, nil
}

// readEvents is the one place delivery reports and client errors are read.
func (p *Producer) readEvents() {
	defer p.events.Done()
	for ev := range p.p.Events() {
		switch e := ev.(type) {
		case *ckafka.Message:
			if done, ok := e.Opaque.(DeliveryFunc); ok {
				done(e, e.TopicPartition.Error)
			}
			if e.TopicPartition.Error == nil && p.fatalAfter > 0 && p.delivered.Add(1) == p.fatalAfter {
				go p.InjectFatalError("test hook " + FatalAfterEnv)
			}
		case ckafka.Error:
			if e.IsFatal() {
				p.mu.Lock()
				p.fatal = e
				p.mu.Unlock()
				p.log.Error("producer fatal error", "err", e)
				continue
			}
			// Transient (broker down, all brokers down): librdkafka retries
			// by itself; records wait in its queue until message.timeout.ms.
			// "Not there yet" is debug, as for librdkafka's own log lines.
			p.log.Log(context.Background(), ErrorLevel(e), "producer: "+e.Error(), "code", e.Code().String())
		}
	}
}

// Send queues m; done is called once with its delivery report. When the
// local queue is full, Send waits for room: backpressure, not loss.
func (p *Producer) Send(ctx context.Context, m *ckafka.Message, done DeliveryFunc) error {
	m.Opaque = done
	for {
		if err := p.Fatal(); err != nil {
			return err
		}
		err := p.p.Produce(m, nil)
		var kerr ckafka.Error
		if err == nil {
			return nil
		}
		if !errors.As(err, &kerr) || kerr.Code() != ckafka.ErrQueueFull {
			return fmt.Errorf("produce to %s: %w", *m.TopicPartition.Topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// SendSync sends m and waits for its delivery report.
func (p *Producer) SendSync(ctx context.Context, m *ckafka.Message) error {
	result := make(chan error, 1)
	if err := p.Send(ctx, m, func(_ *ckafka.Message, err error) { result <- err }); err != nil {
		return err
	}
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fatal returns the producer's fatal error, if it had one: it cannot send
// any more and must be replaced.
func (p *Producer) Fatal() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fatal
}

// InjectFatalError makes librdkafka raise a fatal error in this producer,
// as a fenced idempotent producer would: for tests only.
func (p *Producer) InjectFatalError(reason string) {
	p.p.TestFatalError(ckafka.ErrProducerFenced, reason)
}

// Flush waits up to timeout for queued records; it returns how many are left.
func (p *Producer) Flush(timeout time.Duration) int {
	return p.p.Flush(int(timeout.Milliseconds()))
}

// Close flushes for up to timeout, then closes. Records still unacknowledged
// after the flush are reported to their DeliveryFunc as failed by librdkafka
// (purged), so callers never wait forever. It returns how many were left.
func (p *Producer) Close(timeout time.Duration) int {
	left := p.p.Flush(int(timeout.Milliseconds()))
	if left > 0 {
		_ = p.p.Purge(ckafka.PurgeQueue | ckafka.PurgeInFlight)
		p.p.Flush(1000)
	}
	p.p.Close()
	p.events.Wait()
	return left
}
