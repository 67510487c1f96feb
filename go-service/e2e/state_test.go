package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// expectedState is what a run of synthetic records must leave in the state.
type expectedState struct {
	keys       map[string]synthetic.Record // one valid record per payment
	invalid    int64
	duplicates int64
}

func expectState(recs []synthetic.Record) expectedState {
	e := expectedState{keys: map[string]synthetic.Record{}}
	for _, r := range recs {
		switch {
		case r.Invalid != "":
			e.invalid++
		case r.Duplicate:
			e.duplicates++
		default:
			e.keys[paymentKey(r.Gateway, r.Key)] = r
		}
	}
	return e
}

// validOnly returns the records that become payments: redelivered, each is
// a duplicate.
func validOnly(recs []synthetic.Record) []synthetic.Record {
	var out []synthetic.Record
	for _, r := range recs {
		if r.Invalid == "" {
			out = append(out, r)
		}
	}
	return out
}

// answers is what a server says about every payment of e, and its stats
// without what is each instance's own (clients, ingest lag, skipped).
type answers struct {
	payments map[string]*pb.Payment
	stats    *pb.GetStatsResponse
}

// waitAnswers waits until the server's stats count every payment of e, every
// dead letter and dupes duplicates, then asks for every payment.
func waitAnswers(t *testing.T, addr string, e expectedState, dupes int64) answers {
	t.Helper()
	client := pb.NewPaymentServiceClient(dial(t, addr))
	stats := waitStats(t, client, 2*time.Minute, func(s *pb.GetStatsResponse) bool {
		return s.GetPaymentsTotal() == int64(len(e.keys)) && s.GetDlqCount() == e.invalid && s.GetDuplicatesDropped() == dupes
	})
	stats.ConnectedClients, stats.ConsumerLag, stats.SkippedCount = 0, nil, 0
	a := answers{payments: map[string]*pb.Payment{}, stats: stats}
	for k, r := range e.keys {
		resp, err := client.GetPayment(context.Background(), &pb.GetPaymentRequest{Gateway: r.Gateway, Id: r.Key})
		if err != nil {
			t.Fatalf("GetPayment %s: %v", k, err)
		}
		a.payments[k] = resp.GetPayment()
	}
	return a
}

func sameAnswers(t *testing.T, what string, want, got answers) {
	t.Helper()
	if !proto.Equal(want.stats, got.stats) {
		t.Errorf("%s: GetStats = %v, want %v", what, got.stats, want.stats)
	}
	differ := 0
	for k, p := range want.payments {
		if !proto.Equal(p, got.payments[k]) {
			if differ++; differ <= 3 {
				t.Errorf("%s: GetPayment %s = %v, want %v", what, k, got.payments[k], p)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%s: %d of %d payments differ", what, differ, len(want.payments))
	}
}

var (
	restoredLine = regexp.MustCompile(`restored partitions \[[0-9 ]*\]: read (\d+) record`)
	viewLine     = regexp.MustCompile(`view caught up: read (\d+) record`)
	noRestore    = regexp.MustCompile(`partition \d+: store checkpoint matches`)
)

// startupReads is what the state stage and the view read from Kafka at
// start, from the server's log: state records restored into the stage's own
// store, partitions that needed no restore, and records the view read.
func startupReads(t *testing.T, s *server) (restored, unrestored, view int) {
	t.Helper()
	out := s.out.String()
	for _, m := range restoredLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		restored += n
	}
	unrestored = len(noRestore.FindAllString(out, -1))
	m := viewLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no view line in the server's log:\n%s", out)
	}
	view, _ = strconv.Atoi(m[1])
	return restored, unrestored, view
}

// The state lives in the store and in Kafka: a restart reads nothing back
// (the checkpoints match), a lost store is rebuilt from the state topic with
// the same answers, and webhooks redelivered after either reach no client
// and count as duplicates (their event ids are in the state records).
func TestStateSurvivesRestartAndLostStore(t *testing.T) {
	tt := newTopics(t, synthetic.Gateways()...)
	recs := generate(t, synthetic.Options{Seed: 13, Mix: synthetic.MixRealistic}, 1500)
	e := expectState(recs)
	dir := t.TempDir()

	first := startServer(t, tt, "STATE_DIR="+dir)
	produce(t, tt, recs)
	want := waitAnswers(t, first.addr, e, e.duplicates)
	normalized := len(kafkatest.ReadCommitted(t, kafkaConfig, tt.normalized, time.Minute))
	first.stop(t)

	// Restart on the same store: nothing to restore, nothing re-read.
	again := startServer(t, tt, "STATE_DIR="+dir)
	restored, unrestored, view := startupReads(t, again)
	t.Logf("restart: restored %d state records, %d partitions from the checkpoint, view read %d records", restored, unrestored, view)
	if restored != 0 || unrestored != kafkaConfig.Partitions || view != 0 {
		t.Errorf("restart read %d state records and %d view records, %d partitions from the checkpoint; want 0, 0, %d", restored, view, unrestored, kafkaConfig.Partitions)
	}
	sameAnswers(t, "after a restart", want, waitAnswers(t, again.addr, e, e.duplicates))
	redelivered := validOnly(recs[:300])
	dupes := e.duplicates + int64(len(redelivered))
	produce(t, tt, redelivered)
	waitAnswers(t, again.addr, e, dupes)
	again.stop(t)

	// Lost store: an empty STATE_DIR restores from Kafka.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	rebuilt := startServer(t, tt, "STATE_DIR="+dir)
	restored, unrestored, view = startupReads(t, rebuilt)
	t.Logf("lost store: restored %d state records, view read %d records", restored, view)
	if restored == 0 || view == 0 {
		t.Errorf("an empty store restored %d state records and its view read %d, want both > 0", restored, view)
	}
	redelivered = validOnly(recs[300:600])
	dupes += int64(len(redelivered))
	produce(t, tt, redelivered)
	got := waitAnswers(t, rebuilt.addr, e, dupes)
	got.stats.DuplicatesDropped = want.stats.DuplicatesDropped
	sameAnswers(t, "after a lost store", want, got)

	// Every duplicate was dropped before the normalized topic: no client
	// can see one, whatever it reads from.
	if n := len(kafkatest.ReadCommitted(t, kafkaConfig, tt.normalized, time.Minute)); n != normalized {
		t.Errorf("normalized topic went from %d to %d committed records after redeliveries: a redelivered webhook reached it", normalized, n)
	}
}

// GetPayment answers for payments whose events the stream topics no longer
// hold: it reads the compacted state topic, on every instance, even a new one
// with an empty store. The events and normalized topics are emptied with
// DeleteRecords, which moves their start past every record as retention does
// (without waiting for the broker's retention check).
func TestGetPaymentOutlivesTheStreamTopics(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_ADYEN)
	recs := generate(t, synthetic.Options{Seed: 14, Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_ADYEN}, Mix: synthetic.MixRealistic}, 600)
	e := expectState(recs)
	srv := startServer(t, tt)
	produce(t, tt, recs)
	want := waitAnswers(t, srv.addr, e, e.duplicates)
	srv.stop(t)

	deleteAllRecords(t, tt.events, tt.normalized)
	if n := kafkatest.Count(t, kafkaConfig, tt.events) + kafkatest.Count(t, kafkaConfig, tt.normalized); n != 0 {
		t.Fatalf("events and normalized topics still hold %d records", n)
	}
	fresh := startServer(t, tt) // a store of its own: empty
	sameAnswers(t, "a new instance after the stream topics let go", want, waitAnswers(t, fresh.addr, e, e.duplicates))
}

// deleteAllRecords moves the start of every partition of topics to its end.
func deleteAllRecords(t *testing.T, topics ...string) {
	t.Helper()
	admin, err := kafka.NewAdminClient(kafkaConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var parts []ckafka.TopicPartition
	for _, topic := range topics {
		for p := range kafkatest.NewWatermarks(t, kafkaConfig).Ends(topic) {
			parts = append(parts, ckafka.TopicPartition{Topic: &topic, Partition: p, Offset: ckafka.OffsetEnd})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := admin.DeleteRecords(ctx, parts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.DeleteRecordsResults {
		if r.TopicPartition.Error != nil {
			t.Fatalf("delete records of %s/%d: %v", *r.TopicPartition.Topic, r.TopicPartition.Partition, r.TopicPartition.Error)
		}
	}
}

// Two instances share the state stage's partitions (each payment folded by
// one of them) and each materializes the whole state: both give the same
// GetPayment and GetStats answers.
func TestTwoInstancesGiveTheSameAnswers(t *testing.T) {
	tt := newTopics(t, synthetic.Gateways()...)
	recs := generate(t, synthetic.Options{Seed: 15, Mix: synthetic.MixRealistic}, 1500)
	e := expectState(recs)
	a := startServer(t, tt)
	b := startServer(t, tt)
	produce(t, tt, recs)
	fromA, fromB := waitAnswers(t, a.addr, e, e.duplicates), waitAnswers(t, b.addr, e, e.duplicates)
	sameAnswers(t, "instance B against A", fromA, fromB)
	if !maps.Equal(fromA.stats.GetDlqByCode(), fromB.stats.GetDlqByCode()) || fromA.stats.GetDlqCount() != e.invalid {
		t.Errorf("DLQ counts: A %v, B %v, want %d in all", fromA.stats.GetDlqByCode(), fromB.stats.GetDlqByCode(), e.invalid)
	}
	t.Log(fmt.Sprintf("%d payments, %d dead letters, %d duplicates: the same on both", len(e.keys), e.invalid, e.duplicates))
}

// A store whose file system is short of space turns health NOT_SERVING, with
// the reason on /readyz, instead of failing a write. The minimum is set above
// what the disk has free: the same check a full disk trips.
func TestShortDiskTurnsHealthNotServing(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	dir := t.TempDir()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	freeMB := st.Bavail * uint64(st.Bsize) >> 20
	if freeMB+1024 > 1<<20 {
		t.Fatalf("%s has %d MB free, more than STATE_MIN_FREE_MB can ask", dir, freeMB)
	}
	port := freePort(t)
	srv := launchServer(t, tt, "STATE_DIR="+dir, fmt.Sprintf("STATE_MIN_FREE_MB=%d", freeMB+1024), fmt.Sprintf("METRICS_PORT=%d", port))
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	var body string
	eventually(t, time.Minute, "/readyz names the short disk", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "STATE_MIN_FREE_MB")
	})
	client := healthpb.NewHealthClient(dial(t, srv.addr))
	resp, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health = %v, %v; want NOT_SERVING (readyz: %s)", resp.GetStatus(), err, body)
	}
	if ok, err := srv.exited(0); ok {
		t.Errorf("server exited: %v", err)
	}
}
