package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Read feeds the hub from the normalized topic until ctx is done. It reads
// every partition (no consumer group: every server instance serves every
// client), from the oldest record Kafka holds, so that the latest state of
// every payment is rebuilt after a restart.
func Read(ctx context.Context, k config.Kafka, topic string, hub *Hub, log *slog.Logger) error {
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{
		// Required by the client, never joined: partitions are assigned by hand.
		"group.id":           "payment-aggregator-serve",
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
		// The state stage writes in transactions: read only committed
		// records, and learn each partition's end from EOF, since its last
		// offset is a transaction marker no record ever reaches.
		"isolation.level":      "read_committed",
		"enable.partition.eof": true,
		// fetch.wait.max.ms stays at its default: a fetch returns as soon as
		// one record arrives, so a shorter wait only adds requests when idle.
	}))
	if err != nil {
		return fmt.Errorf("serve consumer: %w", err)
	}
	defer c.Close()
	from, live, err := bounds(c, topic)
	if err != nil {
		return err
	}
	hub.Start(from, live)
	hist := hub.setHistory(k, topic, c)
	defer hist.stopLookups() // before c.Close: no query runs on a closed client
	assign := make([]ckafka.TopicPartition, 0, len(from))
	for p, o := range from {
		assign = append(assign, ckafka.TopicPartition{Topic: &topic, Partition: p, Offset: ckafka.Offset(o)})
	}
	if err := c.Assign(assign); err != nil {
		return fmt.Errorf("assign %s: %w", topic, err)
	}
	log.Info(fmt.Sprintf("Serving from %s (%d partitions)", topic, len(assign)), "component", "KAFKA")
	klog := log.With("component", "KAFKA", "consumer", "serve")
	onMessage := func(m *ckafka.Message) { publish(hub, m, log) }
	for ctx.Err() == nil {
		ev := c.Poll(100)
		if eof, ok := ev.(ckafka.PartitionEOF); ok {
			if eof.Offset > 0 {
				hub.Skip(eof.Partition, int64(eof.Offset)-1) // past the markers: caught up
			}
			continue
		}
		if err := kafka.HandleEvent(ev, klog, onMessage); err != nil {
			return err
		}
	}
	return nil
}

func publish(hub *Hub, m *ckafka.Message, log *slog.Logger) {
	tp := m.TopicPartition
	var p pb.Payment
	if err := proto.Unmarshal(m.Value, &p); err != nil || p.GetId() == "" {
		// Only our ingest stage writes here; this is a foreign record.
		log.Warn("skipping a record that is not a payment.v1.Payment", "partition", tp.Partition, "offset", tp.Offset)
		hub.Skip(tp.Partition, int64(tp.Offset))
		return
	}
	if err := hub.Publish(tp.Partition, int64(tp.Offset), &p); err != nil {
		log.Warn(err.Error(), "component", "SERVER", "topic", deref(tp.Topic), "partition", tp.Partition, "offset", int64(tp.Offset),
			"gateway", p.GetGateway().String(), "id", p.GetId(), "event_id", p.GetEventId(),
			"source_topic", p.GetSource().GetTopic(), "source_partition", p.GetSource().GetPartition(), "source_offset", p.GetSource().GetOffset())
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// bounds returns, per partition, the oldest offset Kafka holds and the end.
func bounds(c *ckafka.Consumer, topic string) (from, end Position, err error) {
	// A topic created a moment ago may not be in every broker's metadata yet.
	var t ckafka.TopicMetadata
	for attempt := 0; ; attempt++ {
		md, err := c.GetMetadata(&topic, false, 10000)
		if err != nil {
			return nil, nil, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		var ok bool
		t, ok = md.Topics[topic]
		if ok && t.Error.Code() == ckafka.ErrNoError && len(t.Partitions) > 0 {
			break
		}
		if attempt == 20 {
			return nil, nil, fmt.Errorf("topic %s not found: %v", topic, t.Error)
		}
		time.Sleep(250 * time.Millisecond)
	}
	from, end = Position{}, Position{}
	for _, p := range t.Partitions {
		var low, high int64
		for attempt := 0; ; attempt++ {
			low, high, err = c.QueryWatermarkOffsets(topic, p.ID, 5000)
			if err == nil || attempt == 5 {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("offsets of %s/%d: %w", topic, p.ID, err)
		}
		from[p.ID], end[p.ID] = low, high
	}
	return from, end, nil
}
