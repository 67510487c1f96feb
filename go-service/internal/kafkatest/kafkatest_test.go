package kafkatest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
)

// recorder is a testing.TB that notes a skip or a failure and ends its
// goroutine, as testing.T does, so the rule can be checked from outside.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()          {}
func (r *recorder) Skip(args ...any) { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with r in a goroutine of its own, which Goexit may end.
func (r *recorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

// The one rule: a broker that answers runs the test; one that does not skips
// it, or fails it when REQUIRE_KAFKA is set. A listener on loopback stands in
// for the broker: reachability is a TCP connect.
func TestConfigSkipsOrFailsByRequireKafka(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name               string
		bootstrap, require string
		wantSkip, wantFail bool
	}{
		{"broker answers", up.Addr().String(), "", false, false},
		{"broker answers, required", up.Addr().String(), "1", false, false},
		{"no broker", down, "", true, false},
		{"no broker, required", down, "1", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KAFKA_BOOTSTRAP_SERVERS", tc.bootstrap)
			t.Setenv("REQUIRE_KAFKA", tc.require)
			r := &recorder{TB: t}
			var k config.Kafka
			r.run(func(tb testing.TB) { k = Config(tb) })
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") != tc.wantFail {
				t.Fatalf("skipped %q, failed %q; want skip %v, fail %v", r.skipped, r.failed, tc.wantSkip, tc.wantFail)
			}
			if msg := r.skipped + r.failed; msg != "" && !strings.Contains(msg, "make kafka-up") {
				t.Errorf("message %q does not say how to start Kafka", msg)
			}
			if !tc.wantSkip && !tc.wantFail && k.BootstrapServers != tc.bootstrap {
				t.Errorf("BootstrapServers = %q, want %q", k.BootstrapServers, tc.bootstrap)
			}
		})
	}
}

func TestOnlyInNamesTheTarget(t *testing.T) {
	t.Setenv("KAFKATEST_EXAMPLE", "")
	r := &recorder{TB: t}
	r.run(func(tb testing.TB) { OnlyIn(tb, "KAFKATEST_EXAMPLE", "make test-faults", "restarts the broker") })
	for _, want := range []string{"restarts the broker", "make test-faults", "KAFKATEST_EXAMPLE=1"} {
		if !strings.Contains(r.skipped, want) {
			t.Errorf("skip message %q lacks %q", r.skipped, want)
		}
	}
	t.Setenv("KAFKATEST_EXAMPLE", "1")
	r = &recorder{TB: t}
	r.run(func(tb testing.TB) { OnlyIn(tb, "KAFKATEST_EXAMPLE", "make test-faults", "restarts the broker") })
	if r.skipped != "" {
		t.Errorf("skipped with the variable set: %q", r.skipped)
	}
}

func TestNameIsAValidTopicOfItsOwn(t *testing.T) {
	t.Run("Sub/Test With Spaces", func(t *testing.T) {
		a, b := Name(t, "it", "payments.dlq"), Name(t, "it", "payments.dlq")
		if a == b {
			t.Errorf("two names are the same: %s", a)
		}
		if !strings.HasPrefix(a, "it-testnameisavalidtopicofitsown-sub-test-with-spaces-") || !strings.HasSuffix(a, ".payments.dlq") {
			t.Errorf("Name = %q", a)
		}
	})
}

// Counts, waits and reads agree with what was produced, on the real broker.
func TestCountsAndConsumeOnKafka(t *testing.T) {
	k := Config(t)
	topic := Name(t, "kafkatest")
	CreateTopics(t, k, topic)
	if got := TopicConfig(t, k, topic, "cleanup.policy"); got != "delete" {
		t.Errorf("cleanup.policy = %q, want the broker's default delete", got)
	}
	p, err := kafka.NewProducer(k, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(10 * time.Second)
	const n = 7
	for i := range n {
		m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: int32(i % k.Partitions)}, Value: []byte{byte(i)}}
		if err := p.SendSync(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	w := NewWatermarks(t, k)
	if got := w.WaitCount(n, 30*time.Second, topic); got != n {
		t.Errorf("WaitCount = %d, want %d", got, n)
	}
	if got := Count(t, k, topic); got != n {
		t.Errorf("Count = %d, want %d", got, n)
	}
	var sum int64
	for _, end := range w.Ends(topic) {
		sum += end
	}
	if ends := w.Ends(topic); len(ends) != k.Partitions || sum != n {
		t.Errorf("Ends = %v, want %d partitions ending %d records in all", ends, k.Partitions, n)
	}
	seen := map[byte]bool{}
	for _, m := range Consume(t, k, topic, n, 30*time.Second) {
		seen[m.Value[0]] = true
	}
	if len(seen) != n {
		t.Errorf("Consume read %d distinct records, want %d", len(seen), n)
	}
}
