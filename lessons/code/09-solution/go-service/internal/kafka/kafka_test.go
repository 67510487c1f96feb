package kafka

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// testKafka returns the broker to test against. Without one the test is
// skipped, unless REQUIRE_KAFKA is set (as in CI): then it fails, so that a
// missing broker can never pass for a green run.
func testKafka(t *testing.T) string {
	t.Helper()
	bootstrap := os.Getenv("KAFKA_BOOTSTRAP_SERVERS")
	if bootstrap == "" {
		bootstrap = "127.0.0.1:9092"
	}
	c, err := net.DialTimeout("tcp", strings.Split(bootstrap, ",")[0], 2*time.Second)
	if err != nil {
		if os.Getenv("REQUIRE_KAFKA") != "" {
			t.Fatalf("REQUIRE_KAFKA is set and there is no Kafka at %s: %v", bootstrap, err)
		}
		t.Skipf("no Kafka at %s", bootstrap)
	}
	c.Close()
	return bootstrap
}

// testTopic creates a topic only this test uses and deletes it afterwards.
func testTopic(t *testing.T, ctx context.Context, bootstrap string) string {
	t.Helper()
	topic := fmt.Sprintf("test-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	if err := EnsureTopic(ctx, bootstrap, topic, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": bootstrap}); err == nil {
			admin.DeleteTopics(context.Background(), []string{topic, DeadLetterTopic(topic)})
			admin.Close()
		}
	})
	return topic
}

func TestProduceThenConsume(t *testing.T) {
	bootstrap := testKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := testTopic(t, ctx, bootstrap)

	producer, err := NewProducer(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	want := []string{"a", "b", "c"}
	for _, v := range want {
		if err := producer.Send(ctx, topic, []byte(v), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}

	consumer, err := NewConsumer(bootstrap, topic+"-group", []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	runCtx, stop := context.WithCancel(ctx)
	var got []string
	err = consumer.Run(runCtx, func(_ context.Context, msg *ckafka.Message) error {
		got = append(got, string(msg.Value))
		if len(got) == len(want) {
			stop()
		}
		return nil
	})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("consumed %v, want %v", got, want)
	}
}

func TestDeadLetterHeaders(t *testing.T) {
	bootstrap := testKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := testTopic(t, ctx, bootstrap)
	if err := EnsureTopic(ctx, bootstrap, DeadLetterTopic(topic), 1); err != nil {
		t.Fatal(err)
	}
	producer, err := NewProducer(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	bad := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: 0, Offset: 3}, Value: []byte("{")}
	if err := producer.DeadLetter(ctx, bad, "malformed", fmt.Errorf("truncated")); err != nil {
		t.Fatal(err)
	}
	consumer, err := NewConsumer(bootstrap, topic+"-dlq-group", []string{DeadLetterTopic(topic)})
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	runCtx, stop := context.WithCancel(ctx)
	headers := map[string]string{}
	err = consumer.Run(runCtx, func(_ context.Context, msg *ckafka.Message) error {
		for _, h := range msg.Headers {
			headers[h.Key] = string(h.Value)
		}
		stop()
		return nil
	})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"error_code": "malformed", "error": "truncated", "source_topic": topic, "source_offset": "3"} {
		if headers[key] != want {
			t.Errorf("header %s = %q, want %q", key, headers[key], want)
		}
	}
}
