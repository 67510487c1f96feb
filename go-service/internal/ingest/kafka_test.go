package ingest

// Integration tests of both consumer modes on real Kafka (`make kafka-up`).
// Without Kafka they are skipped, unless REQUIRE_KAFKA is set (kafkatest.Config).

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

func quietLog() *slog.Logger {
	if os.Getenv("INGEST_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fixture is one test's topics, group and producer.
type fixture struct {
	t          *testing.T
	k          config.Kafka
	raw        map[pb.Gateway]string
	normalized string
	dlq        string
	group      string
	producer   *kafka.Producer
}

var gateways3 = []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_PAYPAL, pb.Gateway_GATEWAY_ADYEN}

func newFixture(t *testing.T) *fixture {
	k := kafkatest.Config(t)
	prefix := fmt.Sprintf("ingest-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano()%1e9)
	f := &fixture{t: t, k: k, raw: map[pb.Gateway]string{}, normalized: prefix + ".payments.normalized", dlq: prefix + ".payments.dlq", group: prefix + "-group"}
	all := []string{f.normalized, f.dlq}
	for _, g := range gateways3 {
		f.raw[g] = prefix + ".payments.raw." + normalizer.GatewayName(g)
		all = append(all, f.raw[g])
	}
	if err := kafka.EnsureTopics(context.Background(), k, all); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs last: after the ingesters stop
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kafka.DeleteTopics(ctx, k, all); err != nil {
			t.Log(err)
		}
	})
	p, err := kafka.NewProducer(k, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.producer = p
	t.Cleanup(func() { p.Close(10 * time.Second) })
	return f
}

func (f *fixture) rawTopics() []string {
	var out []string
	for _, g := range gateways3 {
		out = append(out, f.raw[g])
	}
	return out
}

// produce sends n records (a share of them malformed) and returns the keys
// of the valid ones and the number of malformed ones.
func (f *fixture) produce(seed uint64, n int, invalidRate float64) (valid map[string]bool, invalid int) {
	f.t.Helper()
	gen, err := synthetic.New(synthetic.Options{Seed: seed, Gateways: gateways3, InvalidRate: invalidRate})
	if err != nil {
		f.t.Fatal(err)
	}
	valid = map[string]bool{}
	var wg sync.WaitGroup
	var failed sync.Map
	for range n {
		r, err := gen.Next()
		if err != nil {
			f.t.Fatal(err)
		}
		if r.Invalid != "" {
			invalid++
		} else {
			valid[normalizer.GatewayName(r.Gateway)+":"+r.Key] = true
		}
		topic := f.raw[r.Gateway]
		wg.Add(1)
		m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny}, Key: []byte(r.Key), Value: r.Value,
			Headers: []ckafka.Header{{Key: "gateway", Value: []byte(r.Header)}}}
		if err := f.producer.Send(context.Background(), m, func(_ *ckafka.Message, err error) {
			if err != nil {
				failed.Store(r.Key, err)
			}
			wg.Done()
		}); err != nil {
			f.t.Fatal(err)
		}
	}
	wg.Wait()
	failed.Range(func(k, v any) bool { f.t.Fatalf("delivery of %v failed: %v", k, v); return false })
	return valid, invalid
}

// running is an Ingester running in a goroutine.
type running struct {
	in   *Ingester
	stop context.CancelFunc
	done chan error
}

func (f *fixture) start(mode string, maxInFlight int) *running {
	f.t.Helper()
	in := New(f.options(mode, maxInFlight), f.producer, quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{in: in, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for !in.Assigned() {
		if time.Now().After(deadline) {
			cancel()
			f.t.Fatalf("%s ingester got no assignment in 60s", mode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Cleanup(func() { r.shutdown(f.t) })
	return r
}

func (f *fixture) options(mode string, maxInFlight int) Options {
	return Options{Kafka: f.k, GroupID: f.group, Topics: f.rawTopics(), ConsumerMode: mode,
		EventsTopic: f.normalized, DLQTopic: f.dlq, MaxInFlight: maxInFlight, DrainTimeout: 20 * time.Second}
}

func (r *running) shutdown(t *testing.T) {
	t.Helper()
	if r.stop == nil {
		return
	}
	r.stop()
	r.stop = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("Run did not return within 60s of cancel")
	}
}

// ends returns the end offset of every partition of topic.
func (f *fixture) ends(c *ckafka.Consumer, topic string) map[int32]int64 {
	f.t.Helper()
	md, err := c.GetMetadata(&topic, false, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, p := range md.Topics[topic].Partitions {
		_, high, err := c.QueryWatermarkOffsets(topic, p.ID, 10000)
		if err != nil {
			f.t.Fatal(err)
		}
		out[p.ID] = high
	}
	return out
}

func (f *fixture) count(c *ckafka.Consumer, topic string) int64 {
	var n int64
	for _, high := range f.ends(c, topic) {
		n += high
	}
	return n
}

func (f *fixture) admin() *ckafka.Consumer {
	c, err := ckafka.NewConsumer(kafka.ConfigMap(f.k, ckafka.ConfigMap{"group.id": f.group}))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// waitOutputs waits until normalized + DLQ hold at least want records.
func (f *fixture) waitOutputs(c *ckafka.Consumer, want int64, timeout time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := f.count(c, f.normalized) + f.count(c, f.dlq)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("normalized + DLQ hold %d records after %v, want %d", got, timeout, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkCommitted checks that the group committed every raw partition's end:
// everything was delivered, and shutdown committed it.
func (f *fixture) checkCommitted(c *ckafka.Consumer) {
	f.t.Helper()
	for _, topic := range f.rawTopics() {
		ends := f.ends(c, topic)
		var tps []ckafka.TopicPartition
		for p := range ends {
			tps = append(tps, ckafka.TopicPartition{Topic: &topic, Partition: p})
		}
		committed, err := c.Committed(tps, 10000)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, tp := range committed {
			if int64(tp.Offset) != ends[tp.Partition] {
				f.t.Errorf("%s/%d: committed %v, end %d", topic, tp.Partition, tp.Offset, ends[tp.Partition])
			}
		}
	}
}

// normalizedKeys reads the whole normalized topic and returns its keys.
func (f *fixture) normalizedKeys(c *ckafka.Consumer) map[string]int {
	f.t.Helper()
	ends := f.ends(c, f.normalized)
	r, err := ckafka.NewConsumer(kafka.ConfigMap(f.k, ckafka.ConfigMap{"group.id": f.group + "-reader", "enable.auto.commit": false}))
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	var assign []ckafka.TopicPartition
	left := int64(0)
	for p, end := range ends {
		assign = append(assign, ckafka.TopicPartition{Topic: &f.normalized, Partition: p, Offset: ckafka.OffsetBeginning})
		left += end
	}
	if err := r.Assign(assign); err != nil {
		f.t.Fatal(err)
	}
	keys := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for left > 0 && time.Now().Before(deadline) {
		m, err := r.ReadMessage(200 * time.Millisecond)
		if err != nil {
			continue
		}
		var p pb.Payment
		if err := proto.Unmarshal(m.Value, &p); err != nil {
			f.t.Fatalf("normalized record is not a Payment: %v", err)
		}
		keys[string(m.Key)]++
		left--
	}
	if left > 0 {
		f.t.Fatalf("%d normalized records not read in 30s", left)
	}
	return keys
}

// Both modes turn every raw record into a payment or a DLQ record, and
// commit every raw offset at shutdown. "shared, tight" forces the shared
// consumer to pause and resume partitions for backpressure all along.
func TestModesDeliverEverythingAndCommitOnShutdown(t *testing.T) {
	cases := []struct {
		name        string
		mode        string
		maxInFlight int
	}{
		{"per-topic", ModePerTopic, 0},
		{"shared", ModeShared, 0},
		{"shared tight", ModeShared, 64},
		{"per-topic tight", ModePerTopic, 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			const n = 1500
			valid, invalid := f.produce(11, n, 0.05)
			r := f.start(tc.mode, tc.maxInFlight)
			c := f.admin()
			f.waitOutputs(c, n, 60*time.Second)
			lag := r.in.ConsumerLag()
			if len(lag) != len(gateways3) {
				t.Errorf("ConsumerLag has %d topics, want %d: %v", len(lag), len(gateways3), lag)
			}
			r.shutdown(t)
			if got := f.count(c, f.normalized); got != int64(len(valid)) {
				t.Errorf("normalized holds %d, want %d", got, len(valid))
			}
			if got := f.count(c, f.dlq); got != int64(invalid) {
				t.Errorf("DLQ holds %d, want %d", got, invalid)
			}
			if st := &r.in.Stats; st.In.Load() != n || st.Payments.Load() != int64(len(valid)) || st.DLQ.Load() != int64(invalid) {
				t.Errorf("stats: in %d payments %d DLQ %d", st.In.Load(), st.Payments.Load(), st.DLQ.Load())
			}
			f.checkCommitted(c)
		})
	}
}

// waitKeys waits until every payment in want has reached the normalized
// topic and returns how many times each key is there.
func (f *fixture) waitKeys(c *ckafka.Consumer, want map[string]bool, timeout time.Duration) map[string]int {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f.waitOutputs(c, int64(len(want)), timeout)
		got := f.normalizedKeys(c)
		missing := 0
		for k := range want {
			if got[k] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d of %d payments never reached the normalized topic", missing, len(want))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// assigned returns how many raw partitions r's consumer(s) own now.
func (r *running) assigned() int {
	seen := map[string]bool{}
	r.in.consumers.Range(func(_, v any) bool {
		parts, _ := v.(*topicConsumer).c.Assignment()
		for _, p := range parts {
			seen[p.String()] = true
		}
		return true
	})
	return len(seen)
}

// Two shared-mode instances in one group: the second joins mid-stream and
// the first leaves mid-stream. Partitions move twice; every payment still
// reaches the normalized topic (at least once) and the survivor commits all.
func TestSharedModeRebalanceLosesNothing(t *testing.T) {
	f := newFixture(t)
	want := map[string]bool{}
	add := func(keys map[string]bool) {
		for k := range keys {
			want[k] = true
		}
	}
	c := f.admin()
	a := f.start(ModeShared, 0)
	v, _ := f.produce(21, 600, 0)
	add(v)
	b := f.start(ModeShared, 0) // cooperative rebalance: a gives some partitions to b
	v, _ = f.produce(22, 600, 0)
	add(v)
	// Let the rebalance finish: a commit while one is in progress fails, and
	// then the records since the last commit are consumed again (at-least-once).
	deadline := time.Now().Add(30 * time.Second)
	for (a.assigned() == 0 || b.assigned() == 0) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if a.assigned()+b.assigned() != 3*len(gateways3) {
		t.Fatalf("after b joined: a owns %d partitions, b %d, want %d in all", a.assigned(), b.assigned(), 3*len(gateways3))
	}
	a.shutdown(t) // a's partitions move to b
	v, _ = f.produce(23, 600, 0)
	add(v)
	got := f.waitKeys(c, want, 60*time.Second)
	b.shutdown(t)
	f.checkCommitted(c)
	dups := 0
	for _, n := range got {
		dups += n - 1
	}
	t.Logf("%d payments, %d redelivered (at-least-once)", len(want), dups)
}

// A revoke comes out of Poll, so it can arrive in the middle of a batch:
// records already polled and counted in flight, not yet handed to their
// topics' goroutines. The shared consumer's revoke must hand them over
// before it waits for in-flight records; otherwise it waits for records no
// goroutine has, gives up after DrainTimeout ("still unacknowledged") and
// gives the partitions away uncommitted. Both modes run the same feed; the
// shared one, with many topics in a batch, is the one that shows it. The
// callback is called here as Poll would call it at that moment.
func TestSharedRevokeHandsOverPolledRecordsFirst(t *testing.T) {
	f := newFixture(t)
	warned := &warnings{}
	opts := f.options(ModeShared, 0)
	opts.DrainTimeout = 10 * time.Second
	in := New(opts, f.producer, slog.New(warned))
	c, err := in.newConsumer("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := newFeed(in, c, f.rawTopics())
	workers := sc.startWorkers(context.Background())
	defer sc.stopWorkers(workers)

	gen, err := synthetic.New(synthetic.Options{Seed: 41, Gateways: gateways3})
	if err != nil {
		t.Fatal(err)
	}
	const polled = 30
	for i := range polled {
		r, err := gen.Next()
		if err != nil {
			t.Fatal(err)
		}
		sc.dispatch(rawMessage(f.raw[r.Gateway], int64(i), r)) // partition 1
	}
	var revoked []ckafka.TopicPartition
	for _, topic := range f.rawTopics() {
		revoked = append(revoked, ckafka.TopicPartition{Topic: &topic, Partition: 1})
	}
	if err := sc.rebalance(c, ckafka.RevokedPartitions{Partitions: revoked}); err != nil {
		t.Fatal(err)
	}
	if msgs := warned.messages(); len(msgs) > 0 {
		t.Errorf("warnings logged: %q", msgs)
	}
	if got := f.count(f.admin(), f.normalized); got != polled {
		t.Errorf("when the revoke returned, the normalized topic held %d payments, want all %d polled", got, polled)
	}
}

// warnings is a slog.Handler that keeps the messages of WARN and ERROR
// records.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}

func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) messages() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.msgs)
}

// A payment larger than the normalized topic takes (its max.message.bytes,
// read from Kafka when Run starts) goes to the DLQ as too_large instead of
// being sent: the broker would refuse its whole batch, the payments
// batched with it too. The record after it, batched with it before this
// rule, gets through, and the partition moves on.
func TestPaymentLargerThanTheTopicTakesIsDeadLettered(t *testing.T) {
	f := newFixture(t)
	small := kafkatest.Name(t, "ingest", "small")
	if err := kafka.EnsureTopicsWithConfig(context.Background(), f.k, []string{small}, map[string]string{"max.message.bytes": "8192"}); err != nil {
		t.Fatal(err)
	}
	kafkatest.DeleteTopicsAfter(t, f.k, small)
	noise := make([]byte, 15_000) // random: lz4 cannot shrink it below the limit
	if _, err := rand.NewChaCha8([32]byte{1}).Read(noise); err != nil {
		t.Fatal(err)
	}
	topic := f.raw[pb.Gateway_GATEWAY_STRIPE]
	values := [][]byte{
		stripeSucceeded(t, []byte(base64.StdEncoding.EncodeToString(noise)), ""),
		stripeSucceeded(t, nil, ""),
	}
	for i, v := range values {
		m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: 0}, Key: []byte(fmt.Sprint(i)), Value: v,
			Headers: []ckafka.Header{{Key: "gateway", Value: []byte("stripe")}}}
		if err := f.producer.SendSync(context.Background(), m); err != nil {
			t.Fatalf("raw record %d: %v", i, err)
		}
	}
	opts := f.options(ModePerTopic, 0)
	opts.EventsTopic = small
	in := New(opts, f.producer, quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	c := f.admin()
	waitUntil(t, 60*time.Second, "one payment and one dead letter", func() bool {
		return f.count(c, small) >= 1 && f.count(c, f.dlq) >= 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	dead := kafkatest.Consume(t, f.k, f.dlq, 1, 30*time.Second)
	if code := kafka.Header(dead[0], "error_code"); code != string(normalizer.CodeTooLarge) || string(dead[0].Key) != "0" {
		t.Errorf("DLQ record %s has error_code %q, want record 0 as too_large", dead[0].Key, code)
	}
	committed, err := c.Committed([]ckafka.TopicPartition{{Topic: &topic, Partition: 0}}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(committed[0].Offset); got != int64(len(values)) {
		t.Errorf("committed offset %d, want %d: the partition did not move past the record", got, len(values))
	}
}

// A raw record under 1 MiB whose text holds invalid UTF-8 normalizes to a
// payment three times its size (each bad byte becomes U+FFFD, three
// bytes), more than Kafka takes with default limits. It goes to the DLQ as
// too_large, and the partition moves on: the record after it is ingested
// and its offset committed.
func TestPaymentTooLargeForKafkaIsDeadLetteredAndPartitionMovesOn(t *testing.T) {
	f := newFixture(t)
	topic := f.raw[pb.Gateway_GATEWAY_STRIPE]
	invalid := func(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }
	values := [][]byte{
		stripeSucceeded(t, invalid(900_000), ""), // payment ≈ 2.7 MB
		stripeSucceeded(t, nil, ""),
	}
	for i, v := range values {
		m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: 0}, Key: []byte(fmt.Sprint(i)), Value: v,
			Headers: []ckafka.Header{{Key: "gateway", Value: []byte("stripe")}}}
		if err := f.producer.SendSync(context.Background(), m); err != nil {
			t.Fatalf("raw record %d (%d bytes): %v", i, len(v), err)
		}
	}
	r := f.start(ModePerTopic, 0)
	c := f.admin()
	f.waitOutputs(c, int64(len(values)), 60*time.Second)
	r.shutdown(t)
	committed, err := c.Committed([]ckafka.TopicPartition{{Topic: &topic, Partition: 0}}, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(committed[0].Offset); got != int64(len(values)) {
		t.Errorf("committed offset %d, want %d: the partition did not move past the record", got, len(values))
	}
	if got := f.count(c, f.normalized); got != 1 {
		t.Errorf("normalized holds %d payments, want 1", got)
	}
	dead := kafkatest.Consume(t, f.k, f.dlq, 1, 30*time.Second)
	for _, d := range dead {
		if code := kafka.Header(d, "error_code"); code != string(normalizer.CodeTooLarge) {
			t.Errorf("DLQ record %s: error_code %q, want too_large", d.Key, code)
		}
		if len(d.Value) > 1<<20 {
			t.Errorf("DLQ record %s: %d bytes, more than the raw record", d.Key, len(d.Value))
		}
	}
	if got := r.in.DLQByCode()[string(normalizer.CodeTooLarge)]; got != 1 {
		t.Errorf("DLQ count too_large = %d, want 1", got)
	}
}

// A fatal producer error (raised by librdkafka's own test facility, as a
// fenced idempotent producer would raise it) ends Run with that error:
// nothing more can be delivered, so the stage must stop, not keep
// consuming records it cannot send. What was delivered is committed.
func TestFatalProducerErrorStopsIngest(t *testing.T) {
	for _, mode := range []string{ModePerTopic, ModeShared} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t)
			valid, _ := f.produce(31, 300, 0)
			p, err := kafka.NewProducer(f.k, quietLog(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(time.Second)
			in := New(f.options(mode, 0), p, quietLog())
			done := make(chan error, 1)
			go func() { done <- in.Run(context.Background()) }()
			c := f.admin()
			f.waitOutputs(c, int64(len(valid)), 60*time.Second)
			if why := in.Problem(); why != "" {
				t.Fatalf("Problem() = %q before the fatal error", why)
			}
			p.InjectFatalError("fenced, for the test")
			select {
			case err := <-done:
				var kerr ckafka.Error
				if !errors.As(err, &kerr) || !kerr.IsFatal() {
					t.Errorf("Run returned %v, want the producer's fatal error", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("Run still running 60s after a fatal producer error")
			}
			if in.Problem() == "" {
				t.Error("Problem() is empty after a fatal producer error: readiness would stay true")
			}
			f.checkCommitted(c)
		})
	}
}

// A delivery that keeps failing (here: the normalized topic does not exist,
// and the broker creates no topic by itself) is retried, never dropped, and
// it shows: every failure reaches OnDeliveryFailure (the metric) and
// Problem (readiness) names it until the deliveries succeed again.
func TestFailingDeliveryShowsInReadinessAndMetrics(t *testing.T) {
	f := newFixture(t)
	valid, _ := f.produce(51, 30, 0)
	// A short message timeout, so that a delivery fails in seconds.
	p, err := kafka.NewProducer(f.k, quietLog(), ckafka.ConfigMap{"message.timeout.ms": 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(5 * time.Second)
	opts := f.options(ModePerTopic, 0)
	opts.EventsTopic = f.normalized + ".later"
	var failures atomic.Int64
	opts.OnDeliveryFailure = func(topic, _ string) {
		if topic == opts.EventsTopic {
			failures.Add(1)
		}
	}
	in := New(opts, p, quietLog())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	}()
	waitUntil(t, 60*time.Second, "Problem() names the failing deliveries", func() bool { return in.Problem() != "" })
	if failures.Load() == 0 || in.Stats.DeliveryFailures.Load() == 0 {
		t.Errorf("failed deliveries counted: %d by OnDeliveryFailure, %d in Stats; want both > 0", failures.Load(), in.Stats.DeliveryFailures.Load())
	}

	if err := kafka.EnsureTopics(context.Background(), f.k, []string{opts.EventsTopic}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kafka.DeleteTopics(context.Background(), f.k, []string{opts.EventsTopic}) })
	c := f.admin()
	waitUntil(t, 90*time.Second, "every payment delivered once the topic exists", func() bool {
		return f.count(c, opts.EventsTopic) >= int64(len(valid))
	})
	waitUntil(t, 30*time.Second, "Problem() clears", func() bool { return in.Problem() == "" })
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not true after %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Static members (KIP-345) do not leave the group when they close, so that
// a crashed one, restarted, takes its partitions back at once. A graceful
// stop is not a crash: the stopping instance leaves, and the other one
// takes its partitions at once instead of after the session timeout (45 s;
// the deadline below is well inside it).
func TestStaticMemberLeavesOnGracefulStop(t *testing.T) {
	f := newFixture(t)
	opts := f.options(ModeShared, 0)
	start := func(id string) *running {
		o := opts
		o.InstanceID = id
		in := New(o, f.producer, quietLog())
		ctx, cancel := context.WithCancel(context.Background())
		r := &running{in: in, stop: cancel, done: make(chan error, 1)}
		go func() { r.done <- in.Run(ctx) }()
		t.Cleanup(func() { r.shutdown(t) })
		return r
	}
	all := 3 * len(gateways3)
	a := start(kafkatest.Name(t, "a"))
	waitUntil(t, 60*time.Second, "a owns every partition", func() bool { return a.assigned() == all })
	b := start(kafkatest.Name(t, "b"))
	waitUntil(t, 60*time.Second, "a and b share the partitions", func() bool {
		return b.assigned() > 0 && a.assigned()+b.assigned() == all
	})
	a.shutdown(t)
	waitUntil(t, 30*time.Second, "b owns every partition after a's graceful stop", func() bool { return b.assigned() == all })
}
