package main_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// TestCheck08FrontDoorAndDeadLetters runs the learner's server with its
// webhook receiver: signed webhooks from the producer reach Kafka, a forged
// one is refused, and a record the normalizer rejects lands in <topic>.dlq.
func TestCheck08FrontDoorAndDeadLetters(t *testing.T) {
	bootstrap := os.Getenv("KAFKA_BOOTSTRAP_SERVERS")
	if bootstrap == "" {
		bootstrap = "127.0.0.1:9092"
	}
	if c, err := net.DialTimeout("tcp", strings.Split(bootstrap, ",")[0], 2*time.Second); err != nil {
		if os.Getenv("REQUIRE_KAFKA") != "" {
			t.Fatalf("no Kafka at %s: start it (make kafka-up) and check again", bootstrap)
		}
		t.Skipf("no Kafka at %s: this checkpoint needs it (make kafka-up)", bootstrap)
	} else {
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./cmd/server", "./cmd/producer")
	build.Dir = filepath.Join(os.Getenv("LESSON_DIR"), "go-service")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/server ./cmd/producer: %v\n%s", err, out)
	}
	topic := fmt.Sprintf("lessoncheck08s-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": bootstrap}); err == nil {
			admin.DeleteTopics(context.Background(), []string{topic, topic + ".dlq"})
			admin.Close()
		}
	})

	const secret = "whsec_lessoncheck08s"
	server := exec.CommandContext(ctx, filepath.Join(bin, "server"), "-kafka", bootstrap, "-topic", topic, "-group", topic+"-group",
		"-addr", "127.0.0.1:0", "-webhook-addr", "127.0.0.1:0")
	server.Env = append(os.Environ(), "STRIPE_WEBHOOK_SECRET="+secret)
	logs, _ := server.StderrPipe()
	server.Stdout = server.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer server.Process.Kill()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	receiving := regexp.MustCompile(`\[WEBHOOK\] receiving Stripe webhooks on (http://\S+)`)
	var url string
	var said []string
	for url == "" {
		line, ok := <-lines
		if !ok {
			t.Fatalf("the server exited before its webhook receiver started (it must accept -webhook-addr, read STRIPE_WEBHOOK_SECRET and log `[WEBHOOK] receiving Stripe webhooks on http://ADDRESS/webhooks/stripe`); it said:\n%s", strings.Join(said, "\n"))
		}
		said = append(said, line)
		if m := receiving.FindStringSubmatch(line); m != nil {
			url = m[1]
		}
	}
	go func() {
		for range lines {
		}
	}()

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
	if err := server.Wait(); err != nil {
		t.Errorf("after Ctrl-C the server exited with %v; want exit code 0", err)
	}
}
