package e2e

import (
	"context"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// resumingClient reads a payment stream the way a well-behaved client does:
// when the stream breaks it reconnects (to whatever address addr returns
// now) with the cursor of the last payment it received.
type resumingClient struct {
	t          *testing.T
	addr       func() string
	mu         sync.Mutex
	seen       map[string]int // gateway/event id → times received
	cursor     string
	reconnects int
}

func newResumingClient(t *testing.T, addr func() string) *resumingClient {
	return &resumingClient{t: t, addr: addr, seen: map[string]int{}}
}

// run streams until want distinct events arrived or the deadline passes.
func (c *resumingClient) run(ctx context.Context, start pb.StartPosition, want int, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && c.distinct() < want {
		conn, err := grpc.NewClient(c.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			c.t.Errorf("dial: %v", err)
			return
		}
		client := pb.NewPaymentServiceClient(conn)
		req := &pb.StreamPaymentsRequest{Start: start}
		if c.cursor != "" {
			req = &pb.StreamPaymentsRequest{Cursor: c.cursor}
		}
		sctx, cancel := context.WithDeadline(ctx, deadline)
		stream, err := client.StreamPayments(sctx, req)
		for err == nil && c.distinct() < want {
			var r *pb.StreamPaymentsResponse
			if r, err = stream.Recv(); err == nil {
				c.mu.Lock()
				c.seen[r.GetPayment().GetGateway().String()+"/"+r.GetPayment().GetEventId()]++
				c.cursor = r.GetCursor()
				c.mu.Unlock()
			}
		}
		cancel()
		conn.Close()
		if c.distinct() >= want {
			return
		}
		if s, ok := status.FromError(err); ok && (s.Code() == codes.OutOfRange || s.Code() == codes.InvalidArgument) {
			c.t.Errorf("stream refused the cursor: %v", err)
			return
		}
		c.reconnects++
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *resumingClient) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// duplicates counts events received more than once.
func (c *resumingClient) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, times := range c.seen {
		if times > 1 {
			n += times - 1
		}
	}
	return n
}

// kill ends the server with SIGKILL: no drain, no commit, no goodbye.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	s.done <- nil
}

// Test 1: kill -9 the server in the middle of a 50k-payment run and restart
// it. Every payment reaches the normalized topic exactly once (as a
// read_committed client reads it: the state stage's transactions), and a
// client that resumes from its cursor sees every payment exactly once.
func TestKillNineMidRunLosesNothing(t *testing.T) {
	const total = 50000
	tt := newTopics(t, synthetic.Gateways()...)
	recs := generate(t, synthetic.Options{Seed: 9, Mix: synthetic.MixSimple}, total)

	srv := startServer(t, tt)
	var mu sync.Mutex
	addr := srv.addr
	client := newResumingClient(t, func() string { mu.Lock(); defer mu.Unlock(); return addr })
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		client.run(context.Background(), pb.StartPosition_START_POSITION_LATEST, total, 4*time.Minute)
	}()
	time.Sleep(500 * time.Millisecond) // the stream is open before the first record

	produced := make(chan error, 1)
	go func() { produced <- produceAll(tt, recs) }()
	waitFor(t, 2*time.Minute, func() bool { return client.distinct() >= total/5 })
	srv.kill(t)
	t.Logf("killed -9 after the client had %d payments", client.distinct())

	restarted := startServer(t, tt)
	mu.Lock()
	addr = restarted.addr
	mu.Unlock()
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	<-clientDone

	events := countTopic(t, tt.events)
	committed := kafkatest.ReadCommitted(t, kafkaConfig, tt.normalized, 2*time.Minute)
	ids := distinctEvents(committed)
	t.Logf("in %d; events topic %d records (%d redelivered by ingest after the kill); normalized topic %d committed records, %d distinct events; client %d distinct, %d duplicates, %d reconnects; lost %d",
		total, events, events-total, len(committed), ids, client.distinct(), client.duplicates(), client.reconnects, total-client.distinct())
	if ids != total || len(committed) != total {
		t.Errorf("normalized topic has %d committed records of %d distinct events, want %d of %d", len(committed), ids, total, total)
	}
	if client.distinct() != total || client.duplicates() != 0 {
		t.Errorf("client saw %d distinct events with %d duplicates, want %d and 0", client.distinct(), client.duplicates(), total)
	}
}

// Test 3: two instances in one consumer group, one killed: the survivor
// takes over its partitions, and a client connected to the survivor sees
// every payment.
func TestSurvivorTakesOverPartitions(t *testing.T) {
	const total = 6000
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY}
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 3, Gateways: gateways, Mix: synthetic.MixSimple}, total)

	victim := startServer(t, tt)
	survivor := startServer(t, tt)
	client := newResumingClient(t, func() string { return survivor.addr })
	done := make(chan struct{})
	go func() {
		defer close(done)
		client.run(context.Background(), pb.StartPosition_START_POSITION_LATEST, total, 3*time.Minute)
	}()
	time.Sleep(500 * time.Millisecond)
	produce(t, tt, recs[:total/2])
	victim.kill(t)
	produce(t, tt, recs[total/2:])
	<-done
	t.Logf("in %d; survivor's client %d distinct, %d duplicates, %d reconnects; lost %d",
		total, client.distinct(), client.duplicates(), client.reconnects, total-client.distinct())
	if client.distinct() != total || client.duplicates() != 0 {
		t.Errorf("client saw %d distinct events with %d duplicates, want %d and 0", client.distinct(), client.duplicates(), total)
	}
}

// Test 5: the same raw records produced twice (a gateway retrying its
// webhooks): each event reaches a client once.
func TestSameRecordsTwiceReachClientOnce(t *testing.T) {
	tt := newTopics(t, synthetic.Gateways()...)
	recs := generate(t, synthetic.Options{Seed: 5, Mix: synthetic.MixRealistic}, 2000)
	unique := 0
	for _, r := range recs {
		if !r.Duplicate {
			unique++
		}
	}
	srv := startServer(t, tt)
	produce(t, tt, recs)
	produce(t, tt, recs)
	client := newResumingClient(t, func() string { return srv.addr })
	client.run(context.Background(), pb.StartPosition_START_POSITION_EARLIEST, unique, time.Minute)
	// Anything more would arrive now: give it a moment to show up.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	client.run(ctx, pb.StartPosition_START_POSITION_EARLIEST, unique+1, 3*time.Second)
	t.Logf("in %d (the same %d twice); client %d distinct, %d duplicates; events topic %d", 2*len(recs), len(recs), client.distinct(), client.duplicates(), countTopic(t, tt.events))
	if client.distinct() != unique || client.duplicates() != 0 {
		t.Errorf("client saw %d distinct events with %d duplicates, want %d and 0", client.distinct(), client.duplicates(), unique)
	}
}

// Test 2: the Kafka broker restarts during a run; nothing is lost once it
// is back. It stops the shared broker, so it runs only when asked
// (E2E_KAFKA_RESTART=1, as `make test` does in a step of its own).
func TestBrokerRestartLosesNothing(t *testing.T) {
	kafkatest.OnlyIn(t, "E2E_KAFKA_RESTART", "make test-faults", "restarts the shared Kafka broker")
	const total = 6000
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_SQUARE}
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 2, Gateways: gateways, Mix: synthetic.MixSimple}, total)
	srv := startServer(t, tt)
	client := newResumingClient(t, func() string { return srv.addr })
	done := make(chan struct{})
	go func() {
		defer close(done)
		client.run(context.Background(), pb.StartPosition_START_POSITION_LATEST, total, 4*time.Minute)
	}()
	time.Sleep(500 * time.Millisecond)
	produce(t, tt, recs[:total/2])
	kafkaScript(t, "down")
	// While the broker is down the producer buffers; deliveries complete after.
	produced := make(chan error, 1)
	go func() { produced <- produceAll(tt, recs[total/2:]) }()
	time.Sleep(3 * time.Second)
	kafkaScript(t, "up")
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	<-done
	t.Logf("in %d; client %d distinct, %d duplicates, %d reconnects; lost %d", total, client.distinct(), client.duplicates(), client.reconnects, total-client.distinct())
	if client.distinct() != total || client.duplicates() != 0 {
		t.Errorf("client saw %d distinct events with %d duplicates, want %d and 0", client.distinct(), client.duplicates(), total)
	}
}

func kafkaScript(t *testing.T, verb string) {
	t.Helper()
	out, err := exec.Command("../tools/kafka/kafka.sh", verb).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka.sh %s: %v\n%s", verb, err, out)
	}
	t.Logf("kafka.sh %s: %s", verb, out)
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// distinctEvents counts the distinct (gateway, event id) pairs of records of
// a normalized topic.
func distinctEvents(records []*ckafka.Message) int {
	seen := map[string]bool{}
	for _, m := range records {
		seen[header(m, "gateway")+"/"+header(m, "event_id")] = true
	}
	return len(seen)
}
