// Package ingest is the server's first stage: it consumes the raw gateway
// topics in a consumer group, normalizes every record, writes the result to
// the events topic (or the original bytes to the dead-letter topic), and
// commits a raw offset only after Kafka has acknowledged what it produced.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Consumer modes (Options.ConsumerMode).
const (
	// ModePerTopic runs one Kafka consumer per raw topic, each in its own
	// goroutine: the course's model. Every confluent-kafka-go consumer is a
	// librdkafka client with about five OS threads of its own.
	ModePerTopic = "per-topic"
	// ModeShared runs one Kafka consumer subscribed to every raw topic; it
	// hands each record to its topic's goroutine. Same guarantees, a
	// fraction of the threads when there are many topics.
	ModeShared = "shared"
)

// CheckConsumerMode returns an error naming the valid modes when mode is not
// one of them ("" means ModePerTopic).
func CheckConsumerMode(mode string) error {
	switch mode {
	case "", ModePerTopic, ModeShared:
		return nil
	}
	return fmt.Errorf("consumer mode %q: want %q or %q", mode, ModePerTopic, ModeShared)
}

// Consumers returns how many Kafka consumers, each with its own poll loop,
// the stage runs in mode for topics raw topics.
func Consumers(mode string, topics int) int {
	if mode == ModeShared {
		return min(topics, 1)
	}
	return topics
}

// Options configure the ingest stage.
type Options struct {
	Kafka   config.Kafka
	GroupID string
	Topics  []string // raw topics, one goroutine each
	// ConsumerMode is "per-topic" (default: one consumer per raw topic, the
	// course's model) or "shared" (one consumer subscribed to every raw
	// topic, feeding a goroutine per topic: far fewer librdkafka threads).
	ConsumerMode string
	EventsTopic  string
	DLQTopic     string
	// MaxInFlight bounds records consumed but not yet acknowledged downstream,
	// per topic: memory stays bounded when Kafka is slow to acknowledge.
	MaxInFlight int
	// DrainTimeout bounds how long shutdown waits for in-flight records.
	DrainTimeout time.Duration
	// OnRecord, if set, learns the outcome of every raw record: its gateway
	// ("" if unknown), its DLQ code ("" if it became payments, "skipped" if
	// it carried no payment change) and how long normalizing took. Metrics
	// hang here; it must be fast and safe for concurrent use.
	OnRecord func(gateway, code string, took time.Duration)
}

// Ingester runs the ingest stage.
type Ingester struct {
	opts      Options
	producer  *kafka.Producer
	log       *slog.Logger
	Stats     Stats
	ready     sync.Map // topic → bool: has partitions assigned
	consumers sync.Map // topic → *topicConsumer, while it runs
}

// New returns an Ingester that writes through producer.
func New(opts Options, producer *kafka.Producer, log *slog.Logger) *Ingester {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 20000
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 20 * time.Second
	}
	return &Ingester{opts: opts, producer: producer, log: log.With("component", "KAFKA"), Stats: newStats()}
}

// Run consumes every raw topic until ctx is done, then drains and commits.
// It returns the first consumer error.
func (in *Ingester) Run(ctx context.Context) error {
	if err := CheckConsumerMode(in.opts.ConsumerMode); err != nil {
		return err
	}
	if in.opts.ConsumerMode == ModeShared {
		return in.runShared(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(in.opts.Topics))
	for _, topic := range in.opts.Topics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.consumeTopic(ctx, topic); err != nil {
				errs <- fmt.Errorf("consume %s: %w", topic, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Assigned reports whether every raw topic's consumer has joined the group
// with partitions assigned (readiness).
func (in *Ingester) Assigned() bool {
	for _, t := range in.opts.Topics {
		if v, ok := in.ready.Load(t); !ok || !v.(bool) {
			return false
		}
	}
	return true
}

// newConsumer returns a consumer of the ingest group; both modes use it.
func (in *Ingester) newConsumer() (*ckafka.Consumer, error) {
	return ckafka.NewConsumer(kafka.ConfigMap(in.opts.Kafka, ckafka.ConfigMap{
		"group.id":           in.opts.GroupID,
		"auto.offset.reset":  "earliest",
		"enable.auto.commit": true,
		// Offsets are stored by hand, only once a record's outputs are
		// acknowledged; the auto-committer then commits what was stored.
		"enable.auto.offset.store":      false,
		"auto.commit.interval.ms":       1000,
		"partition.assignment.strategy": "cooperative-sticky",
	}))
}

// consumeTopic is one topic's poll loop: the course's "one goroutine per topic".
func (in *Ingester) consumeTopic(ctx context.Context, topic string) error {
	c, err := in.newConsumer()
	if err != nil {
		return fmt.Errorf("new consumer: %w", err)
	}
	tc := &topicConsumer{in: in, c: c, topic: topic, tracker: kafka.NewOffsetTracker(), log: in.log.With("topic", topic)}
	if err := c.Subscribe(topic, tc.rebalance); err != nil {
		c.Close()
		return fmt.Errorf("subscribe: %w", err)
	}
	in.log.Info(fmt.Sprintf("Consuming from %s...", topic))
	in.consumers.Store(topic, tc)
	loopErr := tc.poll(ctx)
	tc.drain()
	in.consumers.Delete(topic)
	if err := c.Close(); err != nil && loopErr == nil {
		loopErr = fmt.Errorf("close consumer: %w", err)
	}
	in.ready.Store(topic, false)
	return loopErr
}

type topicConsumer struct {
	in      *Ingester
	c       *ckafka.Consumer
	topic   string
	tracker *kafka.OffsetTracker
	log     *slog.Logger
}

func (tc *topicConsumer) poll(ctx context.Context) error {
	for ctx.Err() == nil {
		if tc.tracker.InFlight() >= tc.in.opts.MaxInFlight {
			time.Sleep(time.Millisecond) // backpressure: let deliveries catch up
			continue
		}
		switch e := tc.c.Poll(100).(type) {
		case *ckafka.Message:
			if e.TopicPartition.Error != nil {
				tc.log.Warn("consume error", "err", e.TopicPartition.Error)
				continue
			}
			tc.handle(ctx, e)
		case ckafka.Error:
			if e.IsFatal() {
				return e
			}
			// Broker down, coordinator moving: librdkafka reconnects itself.
			tc.log.Warn("consumer: "+e.Error(), "code", e.Code().String())
		}
	}
	return nil
}

// handle normalizes one raw record and sends its outputs. The record's offset
// becomes committable when the last output is acknowledged.
func (tc *topicConsumer) handle(ctx context.Context, m *ckafka.Message) {
	tc.start(m)
	tc.process(ctx, m)
}

// start marks a consumed record in flight: from here on its offset (and any
// after it in its partition) is not committed until process has finished it.
func (tc *topicConsumer) start(m *ckafka.Message) {
	tc.tracker.Start(m.TopicPartition.Partition, int64(m.TopicPartition.Offset))
	tc.in.Stats.In.Add(1)
}

// process normalizes a started record and sends its outputs.
func (tc *topicConsumer) process(ctx context.Context, m *ckafka.Message) {
	tp := m.TopicPartition
	outputs := tc.in.route(m)
	if len(outputs) == 0 {
		tc.finished(tp)
		return
	}
	remaining := atomic.Int32{}
	remaining.Store(int32(len(outputs)))
	for _, out := range outputs {
		tc.send(ctx, out, func() {
			if remaining.Add(-1) == 0 {
				tc.finished(tp)
			}
		})
	}
}

// send produces out and calls acked once Kafka has it. A failed delivery is
// retried: dropping it would lose a payment, and its raw offset is never
// committed until it succeeds.
func (tc *topicConsumer) send(ctx context.Context, out *ckafka.Message, acked func()) {
	var deliver kafka.DeliveryFunc
	attempt := 0
	deliver = func(m *ckafka.Message, err error) {
		if err == nil {
			acked()
			return
		}
		attempt++
		tc.log.Warn("delivery failed, retrying", "to", *m.TopicPartition.Topic, "attempt", attempt, "err", err)
		go func() { // not on the producer's event goroutine: Send may wait for room
			time.Sleep(min(time.Duration(attempt)*200*time.Millisecond, 5*time.Second))
			retry := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: m.TopicPartition.Topic, Partition: ckafka.PartitionAny}, Key: m.Key, Value: m.Value, Headers: m.Headers}
			if isTooLarge(err) {
				retry = tc.in.shrinkDeadLetter(retry)
			}
			if err := tc.in.producer.Send(ctx, retry, deliver); err != nil {
				tc.log.Error("giving up on a record at shutdown; its raw offset stays uncommitted and it will be consumed again", "err", err)
			}
		}()
	}
	err := tc.in.producer.Send(ctx, out, deliver)
	if isTooLarge(err) {
		err = tc.in.producer.Send(ctx, tc.in.shrinkDeadLetter(out), deliver)
	}
	if err != nil {
		tc.log.Warn("not sent; its raw offset stays uncommitted and it will be consumed again", "err", err)
	}
}

func isTooLarge(err error) bool {
	var kerr ckafka.Error
	return errors.As(err, &kerr) && kerr.Code() == ckafka.ErrMsgSizeTooLarge
}

// deadLetterKeep is how much of a record too large for the dead-letter
// topic is kept: better a marked, truncated copy than a partition that can
// never move past it.
const deadLetterKeep = 64 << 10

// shrinkDeadLetter turns a record Kafka refused as too large into a
// dead-letter record with the first 64 KiB of its value, saying so. Only
// for dead-letter records: a payment is never truncated (it is small).
func (in *Ingester) shrinkDeadLetter(m *ckafka.Message) *ckafka.Message {
	if *m.TopicPartition.Topic != in.opts.DLQTopic || len(m.Value) <= deadLetterKeep {
		return m
	}
	headers := append([]ckafka.Header{}, m.Headers...)
	headers = append(headers,
		ckafka.Header{Key: "truncated", Value: []byte("true")},
		ckafka.Header{Key: "original_size", Value: []byte(strconv.Itoa(len(m.Value)))})
	in.log.Warn("dead-letter record too large for the DLQ topic: keeping its first 64 KiB", "size", len(m.Value))
	return &ckafka.Message{TopicPartition: m.TopicPartition, Key: m.Key, Value: m.Value[:deadLetterKeep], Headers: headers}
}

// finished stores the offset that is now safe to commit.
func (tc *topicConsumer) finished(tp ckafka.TopicPartition) {
	commit, moved := tc.tracker.Done(tp.Partition, int64(tp.Offset))
	if !moved {
		return
	}
	_, err := tc.c.StoreOffsets([]ckafka.TopicPartition{{Topic: tp.Topic, Partition: tp.Partition, Offset: ckafka.Offset(commit)}})
	if err != nil {
		// The partition was revoked meanwhile; its new owner re-reads from the
		// last commit, so the record is delivered again (at-least-once).
		tc.log.Debug("store offset", "partition", tp.Partition, "err", err)
	}
}

// rebalance keeps "commit only what was delivered" true across rebalances:
// before a partition is given away, its in-flight records are flushed and
// their offsets committed, so the next owner starts exactly after them.
func (tc *topicConsumer) rebalance(c *ckafka.Consumer, ev ckafka.Event) error {
	switch e := ev.(type) {
	case ckafka.AssignedPartitions:
		tc.log.Info(fmt.Sprintf("Assigned %d partition(s) of %s", len(e.Partitions), tc.topic))
		tc.in.ready.Store(tc.topic, true)
	case ckafka.RevokedPartitions:
		tc.waitInFlight(tc.in.opts.DrainTimeout)
		if _, err := c.Commit(); err != nil && !isNoOffset(err) {
			tc.log.Warn("commit on revoke", "err", err)
		}
		for _, p := range e.Partitions {
			tc.tracker.Forget(p.Partition)
		}
		if c.AssignmentLost() {
			tc.log.Warn("partitions lost (session timed out); their records will be consumed again")
		}
	}
	return nil
}

// drain waits for in-flight records and commits what was delivered.
func (tc *topicConsumer) drain() {
	tc.waitInFlight(tc.in.opts.DrainTimeout)
	if _, err := tc.c.Commit(); err != nil && !isNoOffset(err) {
		tc.log.Warn("final commit", "err", err)
	}
}

func (tc *topicConsumer) waitInFlight(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for tc.tracker.InFlight() > 0 && time.Now().Before(deadline) {
		tc.in.producer.Flush(100 * time.Millisecond)
	}
	if n := tc.tracker.InFlight(); n > 0 {
		tc.log.Warn(fmt.Sprintf("%d record(s) still unacknowledged after %v; they will be consumed again", n, timeout))
	}
}

func isNoOffset(err error) bool {
	var kerr ckafka.Error
	return errors.As(err, &kerr) && kerr.Code() == ckafka.ErrNoOffset
}

// route turns a raw record into the records to produce: one per Payment, one
// DLQ record, or none for an event that carries no payment change.
func (in *Ingester) route(m *ckafka.Message) []*ckafka.Message {
	rec := normalizer.Record{
		Topic:         *m.TopicPartition.Topic,
		Partition:     m.TopicPartition.Partition,
		Offset:        int64(m.TopicPartition.Offset),
		GatewayHeader: kafka.Header(m, "gateway"),
		Value:         m.Value,
	}
	began := time.Now()
	payments, err := normalizer.Normalize(rec)
	in.observe(rec, payments, err, time.Since(began))
	switch {
	case errors.Is(err, normalizer.ErrIgnored):
		in.Stats.Skipped.Add(1)
		return nil
	case err != nil:
		return []*ckafka.Message{in.deadLetter(m, rec, err)}
	}
	out := make([]*ckafka.Message, 0, len(payments))
	for _, p := range payments {
		value, err := proto.Marshal(p)
		if err != nil { // only an invalid UTF-8 string can do this
			return []*ckafka.Message{in.deadLetter(m, rec, &normalizer.Error{Code: normalizer.CodeMalformedJSON, Msg: "payment cannot be encoded: " + err.Error()})}
		}
		gw := normalizer.GatewayName(p.GetGateway())
		out = append(out, &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &in.opts.EventsTopic, Partition: ckafka.PartitionAny},
			Key:            []byte(gw + ":" + p.GetId()),
			Value:          value,
			// The event's own time, so that a `since` request finds its
			// start by Kafka's time index (OffsetsForTimes) exactly.
			Timestamp: eventTime(p),
			Headers: []ckafka.Header{
				{Key: "gateway", Value: []byte(gw)},
				{Key: "event_id", Value: []byte(p.GetEventId())},
				{Key: "content-type", Value: []byte("application/x-protobuf; messageType=payment.v1.Payment")},
			},
		})
	}
	in.Stats.Payments.Add(int64(len(out)))
	return out
}

// eventTime is the record timestamp of a normalized payment: when the event
// happened, but never in the future (brokers refuse timestamps too far
// ahead, and a gateway's clock may be).
func eventTime(p *pb.Payment) time.Time {
	now := time.Now()
	if p.GetUpdatedAt() == nil || p.GetUpdatedAt().AsTime().After(now) {
		return now
	}
	return p.GetUpdatedAt().AsTime()
}

// deadLetter keeps the original bytes and headers untouched and says in
// headers why and where from. Where a raw header has the name of one of
// those, the dead letter's wins and the raw one is kept as "raw.<name>"
// (deadletter.Headers): the replay command gives back the raw headers as
// they were.
func (in *Ingester) deadLetter(m *ckafka.Message, rec normalizer.Record, err error) *ckafka.Message {
	code := normalizer.CodeOf(err)
	if code == "" {
		code = normalizer.CodeMalformedJSON
	}
	in.Stats.countDLQ(code)
	gw := rec.GatewayHeader
	if g, derr := normalizer.DetectGateway(rec); derr == nil {
		gw = normalizer.GatewayName(g)
	}
	in.log.Info("dead-lettered", "code", string(code), "gateway", gw, "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err.Error())
	return &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &in.opts.DLQTopic, Partition: ckafka.PartitionAny},
		Key:            m.Key,
		Value:          m.Value,
		Headers: deadletter.Headers(m.Headers, deadletter.Info{
			Error: err.Error(), Code: string(code), Gateway: gw,
			Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		}),
	}
}

// ConsumerLag returns, per raw topic, how many records are in Kafka but not
// yet ingested by this instance (over the partitions it owns).
func (in *Ingester) ConsumerLag() map[string]int64 {
	out := map[string]int64{}
	in.consumers.Range(func(k, v any) bool {
		out[k.(string)] = v.(*topicConsumer).lag()
		return true
	})
	return out
}

func (tc *topicConsumer) lag() int64 {
	assigned, err := tc.c.Assignment()
	if err != nil {
		return 0
	}
	// A shared consumer owns partitions of every raw topic: keep this one's.
	var parts []ckafka.TopicPartition
	for _, p := range assigned {
		if p.Topic != nil && *p.Topic == tc.topic {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return 0
	}
	pos, err := tc.c.Position(parts)
	if err != nil {
		return 0
	}
	var lag int64
	for _, p := range pos {
		_, high, err := tc.c.GetWatermarkOffsets(tc.topic, p.Partition)
		if err != nil || p.Offset < 0 {
			continue
		}
		lag += max(0, high-int64(p.Offset))
	}
	return lag
}

func (in *Ingester) observe(rec normalizer.Record, payments []*pb.Payment, err error, took time.Duration) {
	if in.opts.OnRecord == nil {
		return
	}
	gateway := rec.GatewayHeader
	if len(payments) > 0 {
		gateway = normalizer.GatewayName(payments[0].GetGateway())
	}
	code := string(normalizer.CodeOf(err))
	if errors.Is(err, normalizer.ErrIgnored) {
		code = "skipped"
	}
	in.opts.OnRecord(gateway, code, took)
}
