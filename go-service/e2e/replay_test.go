package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// bugCode is the error_code a buggy normalizer gave the dead letters these
// tests make: no code of today's normalizer, so nothing else carries it.
const bugCode = "e2e_normalizer_bug"

// deadLetters is a test's DLQ, written record by record to partition 0 so
// that each one's offset is its index.
type deadLetters struct {
	t     *testing.T
	tt    testTopics
	p     *kafka.Producer
	count int
}

func newDeadLetters(t *testing.T, tt testTopics) *deadLetters {
	t.Helper()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, kafkaConfig, tt.rawList()); err != nil {
		t.Fatal(err)
	}
	if err := kafka.EnsureTopicsWithConfig(ctx, kafkaConfig, []string{tt.dlq}, kafka.DLQTopicConfig); err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kafkaConfig, discardLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(10 * time.Second) })
	// The replay log is the replay command's own topic: delete it with the rest.
	kafkatest.DeleteTopicsAfter(t, kafkaConfig, tt.dlq+".replayed")
	return &deadLetters{t: t, tt: tt, p: p}
}

// add writes a dead letter as the ingest stage makes one (deadletter.Headers)
// of a raw record with key, value and raw headers from the stripe raw
// topic, and returns its offset.
func (d *deadLetters) add(code string, key string, value []byte, raw ...ckafka.Header) int {
	d.t.Helper()
	rawTopic := d.tt.raw[pb.Gateway_GATEWAY_STRIPE]
	headers := deadletter.Headers(raw, deadletter.Info{
		Error: "normalize stripe record: a normalizer bug refused it", Code: code, Gateway: "stripe",
		Topic: rawTopic, Partition: 0, Offset: int64(100 + d.count),
	})
	m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &d.tt.dlq, Partition: 0}, Key: []byte(key), Value: value, Headers: headers}
	if err := d.p.SendSync(context.Background(), m); err != nil {
		d.t.Fatal(err)
	}
	d.count++
	return d.count - 1
}

func hdr(k, v string) ckafka.Header { return ckafka.Header{Key: k, Value: []byte(v)} }

// runReplay runs the replay binary to completion.
func runReplay(t *testing.T, tt testTopics, args ...string) (out string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "replay"), args...)
	cmd.Env = append(cleanEnv(), "ENV_FILE=/nonexistent", "KAFKA_BOOTSTRAP_SERVERS="+kafkaConfig.BootstrapServers,
		"KAFKA_DLQ_TOPIC="+tt.dlq, "REPLAY_READ_TIMEOUT_SECONDS=20")
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(b), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), 0
}

func summaryLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "[REPLAY] Done: ") {
			return strings.TrimPrefix(line, "[REPLAY] Done: ")
		}
	}
	return ""
}

// Dead letters that a normalizer bug made (valid Stripe webhooks under a
// made-up error code) are replayed with -code; the server turns each into a
// payment that reaches a stream once. A still-broken record replayed with
// them comes back to the DLQ carrying replayed_from and its raw headers; a
// second run replays nothing: the first ones are in the replay log, the one
// that came back is held by the loop guard.
func TestReplayRedrivesDeadLettersOnce(t *testing.T) {
	stripe := pb.Gateway_GATEWAY_STRIPE
	tt := newTopics(t, stripe)
	recs := generate(t, synthetic.Options{Seed: 77, Gateways: []pb.Gateway{stripe}, Mix: synthetic.MixSimple}, 6)
	want := map[string]synthetic.Record{}
	dl := newDeadLetters(t, tt)
	for i, r := range recs {
		want[r.Key] = r
		dl.add(bugCode, r.Key, r.Value, hdr("gateway", r.Header), hdr("x-request-id", fmt.Sprintf("req-%d", i)))
	}
	broken := dl.add(bugCode, "pi_broken", []byte("this is not json"), hdr("gateway", "stripe"), hdr("x-request-id", "req-broken"))
	// A valid payment under another code: -code must leave it alone.
	other := generate(t, synthetic.Options{Seed: 78, Gateways: []pb.Gateway{stripe}, Mix: synthetic.MixSimple}, 1)[0]
	dl.add("invalid_amount", other.Key, other.Value, hdr("gateway", "stripe"))

	srv := startServer(t, tt)
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST})
	if err != nil {
		t.Fatal(err)
	}

	out, code := runReplay(t, tt, "-code", bugCode)
	if code != 0 || summaryLine(out) != "read 8, chosen 7, replayed 7, failed 0, skipped 0" {
		t.Fatalf("first replay: exit %d, summary %q\n%s", code, summaryLine(out), out)
	}
	seen := map[string]int{}
	for _, r := range collect(t, stream, len(want), 60*time.Second) {
		p := r.GetPayment()
		seen[p.GetId()]++
		checkPayment(t, p, want)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("payment %s reached the stream %d times", id, n)
		}
	}

	// The replayed records carry the raw headers and replayed_from, not the DLQ's.
	for _, m := range readTopic(t, tt.raw[stripe], len(recs)+1, 30*time.Second) {
		info, _ := deadletter.Split(m.Headers)
		if header(m, "x-request-id") == "" || header(m, "gateway") != "stripe" || info.Code != "" || info.Topic != "" ||
			!strings.HasPrefix(header(m, deadletter.HeaderReplayedFrom), tt.dlq+"/0/") {
			t.Errorf("replayed record %s has headers %v", m.Key, m.Headers)
		}
	}

	// The broken one comes back, with its raw headers and replayed_from.
	cameBack := waitDLQRecord(t, tt.dlq, dl.count+1, 60*time.Second)
	info, raw := deadletter.Split(cameBack.Headers)
	wantFrom := fmt.Sprintf("%s/0/%d", tt.dlq, broken)
	if from, _ := deadletter.Value(raw, deadletter.HeaderReplayedFrom); from != wantFrom || info.Code != "malformed_json" {
		t.Errorf("dead letter of the replayed broken record: replayed_from %q (want %q), code %q; headers %v", from, wantFrom, info.Code, cameBack.Headers)
	}
	if id, _ := deadletter.Value(raw, "x-request-id"); id != "req-broken" {
		t.Errorf("the broken record's x-request-id did not survive into its new dead letter: %v", cameBack.Headers)
	}

	rawBefore := countTopic(t, tt.raw[stripe])
	out, code = runReplay(t, tt, "-code", bugCode+",malformed_json")
	if code != 0 || summaryLine(out) != "read 9, chosen 8, replayed 0, failed 0, skipped 8 (already_replayed 7, came_back_after_replay 1)" {
		t.Fatalf("second replay: exit %d, summary %q\n%s", code, summaryLine(out), out)
	}
	if n := countTopic(t, tt.raw[stripe]); n != rawBefore {
		t.Errorf("second replay wrote to the raw topic: %d records, was %d", n, rawBefore)
	}
	if n := countTopic(t, tt.events); n != int64(len(want)) {
		t.Errorf("events topic holds %d payments, want %d (each once)", n, len(want))
	}
}

// waitDLQRecord waits until the DLQ holds n records and returns the one
// that is not on partition 0 at an offset below the first n-1 (the newest
// arrival, written by the server rather than the test).
func waitDLQRecord(t *testing.T, dlq string, n int, timeout time.Duration) *ckafka.Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for countTopic(t, dlq) < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("DLQ holds %d records after %v, want %d", countTopic(t, dlq), timeout, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, m := range readTopic(t, dlq, n, 30*time.Second) {
		if _, ok := deadletter.Value(m.Headers, deadletter.HeaderReplayedFrom); ok {
			return m
		}
	}
	t.Fatalf("no dead letter in %s carries %s", dlq, deadletter.HeaderReplayedFrom)
	return nil
}

// A dry run says what today's normalizer would do with each chosen dead
// letter and writes nothing: no raw record, no DLQ record, no replay log.
func TestReplayDryRunWritesNothing(t *testing.T) {
	stripe := pb.Gateway_GATEWAY_STRIPE
	tt := newTopics(t, stripe)
	recs := generate(t, synthetic.Options{Seed: 79, Gateways: []pb.Gateway{stripe}, Mix: synthetic.MixSimple}, 2)
	dl := newDeadLetters(t, tt)
	for _, r := range recs {
		dl.add(bugCode, r.Key, r.Value, hdr("gateway", r.Header))
	}
	dl.add(bugCode, "pi_broken", []byte("this is not json"), hdr("gateway", "stripe"))
	dl.add("malformed_json", recs[0].Key, recs[0].Value, hdr("gateway", "stripe"), hdr(deadletter.HeaderReplayedFrom, tt.dlq+"/0/0"))
	rawBefore, dlqBefore := countTopic(t, tt.raw[stripe]), countTopic(t, tt.dlq)

	out, code := runReplay(t, tt, "-dry-run", "-all")
	if code != 0 || summaryLine(out) != "read 4, chosen 4, would replay 3 (malformed_json 1, payment 2), skipped 1 (came_back_after_replay 1) (dry run: nothing written)" {
		t.Fatalf("dry run: exit %d, summary %q\n%s", code, summaryLine(out), out)
	}
	for i, r := range recs {
		line := fmt.Sprintf("[REPLAY] Would replay %s/0/%d → %s: payment %s | ", tt.dlq, i, tt.raw[stripe], r.Payment.ID)
		if !strings.Contains(out, line) {
			t.Errorf("dry run does not say %q\n%s", line, out)
		}
	}
	for _, line := range []string{
		fmt.Sprintf("[REPLAY] Would replay %s/0/2 → %s: dead-lettered again, malformed_json: ", tt.dlq, tt.raw[stripe]),
		fmt.Sprintf("[REPLAY] Skipped %s/0/3: came_back_after_replay", tt.dlq),
	} {
		if !strings.Contains(out, line) {
			t.Errorf("dry run does not say %q\n%s", line, out)
		}
	}

	out, code = runReplay(t, tt, "-dry-run", "-offsets", "0:1-2")
	if code != 0 || summaryLine(out) != "read 2, chosen 2, would replay 2 (malformed_json 1, payment 1), skipped 0 (dry run: nothing written)" {
		t.Errorf("dry run of offsets 0:1-2: exit %d, summary %q\n%s", code, summaryLine(out), out)
	}

	// -since and -until compare the dead letter's own record timestamp.
	later := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct{ flag, want string }{
		{"-since", "read 4, chosen 0, would replay 0, skipped 0 (dry run: nothing written)"},
		{"-until", "read 4, chosen 4, would replay 3 (malformed_json 1, payment 2), skipped 1 (came_back_after_replay 1) (dry run: nothing written)"},
	} {
		if out, code := runReplay(t, tt, "-dry-run", tc.flag, later); code != 0 || summaryLine(out) != tc.want {
			t.Errorf("dry run %s %s: exit %d, summary %q\n%s", tc.flag, later, code, summaryLine(out), out)
		}
	}

	if n := countTopic(t, tt.raw[stripe]); n != rawBefore {
		t.Errorf("dry run wrote to the raw topic: %d records, was %d", n, rawBefore)
	}
	if n := countTopic(t, tt.dlq); n != dlqBefore {
		t.Errorf("dry run wrote to the DLQ: %d records, was %d", n, dlqBefore)
	}
	if topicExists(t, tt.dlq+".replayed") {
		t.Errorf("dry run created the replay log %s.replayed", tt.dlq)
	}
}

// A write that fails (the dead letter names a raw topic Kafka refuses) makes
// the run exit non-zero and say so.
func TestReplayFailedWriteExitsNonZero(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	dl := newDeadLetters(t, tt)
	m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &tt.dlq, Partition: 0}, Value: []byte("{}"),
		Headers: deadletter.Headers(nil, deadletter.Info{Code: bugCode, Gateway: "stripe", Topic: "no such topic!", Partition: 0, Offset: 0})}
	if err := dl.p.SendSync(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	out, code := runReplay(t, tt, "-code", bugCode)
	if code == 0 || summaryLine(out) != "read 1, chosen 1, replayed 0, failed 1, skipped 0" || !strings.Contains(out, "replay: 1 write(s) failed") {
		t.Errorf("replay to a refused topic: exit %d, summary %q\n%s", code, summaryLine(out), out)
	}
}

func topicExists(t *testing.T, topic string) bool {
	t.Helper()
	c, err := ckafka.NewConsumer(kafka.ConfigMap(kafkaConfig, ckafka.ConfigMap{"group.id": "e2e-exists"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.GetMetadata(nil, true, 10000)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := md.Topics[topic]
	return ok
}

// README's "Re-drive the dead-letter topic" table lists exactly the flags of
// `replay -h`, but the Kafka connection ones it shares with the server.
func TestReplayFlagsTableMatchesHelp(t *testing.T) {
	help, code := runReplay(t, testTopics{}, "-h")
	if code != 0 {
		t.Fatalf("replay -h: exit %d\n%s", code, help)
	}
	shared := map[string]bool{"bootstrap-servers": true, "kafka-api-key": true, "kafka-api-secret": true, "kafka-ca-file": true, "partitions": true, "replication-factor": true}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(help, -1) {
		if !shared[m[1]] {
			known[m[1]] = true
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Re-drive the dead-letter topic\n")
	if !ok {
		t.Fatal(`README.md has no "## Re-drive the dead-letter topic" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `-([a-z-]+)`").FindAllStringSubmatch(section, -1) {
		listed[m[1]] = true
	}
	if len(known) < 10 || !reflect.DeepEqual(known, listed) {
		t.Errorf("replay -h has flags %v;\nREADME's table lists %v", slices.Sorted(maps.Keys(known)), slices.Sorted(maps.Keys(listed)))
	}
}
