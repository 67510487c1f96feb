package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestCheck08FrontDoorAndDeadLetters runs the learner's server with its
// webhook receiver: signed webhooks from the producer reach Kafka, a forged
// one is refused, and a record the normalizer rejects lands in <topic>.dlq.
func TestCheck08FrontDoorAndDeadLetters(t *testing.T) {
	bootstrap := checkkitKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := checkkitBuild(t, ctx, checkkitLessonDir(t, "08"), "./cmd/server", "./cmd/producer")
	topic := checkkitTopic("08s")
	checkkitDeleteTopics(t, bootstrap, topic, topic+".dlq")

	const secret = "whsec_lessoncheck08s"
	server := exec.CommandContext(ctx, filepath.Join(bin, "server"), "-kafka", bootstrap, "-topic", topic, "-group", topic+"-group",
		"-addr", "127.0.0.1:0", "-webhook-addr", "127.0.0.1:0")
	server.Env = append(os.Environ(), "STRIPE_WEBHOOK_SECRET="+secret)
	lines, done := checkkitStart(t, "the server", server)
	receiving := regexp.MustCompile(`\[WEBHOOK\] receiving Stripe webhooks on (http://\S+)`)
	url := checkkitAwaitLine(t, lines, receiving, "the server exited before its webhook receiver started (it must accept -webhook-addr, read STRIPE_WEBHOOK_SECRET and log `[WEBHOOK] receiving Stripe webhooks on http://ADDRESS/webhooks/stripe`)")[1]

	produce := func(secret string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "producer"), append([]string{"-kafka", bootstrap, "-topic", topic, "-rate", "50"}, args...)...)
		cmd.Env = append(os.Environ(), "STRIPE_WEBHOOK_SECRET="+secret)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := produce(secret, "-webhook", url, "-count", "3"); err != nil {
		t.Fatalf("producer -webhook %s with the server's secret failed (%v): the receiver must answer 200 once Kafka has the event. It said:\n%s", url, err, out)
	}
	if out, err := produce("whsec_forged", "-webhook", url, "-count", "1"); err == nil {
		t.Errorf("producer -webhook with another secret succeeded: the receiver accepted a forged signature. It said:\n%s", out)
	}

	// A record the normalizer rejects, written straight to Kafka.
	producer, err := ckafka.NewProducer(&ckafka.ConfigMap{"bootstrap.servers": bootstrap})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	bad := []byte(`{"id": "evt_check8s", "type": "payment_intent.succeeded", "data": `)
	delivered := make(chan ckafka.Event, 1)
	producer.Produce(&ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny}, Value: bad}, delivered)
	if m := (<-delivered).(*ckafka.Message); m.TopicPartition.Error != nil {
		t.Fatal(m.TopicPartition.Error)
	}

	reader, err := ckafka.NewConsumer(&ckafka.ConfigMap{"bootstrap.servers": bootstrap, "group.id": topic + "-reader", "auto.offset.reset": "earliest"})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	reader.SubscribeTopics([]string{topic, topic + ".dlq"}, nil)
	var raw, dead []string
	for (len(raw) < 4 || len(dead) < 1) && ctx.Err() == nil {
		m, ok := reader.Poll(200).(*ckafka.Message)
		if !ok {
			continue
		}
		if *m.TopicPartition.Topic == topic {
			raw = append(raw, string(m.Value))
		} else {
			dead = append(dead, string(m.Value))
		}
	}
	if len(raw) < 4 {
		t.Errorf("%s holds %d records, want the 3 signed webhooks and the bad record", topic, len(raw))
	}
	if len(dead) != 1 || dead[0] != string(bad) {
		t.Errorf("%s.dlq holds %q; want the bad record, byte for byte (the server dead-letters what it cannot normalize)", topic, dead)
	}

	server.Process.Signal(syscall.SIGINT)
	if err := <-done; err != nil {
		t.Errorf("after Ctrl-C the server exited with %v; want exit code 0", err)
	}
}
