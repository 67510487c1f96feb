package ingest

// Integration tests of both consumer modes on real Kafka (`make kafka-up`).
// Without Kafka they are skipped, unless REQUIRE_KAFKA is set (kafkatest.Config).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
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
// gives the partitions away uncommitted. The callback is called here as
// Poll would call it at that moment.
func TestSharedRevokeHandsOverPolledRecordsFirst(t *testing.T) {
	f := newFixture(t)
	warned := &warnings{}
	opts := f.options(ModeShared, 0)
	opts.DrainTimeout = 10 * time.Second
	in := New(opts, f.producer, slog.New(warned))
	c, err := in.newConsumer()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := newSharedConsumer(in, c)
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
