// Package kafka is the pipeline's small layer over confluent-kafka-go: a
// producer that waits for Kafka's acknowledgement, and a consumer poll loop
// that commits a record only after it has been handled.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strconv"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Producer sends records and waits for each one's delivery report.
type Producer struct {
	p *ckafka.Producer
}

// NewProducer connects to the brokers in bootstrap ("127.0.0.1:9092").
// Idempotence makes librdkafka's own retries safe: the broker drops a
// resent batch it already has, so a retry never writes a record twice, and
// it implies acks=all: a record counts as sent once every in-sync replica has it.
func NewProducer(bootstrap string) (*Producer, error) {
	p, err := ckafka.NewProducer(&ckafka.ConfigMap{
		"bootstrap.servers":  bootstrap,
		"enable.idempotence": true,
		"acks":               "all",
	})
	if err != nil {
		return nil, fmt.Errorf("kafka producer for %s: %w", bootstrap, err)
	}
	// Delivery reports go to each Send's own channel; what is left on
	// Events() is client-level errors, which must be read or they pile up.
	go func() {
		for ev := range p.Events() {
			if e, ok := ev.(ckafka.Error); ok {
				log.Printf("[PRODUCER] kafka: %v", e)
			}
		}
	}()
	return &Producer{p: p}, nil
}

// Send writes one record and returns once Kafka has acknowledged it, or
// with the reason it could not be written.
func (p *Producer) Send(ctx context.Context, topic string, key, value []byte) error {
	return p.send(ctx, &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
		Key:            key,
		Value:          value,
	})
}

// DeadLetter copies a record that can never be processed to the topic
// "<its topic>.dlq", with headers that say why and where it came from, so
// that the consumer can commit it and move on without losing it.
func (p *Producer) DeadLetter(ctx context.Context, msg *ckafka.Message, code string, reason error) error {
	source := msg.TopicPartition
	if source.Topic == nil {
		return errors.New("dead letter: the record has no topic")
	}
	dlq := DeadLetterTopic(*source.Topic)
	return p.send(ctx, &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &dlq, Partition: ckafka.PartitionAny},
		Key:            msg.Key,
		Value:          msg.Value,
		Headers: []ckafka.Header{
			{Key: "error_code", Value: []byte(code)},
			{Key: "error", Value: []byte(reason.Error())},
			{Key: "source_topic", Value: []byte(*source.Topic)},
			{Key: "source_partition", Value: []byte(strconv.Itoa(int(source.Partition)))},
			{Key: "source_offset", Value: []byte(strconv.FormatInt(int64(source.Offset), 10))},
		},
	})
}

// DeadLetterTopic names the dead-letter topic of topic.
func DeadLetterTopic(topic string) string { return topic + ".dlq" }

func (p *Producer) send(ctx context.Context, msg *ckafka.Message) error {
	delivered := make(chan ckafka.Event, 1)
	if err := p.p.Produce(msg, delivered); err != nil {
		return fmt.Errorf("produce to %s: %w", *msg.TopicPartition.Topic, err)
	}
	select {
	case ev := <-delivered:
		m, ok := ev.(*ckafka.Message)
		if !ok {
			return fmt.Errorf("produce to %s: unexpected event %v", *msg.TopicPartition.Topic, ev)
		}
		if m.TopicPartition.Error != nil {
			return fmt.Errorf("delivery to %s: %w", *msg.TopicPartition.Topic, m.TopicPartition.Error)
		}
		return nil
	case <-ctx.Done():
		// The record may still be delivered; the caller only stops waiting.
		return fmt.Errorf("produce to %s: %w", *msg.TopicPartition.Topic, ctx.Err())
	}
}

// closeWait bounds how long Close waits for records in flight: with Kafka
// out of reach they would otherwise keep a stopping program alive.
const closeWait = 10 * time.Second

// Close waits a while for records still in flight, then closes the connection.
func (p *Producer) Close() {
	if left := p.p.Flush(int(closeWait.Milliseconds())); left > 0 {
		log.Printf("[PRODUCER] closing with %d record(s) not delivered", left)
	}
	p.p.Close()
}

// EnsureTopic creates topic with the given number of partitions unless it
// exists already.
func EnsureTopic(ctx context.Context, bootstrap, topic string, partitions int) error {
	admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": bootstrap})
	if err != nil {
		return fmt.Errorf("kafka admin for %s: %w", bootstrap, err)
	}
	defer admin.Close()
	results, err := admin.CreateTopics(ctx, []ckafka.TopicSpecification{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, r := range results {
		var kerr ckafka.Error
		if errors.As(r.Error, &kerr) && kerr.Code() != ckafka.ErrNoError && kerr.Code() != ckafka.ErrTopicAlreadyExists {
			return fmt.Errorf("create topic %s: %w", topic, kerr)
		}
	}
	return nil
}
