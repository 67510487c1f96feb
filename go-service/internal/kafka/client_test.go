package kafka_test

import (
	"context"
	"testing"
	"time"

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
	// A topic that is not there is no error: a clean-up may run twice.
	if err := kafka.DeleteTopics(ctx, k, append(topics, prefix+".never-created")); err != nil {
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
