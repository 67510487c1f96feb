package kafka_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"learner.example/go-service/internal/kafka"
)

func TestCheck08DeadLetterKeepsTheRecordAndSaysWhy(t *testing.T) {
	bootstrap := checkkitKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	source := checkkitTopic("08")
	dlq := kafka.DeadLetterTopic(source)
	if dlq != source+".dlq" {
		t.Errorf("DeadLetterTopic(%q) = %q, want %q", source, dlq, source+".dlq")
	}
	if err := kafka.EnsureTopic(ctx, bootstrap, dlq, 1); err != nil {
		t.Fatal(err)
	}
	checkkitDeleteTopics(t, bootstrap, dlq)

	producer, err := kafka.NewProducer(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	bad := &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &source, Partition: 2, Offset: 41},
		Key:            []byte("evt_check8"),
		Value:          []byte(`{"id": "evt_check8", "type": `),
	}
	if err := producer.DeadLetter(ctx, bad, "malformed", errors.New("stripe: malformed record: unexpected end of JSON input")); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}

	consumer, err := ckafka.NewConsumer(&ckafka.ConfigMap{"bootstrap.servers": bootstrap, "group.id": dlq + "-reader", "auto.offset.reset": "earliest"})
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	if err := consumer.SubscribeTopics([]string{dlq}, nil); err != nil {
		t.Fatal(err)
	}
	var got *ckafka.Message
	for got == nil && ctx.Err() == nil {
		if m, ok := consumer.Poll(200).(*ckafka.Message); ok {
			got = m
		}
	}
	if got == nil {
		t.Fatalf("nothing arrived in %s", dlq)
	}
	if string(got.Value) != string(bad.Value) || string(got.Key) != string(bad.Key) {
		t.Errorf("the dead letter is key %q value %q; want the original record's key and value, byte for byte", got.Key, got.Value)
	}
	headers := map[string]string{}
	for _, h := range got.Headers {
		headers[h.Key] = string(h.Value)
	}
	for key, want := range map[string]string{
		"error_code":       "malformed",
		"source_topic":     source,
		"source_partition": "2",
		"source_offset":    "41",
	} {
		if headers[key] != want {
			t.Errorf("dead-letter header %s = %q, want %q", key, headers[key], want)
		}
	}
	if !strings.Contains(headers["error"], "unexpected end of JSON input") {
		t.Errorf("dead-letter header error = %q; want the error's text, so that someone can see why", headers["error"])
	}
}
