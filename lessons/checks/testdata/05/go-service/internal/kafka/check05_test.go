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

// check05Topic creates a topic of one partition that only this test uses,
// and deletes it afterwards.
func check05Topic(t *testing.T, ctx context.Context, bootstrap string) string {
	t.Helper()
	topic := checkkitTopic("05")
	if err := kafka.EnsureTopic(ctx, bootstrap, topic, 1); err != nil {
		t.Fatalf("EnsureTopic(%s): %v", topic, err)
	}
	if err := kafka.EnsureTopic(ctx, bootstrap, topic, 1); err != nil {
		t.Errorf("EnsureTopic on a topic that exists returned %v: an existing topic is not an error", err)
	}
	checkkitDeleteTopics(t, bootstrap, topic)
	return topic
}

func TestCheck05ProduceThenConsumeCommitsAfterHandling(t *testing.T) {
	bootstrap := checkkitKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := check05Topic(t, ctx, bootstrap)
	group := topic + "-group"

	producer, err := kafka.NewProducer(bootstrap)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	for _, v := range []string{"one", "two", "three"} {
		if err := producer.Send(ctx, topic, []byte("key-"+v), []byte(v)); err != nil {
			t.Fatalf("Send(%s): %v", v, err)
		}
	}
	producer.Close()

	// First run: the handler fails on "two", so Run must stop, and only
	// "one" may be committed.
	boom := errors.New("check05: handler failed")
	first, err := kafka.NewConsumer(bootstrap, group, []string{topic})
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	var seen []string
	err = first.Run(ctx, func(_ context.Context, msg *ckafka.Message) error {
		seen = append(seen, string(msg.Value))
		if string(msg.Key) != "key-"+string(msg.Value) {
			t.Errorf("record %q came with key %q, want %q: Send must set the key", msg.Value, msg.Key, "key-"+string(msg.Value))
		}
		if string(msg.Value) == "two" {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Run returned %v after the handler failed; want the handler's error, wrapped with %%w, so the caller can stop", err)
	}
	if strings.Join(seen, ",") != "one,two" {
		t.Errorf("the first consumer handled %v, want [one two] (in order, stopping at the failure)", seen)
	}
	if err := first.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	// Second run, same group: it must start again at "two", the record that
	// was not handled, and then read "three".
	second, err := kafka.NewConsumer(bootstrap, group, []string{topic})
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	defer second.Close()
	runCtx, stop := context.WithCancel(ctx)
	seen = nil
	err = second.Run(runCtx, func(_ context.Context, msg *ckafka.Message) error {
		seen = append(seen, string(msg.Value))
		if len(seen) == 2 {
			stop()
		}
		return nil
	})
	stop()
	if err != nil {
		t.Errorf("Run returned %v after its context was cancelled; want nil, a cancelled context is a normal stop", err)
	}
	switch strings.Join(seen, ",") {
	case "two,three":
	case "three":
		t.Errorf("the second consumer skipped \"two\": its offset was committed although the handler failed; store the offset only after handle returns nil")
	case "one,two":
		t.Errorf("the second consumer read \"one\" again: the first consumer committed nothing; store each handled record's offset (StoreMessage) and Close to commit")
	default:
		t.Errorf("the second consumer of the group handled %v, want [two three]", seen)
	}
}
