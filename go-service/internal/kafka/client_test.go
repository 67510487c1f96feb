package kafka_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
)

func TestDeleteTopics(t *testing.T) {
	k := kafkatest.Config(t)
	k.Partitions = 1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := kafkatest.Name(t, "kafka")
	topics := []string{prefix + ".a", prefix + ".b"}
	if err := kafka.EnsureTopics(ctx, k, topics); err != nil {
		t.Fatal(err)
	}
	// A topic that is not there is no error: a clean-up may run twice. A
	// name given twice (the bench lists a topic per stage that used it) is
	// deleted once: confluent-kafka-go crashed on it.
	if err := kafka.DeleteTopics(ctx, k, append(topics, prefix+".never-created", topics[0])); err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	admin, err := kafka.NewAdminClient(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		md, err := admin.GetMetadata(nil, true, 5000)
		if err != nil {
			t.Fatal(err)
		}
		_, a := md.Topics[topics[0]]
		_, b := md.Topics[topics[1]]
		if !a && !b {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topics still listed 30 s after DeleteTopics: %v %v", a, b)
		}
	}
}

// The ingest stage sizes its largest payment by it, right after creating
// the topic: a topic just created must be answered for.
func TestTopicMaxMessageBytes(t *testing.T) {
	k := kafkatest.Config(t)
	k.Partitions = 1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := kafkatest.Name(t, "kafka", "small")
	if err := kafka.EnsureTopicsWithConfig(ctx, k, []string{topic}, map[string]string{"max.message.bytes": "8192"}); err != nil {
		t.Fatal(err)
	}
	kafkatest.DeleteTopicsAfter(t, k, topic)
	n, err := kafka.TopicMaxMessageBytes(ctx, k, topic)
	if err != nil || n != 8192 {
		t.Fatalf("TopicMaxMessageBytes = %d, %v; want 8192", n, err)
	}
}

// Kafka acknowledges CreateTopics before its broker serves the new
// partitions, and the server's stages read their topics the moment they are
// created. Many partitions make that gap wide enough to see every time:
// until EnsureTopics waited, the metadata said "Unknown topic or partition"
// or a partition's offsets "Not leader for partition". Each is asked once
// here, as a stage starting up does.
func TestEnsureTopicsReturnsServedTopics(t *testing.T) {
	k := kafkatest.Config(t)
	k.Partitions = 60
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := kafkatest.Name(t, "kafka")
	topics := []string{prefix + ".a", prefix + ".b"}
	kafkatest.DeleteTopicsAfter(t, k, topics...)
	// Never joins its group: partitions are only looked up.
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{"group.id": prefix}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Connected before the topics exist, so that it asks the moment they do.
	if _, err := c.GetMetadata(nil, false, 10000); err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopics(ctx, k, topics); err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		md, err := c.GetMetadata(&topic, false, 10000)
		if err != nil {
			t.Fatalf("metadata of %s: %v", topic, err)
		}
		tm := md.Topics[topic]
		if tm.Error.Code() != ckafka.ErrNoError || len(tm.Partitions) != k.Partitions {
			t.Fatalf("metadata of %s right after EnsureTopics: %v, %d partition(s); want %d", topic, tm.Error, len(tm.Partitions), k.Partitions)
		}
		for _, p := range tm.Partitions {
			if _, _, err := c.QueryWatermarkOffsets(topic, p.ID, 10000); err != nil {
				t.Fatalf("offsets of %s/%d right after EnsureTopics: %v", topic, p.ID, err)
			}
		}
	}
}

// A consumer's bounded fetch still reads the largest record the project
// writes: a dead-letter record of nearly 2 MiB, past max.partition.fetch.bytes
// and near fetch.max.bytes (the broker sends a record larger than the bound
// alone, KIP-74).
func TestBoundedConsumerReadsTheLargestDeadLetter(t *testing.T) {
	k := kafkatest.Config(t)
	k.Partitions = 1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := kafkatest.Name(t, "kafka", "large")
	if err := kafka.EnsureTopicsWithConfig(ctx, k, []string{topic}, kafka.DLQTopicConfig); err != nil {
		t.Fatal(err)
	}
	kafkatest.DeleteTopicsAfter(t, k, topic)
	p, err := kafka.NewProducer(k, slog.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(5 * time.Second)
	// Random bytes: lz4 must not shrink the record below the bounds.
	value := make([]byte, 2<<20-64<<10)
	rand.Read(value)
	if err := p.SendSync(ctx, &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny}, Value: value}); err != nil {
		t.Fatalf("send %d bytes: %v", len(value), err)
	}
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{"group.id": topic, "auto.offset.reset": "earliest"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(topic, nil); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		switch e := c.Poll(200).(type) {
		case *ckafka.Message:
			if !bytes.Equal(e.Value, value) {
				t.Fatalf("read %d bytes, not the %d sent", len(e.Value), len(value))
			}
			return
		case ckafka.Error:
			t.Logf("consumer: %v", e)
		}
	}
	t.Fatalf("the %d-byte record was not read within a minute (max.partition.fetch.bytes %v, fetch.max.bytes %v)",
		len(value), kafka.ConsumerDefaults["max.partition.fetch.bytes"], kafka.ConsumerDefaults["fetch.max.bytes"])
}
