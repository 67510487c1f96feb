package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// createTopics creates topics with the given partition count and remembers
// them for deletion at the end.
func (b *bench) createTopics(ctx context.Context, partitions int, topics ...string) error {
	k := b.kafka
	k.Partitions = partitions
	b.topics = append(b.topics, topics...)
	for start := 0; start < len(topics); start += 200 {
		if err := kafka.EnsureTopics(ctx, k, topics[start:min(start+200, len(topics))]); err != nil {
			return err
		}
	}
	return nil
}

// own remembers topics a server will create, for deletion at the end.
func (b *bench) own(topics ...string) { b.topics = append(b.topics, topics...) }

// offsets reads topic end offsets; it never joins a group.
type offsets struct {
	c     *ckafka.Consumer
	parts map[string][]int32
}

func newOffsets(k config.Kafka) (*offsets, error) {
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{"group.id": "bench-offsets", "enable.auto.commit": false}))
	if err != nil {
		return nil, err
	}
	return &offsets{c: c, parts: map[string][]int32{}}, nil
}

func (o *offsets) close() { o.c.Close() }

// count is the sum of a topic's end offsets (its records, for a topic that
// was never truncated). Transient errors (a leader moving, a topic just
// created) are retried for a few seconds.
func (o *offsets) count(topic string) (n int64, err error) {
	for attempt := 0; attempt < 20; attempt++ {
		if n, err = o.count1(topic); err == nil {
			return n, nil
		}
		delete(o.parts, topic) // metadata may be stale
		time.Sleep(250 * time.Millisecond)
	}
	return 0, err
}

func (o *offsets) count1(topic string) (int64, error) {
	parts, ok := o.parts[topic]
	if !ok {
		md, err := o.c.GetMetadata(&topic, false, 10000)
		if err != nil {
			return 0, err
		}
		t := md.Topics[topic]
		if t.Error.Code() != ckafka.ErrNoError || len(t.Partitions) == 0 {
			return 0, fmt.Errorf("topic %s: %v", topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
		o.parts[topic] = parts
	}
	var n int64
	for _, p := range parts {
		_, high, err := o.c.QueryWatermarkOffsets(topic, p, 5000)
		if err != nil {
			return 0, err
		}
		n += high
	}
	return n, nil
}

func (o *offsets) sum(topics ...string) (int64, error) {
	var n int64
	for _, t := range topics {
		c, err := o.count(t)
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

var allGateways = []pb.Gateway{
	pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY, pb.Gateway_GATEWAY_PAYPAL,
	pb.Gateway_GATEWAY_ADYEN, pb.Gateway_GATEWAY_SQUARE,
}

// rawTopics returns one raw topic per gateway under prefix; the suffix names
// the gateway, as the server expects.
func rawTopics(prefix string) map[pb.Gateway]string {
	out := map[pb.Gateway]string{}
	for _, g := range allGateways {
		out[g] = prefix + ".payments.raw." + normalizer.GatewayName(g)
	}
	return out
}

func topicList(m map[pb.Gateway]string) []string {
	var out []string
	for _, g := range allGateways {
		if t, ok := m[g]; ok {
			out = append(out, t)
		}
	}
	return out
}

// generate returns n synthetic records (MixSimple: one payment each).
func generate(seed uint64, n int, invalidRate float64) ([]synthetic.Record, error) {
	gen, err := synthetic.New(synthetic.Options{Seed: seed, Gateways: allGateways, Mix: synthetic.MixSimple, InvalidRate: invalidRate})
	if err != nil {
		return nil, err
	}
	recs := make([]synthetic.Record, n)
	for i := range recs {
		if recs[i], err = gen.Next(); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func message(topic string, r synthetic.Record) *ckafka.Message {
	return &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
		Key:            []byte(r.Key),
		Value:          r.Value,
		Headers:        []ckafka.Header{{Key: "gateway", Value: []byte(r.Header)}},
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sender is the bench's own producer (the project's idempotent producer).
type sender struct {
	p      *kafka.Producer
	wg     sync.WaitGroup
	failed atomic.Int64
}

func newSender(k config.Kafka) (*sender, error) {
	p, err := kafka.NewProducer(k, quietLogger(), nil)
	if err != nil {
		return nil, err
	}
	return &sender{p: p}, nil
}

func (s *sender) send(ctx context.Context, topic string, r synthetic.Record) error {
	s.wg.Add(1)
	err := s.p.Send(ctx, message(topic, r), func(_ *ckafka.Message, err error) {
		if err != nil {
			s.failed.Add(1)
		}
		s.wg.Done()
	})
	if err != nil {
		s.wg.Done()
	}
	return err
}

// wait waits for every delivery report.
func (s *sender) wait() error {
	s.wg.Wait()
	if n := s.failed.Load(); n > 0 {
		return fmt.Errorf("%d record(s) failed delivery", n)
	}
	return nil
}

func (s *sender) close() { s.p.Close(30 * time.Second) }

// fill sends recs to their gateway's topic and waits for every delivery.
func (b *bench) fill(ctx context.Context, topics map[pb.Gateway]string, recs []synthetic.Record) error {
	s, err := newSender(b.kafka)
	if err != nil {
		return err
	}
	defer s.close()
	for _, r := range recs {
		if err := s.send(ctx, topics[r.Gateway], r); err != nil {
			return err
		}
	}
	return s.wait()
}
