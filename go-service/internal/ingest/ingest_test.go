package ingest

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestCheckConsumerMode(t *testing.T) {
	for _, ok := range []string{"", ModePerTopic, ModeShared} {
		if err := CheckConsumerMode(ok); err != nil {
			t.Errorf("CheckConsumerMode(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"Shared", "one", "per_topic"} {
		if err := CheckConsumerMode(bad); err == nil {
			t.Errorf("CheckConsumerMode(%q) = nil, want an error", bad)
		}
	}
}

// TestConsumers: the server sizes GOMAXPROCS by it (kafka.SpareProcs).
func TestConsumers(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		topics int
		want   int
	}{
		{ModePerTopic, 5, 5},
		{"", 5, 5},
		{ModeShared, 5, 1},
		{ModeShared, 0, 0},
	} {
		if got := Consumers(tc.mode, tc.topics); got != tc.want {
			t.Errorf("Consumers(%q, %d) = %d, want %d", tc.mode, tc.topics, got, tc.want)
		}
	}
}

func TestThrottlePausesAtMaxAndResumesAtHalf(t *testing.T) {
	th := throttle{max: 100}
	steps := []struct {
		inFlight      int
		pause, resume bool
	}{
		{0, false, true},
		{50, false, true},
		{51, false, false}, // between half and max: stay as we are
		{99, false, false},
		{100, true, false},
		{5000, true, false},
	}
	for _, s := range steps {
		if got := th.pause(s.inFlight); got != s.pause {
			t.Errorf("pause(%d) = %v, want %v", s.inFlight, got, s.pause)
		}
		if got := th.resume(s.inFlight); got != s.resume {
			t.Errorf("resume(%d) = %v, want %v", s.inFlight, got, s.resume)
		}
	}
}

func TestPartitionsByTopic(t *testing.T) {
	a, b := "payments.raw.stripe", "payments.raw.adyen"
	got := partitionsByTopic([]ckafka.TopicPartition{
		{Topic: &a, Partition: 0}, {Topic: &b, Partition: 2}, {Topic: &a, Partition: 1}, {Partition: 9},
	})
	want := map[string][]int32{a: {0, 1}, b: {2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("partitionsByTopic = %v, want %v", got, want)
	}
}

func newTestIngester() *Ingester {
	return New(Options{EventsTopic: "n", DLQTopic: "d"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func rawMessage(topic string, offset int64, r synthetic.Record) *ckafka.Message {
	return &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: 1, Offset: ckafka.Offset(offset)},
		Key:            []byte(r.Key),
		Value:          r.Value,
		Headers:        []ckafka.Header{{Key: "gateway", Value: []byte(r.Header)}},
	}
}

// route is the pure heart of both consumer modes: a raw record in, the
// records to produce out.
func TestRouteValidRecordBecomesOneNormalizedPayment(t *testing.T) {
	gen, err := synthetic.New(synthetic.Options{Seed: 7, Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := gen.Next()
	if err != nil {
		t.Fatal(err)
	}
	in := newTestIngester()
	out := in.route(rawMessage("payments.raw.stripe", 41, rec))
	if len(out) != 1 {
		t.Fatalf("route gave %d records, want 1", len(out))
	}
	m := out[0]
	if *m.TopicPartition.Topic != "n" || string(m.Key) != "stripe:"+rec.Key {
		t.Errorf("to %s key %q, want n key %q", *m.TopicPartition.Topic, m.Key, "stripe:"+rec.Key)
	}
	var p pb.Payment
	if err := proto.Unmarshal(m.Value, &p); err != nil {
		t.Fatal(err)
	}
	if p.GetId() != rec.Key || p.GetSource().GetOffset() != 41 || p.GetSource().GetPartition() != 1 {
		t.Errorf("payment %s from %v, want %s from partition 1 offset 41", p.GetId(), p.GetSource(), rec.Key)
	}
	if got := kafka.Header(m, "gateway"); got != "stripe" {
		t.Errorf("gateway header %q", got)
	}
	if in.Stats.Payments.Load() != 1 || in.Stats.DLQ.Load() != 0 {
		t.Errorf("stats: %d payments, %d DLQ", in.Stats.Payments.Load(), in.Stats.DLQ.Load())
	}
}

func TestRouteMalformedRecordGoesToDLQUntouched(t *testing.T) {
	in := newTestIngester()
	value := []byte(`{"id": "evt_1", "type": "payment_intent.succeeded", `)
	m := &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: proto.String("payments.raw.stripe"), Partition: 2, Offset: 7},
		Key:            []byte("pi_1"),
		Value:          value,
	}
	out := in.route(m)
	if len(out) != 1 {
		t.Fatalf("route gave %d records, want 1", len(out))
	}
	d := out[0]
	if *d.TopicPartition.Topic != "d" || string(d.Value) != string(value) || string(d.Key) != "pi_1" {
		t.Fatalf("DLQ record to %s key %q value %q", *d.TopicPartition.Topic, d.Key, d.Value)
	}
	want := map[string]string{"error_code": "malformed_json", "gateway": "stripe", "source_topic": "payments.raw.stripe", "source_partition": "2", "source_offset": "7"}
	for k, v := range want {
		if got := kafka.Header(d, k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if kafka.Header(d, "error") == "" {
		t.Error("no error header")
	}
	if got := in.DLQByCode()["malformed_json"]; got != 1 {
		t.Errorf("DLQ count malformed_json = %d", got)
	}
}

// The Ingester's logger carries the KAFKA component already: a line that
// named it again would have "component" twice in LOG_FORMAT=json.
func TestLogLinesNameTheirComponentOnce(t *testing.T) {
	var buf bytes.Buffer
	in := New(Options{EventsTopic: "n", DLQTopic: "d"}, nil, slog.New(slog.NewJSONHandler(&buf, nil)))
	in.route(&ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: proto.String("payments.raw.stripe")}, Value: []byte(`{`)})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("route logged nothing for a dead-lettered record")
	}
	for _, line := range lines {
		if n := strings.Count(line, `"component":`); n != 1 {
			t.Errorf("%d component keys in %s", n, line)
		}
	}
}

func TestInstanceIDs(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		want string
	}{
		{"payagg-0", 50051, "payagg-0-50051"},
		{"node1.example.com", 9000, "node1.example.com-9000"},
		{"héte:x", 1, "h-te-x-1"},
	} {
		got := DefaultInstanceID(tc.host, tc.port)
		if got != tc.want {
			t.Errorf("DefaultInstanceID(%q, %d) = %q, want %q", tc.host, tc.port, got, tc.want)
		}
		if err := CheckInstanceID(got); err != nil {
			t.Errorf("CheckInstanceID(%q) = %v: the default must be valid", got, err)
		}
	}
	for _, bad := range []string{"a b", "pod/0", "x:1", strings.Repeat("a", 201)} {
		if CheckInstanceID(bad) == nil {
			t.Errorf("CheckInstanceID(%q) = nil, want an error", bad)
		}
	}
	in := New(Options{Topics: []string{"raw.a", "raw.b"}, InstanceID: "host-1"}, nil, quietLog())
	var ids []string
	for _, f := range in.feeds() {
		ids = append(ids, f.instanceID)
	}
	if want := []string{"host-1-raw.a", "host-1-raw.b"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("per-topic instance ids %q, want %q (one per consumer)", ids, want)
	}
	in = New(Options{Topics: []string{"raw.a", "raw.b"}, InstanceID: "host-1", ConsumerMode: ModeShared}, nil, quietLog())
	if f := in.feeds(); len(f) != 1 || f[0].instanceID != "host-1" {
		t.Errorf("shared mode feeds %+v, want one with instance id host-1", f)
	}
}

// stripeSucceeded is a real-shaped Stripe payment_intent.succeeded event,
// with a metadata note and the given currency if set.
func stripeSucceeded(t *testing.T, note []byte, currency string) []byte {
	t.Helper()
	doc, err := os.ReadFile("../normalizer/testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		t.Fatal(err)
	}
	if note != nil {
		withNote := append(append([]byte(`"metadata": {"note": "`), note...), `",`...)
		doc = bytes.Replace(doc, []byte(`"metadata": {`), withNote, 1)
	}
	if currency != "" {
		doc = bytes.Replace(doc, []byte(`"currency": "usd"`), []byte(`"currency": "`+currency+`"`), 1)
	}
	return doc
}

// An error message may quote a field of the record: the DLQ header and the
// log line carry a bounded part of it.
func TestDeadLetterErrorHeaderIsBounded(t *testing.T) {
	in := newTestIngester()
	huge := strings.Repeat("X", 50_000)
	out := in.route(&ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: proto.String("payments.raw.stripe")},
		Value: stripeSucceeded(t, nil, huge), Headers: []ckafka.Header{{Key: "gateway", Value: []byte("stripe")}}})
	if len(out) != 1 || *out[0].TopicPartition.Topic != "d" {
		t.Fatalf("route gave %d records, want one DLQ record", len(out))
	}
	msg := kafka.Header(out[0], "error")
	if len(msg) > maxErrorHeader || !utf8.ValidString(msg) || !strings.Contains(msg, "XXX") {
		t.Errorf("error header of %d bytes (valid UTF-8: %v), want at most %d bytes quoting the start: %.80q", len(msg), utf8.ValidString(msg), maxErrorHeader, msg)
	}
}

func TestBoundText(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
	}{
		{"short", 10},
		{strings.Repeat("é", 1000), 100},
		{strings.Repeat("a", 5000), 1024},
	} {
		got := boundText(tc.in, tc.limit)
		if len(got) > tc.limit || !utf8.ValidString(got) {
			t.Errorf("boundText(%d bytes, %d) = %d bytes, valid %v", len(tc.in), tc.limit, len(got), utf8.ValidString(got))
		}
		if len(tc.in) <= tc.limit && got != tc.in {
			t.Errorf("boundText changed a short text: %q", got)
		}
	}
}

// A payment too large for the events topic is a dead letter, and is
// counted as one: in OnRecord (the metrics) and in Stats, not as a payment.
func TestTooLargePaymentIsCountedAsADeadLetter(t *testing.T) {
	var outcome Outcome
	var code normalizer.Code
	in := New(Options{EventsTopic: "n", DLQTopic: "d", MaxPaymentBytes: 10_000,
		OnRecord: func(_ string, o Outcome, c normalizer.Code, _ time.Duration) { outcome, code = o, c }}, nil, quietLog())
	out := in.route(&ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: proto.String("payments.raw.stripe")},
		Value: stripeSucceeded(t, bytes.Repeat([]byte{0xff}, 5_000), ""), Headers: []ckafka.Header{{Key: "gateway", Value: []byte("stripe")}}})
	if len(out) != 1 || *out[0].TopicPartition.Topic != "d" || kafka.Header(out[0], "error_code") != string(normalizer.CodeTooLarge) {
		t.Fatalf("route gave %d records, want one too_large DLQ record", len(out))
	}
	if outcome != OutcomeDLQ || code != normalizer.CodeTooLarge {
		t.Errorf("OnRecord heard %q %q, want %q %q", outcome, code, OutcomeDLQ, normalizer.CodeTooLarge)
	}
	if in.Stats.Payments.Load() != 0 || in.Stats.DLQ.Load() != 1 {
		t.Errorf("stats: %d payments, %d DLQ; want 0 and 1", in.Stats.Payments.Load(), in.Stats.DLQ.Load())
	}
}
