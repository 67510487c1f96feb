package kafka

import (
	"context"
	"fmt"
	"log"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Consumer reads topics as a member of a consumer group.
type Consumer struct {
	c *ckafka.Consumer
}

// NewConsumer joins group and subscribes to topics. A group that has never
// committed starts at the earliest record still in the topic.
//
// Offsets are stored by hand, after a record is handled, and committed from
// there in the background and at Close: a record the program crashed on is
// read again, never skipped (at-least-once).
func NewConsumer(bootstrap, group string, topics []string) (*Consumer, error) {
	c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
		"bootstrap.servers":        bootstrap,
		"group.id":                 group,
		"auto.offset.reset":        "earliest",
		"enable.auto.commit":       true,
		"enable.auto.offset.store": false,
	})
	if err != nil {
		return nil, fmt.Errorf("kafka consumer for %s: %w", bootstrap, err)
	}
	if err := c.SubscribeTopics(topics, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe to %v: %w", topics, err)
	}
	return &Consumer{c: c}, nil
}

// Handler processes one record. An error stops Run, and the record is not
// committed: the group reads it again next time.
type Handler func(ctx context.Context, msg *ckafka.Message) error

// Run polls until ctx is cancelled (it returns nil then), handle fails, or
// Kafka reports a fatal error.
func (c *Consumer) Run(ctx context.Context, handle Handler) error {
	for ctx.Err() == nil {
		switch ev := c.c.Poll(100).(type) {
		case *ckafka.Message:
			if err := handle(ctx, ev); err != nil {
				return fmt.Errorf("handle %s: %w", ev.TopicPartition, err)
			}
			if _, err := c.c.StoreMessage(ev); err != nil {
				return fmt.Errorf("store offset of %s: %w", ev.TopicPartition, err)
			}
		case ckafka.Error:
			if ev.IsFatal() {
				return fmt.Errorf("kafka: %w", ev)
			}
			log.Printf("[KAFKA] %v", ev) // librdkafka retries these itself
		}
	}
	return nil
}

// Close commits the stored offsets and leaves the group.
func (c *Consumer) Close() error {
	return c.c.Close()
}
