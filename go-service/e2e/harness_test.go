// Package e2e runs the real binaries against real Kafka (started by `make
// kafka-up`) and talks to the real gRPC server on 127.0.0.1. Every test uses
// topics and a consumer group of its own, so tests don't see each other.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
	"github.com/paymentgateway/aggregator/go-service/internal/logging/logtest"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

var (
	kafkaConfig config.Kafka
	binDir      string
)

func TestMain(m *testing.M) {
	kafkaConfig = kafkatest.MainConfig() // no broker: skip all, or fail under REQUIRE_KAFKA
	_ = logging.Setup("text", io.Discard)
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/server", "../cmd/producer", "../cmd/replay", "../cmd/receiver")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	// The fault-injection test runs a server built with its hooks; the
	// binaries above, like the ones users run, have none.
	hooks := exec.Command("go", "build", "-tags", "faulthooks", "-o", filepath.Join(dir, "faulthooks", "server"), "../cmd/server")
	hooks.Stdout, hooks.Stderr = os.Stdout, os.Stderr
	if err := errors.Join(build.Run(), hooks.Run()); err != nil {
		fmt.Println("FAIL: build binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// testTopics are the topics and group one test owns.
type testTopics struct {
	prefix     string
	raw        map[pb.Gateway]string
	events     string
	normalized string
	state      string
	dlq        string
	group      string
}

func newTopics(t *testing.T, gateways ...pb.Gateway) testTopics {
	prefix := kafkatest.Name(t, "it")
	tt := testTopics{prefix: prefix, raw: map[pb.Gateway]string{}, events: prefix + ".payments.events", normalized: prefix + ".payments.normalized",
		state: prefix + ".payments.state", dlq: prefix + ".payments.dlq", group: prefix + "-group"}
	for _, g := range gateways {
		// The suffix names the gateway: the server tells gateways by it too.
		tt.raw[g] = prefix + ".payments.raw." + normalizer.GatewayName(g)
	}
	// Registered before the test starts its servers, so it runs after they
	// stop. A failed test keeps its topics: their records tell what happened.
	kafkatest.DeleteTopicsAfter(t, kafkaConfig, append(tt.rawList(), tt.events, tt.normalized, tt.state, tt.dlq)...)
	return tt
}

func (tt testTopics) rawList() []string {
	var out []string
	for _, t := range tt.raw {
		out = append(out, t)
	}
	return out
}

// server is a running cmd/server process.
type server struct {
	cmd  *exec.Cmd
	addr string
	out  *logtest.Buffer
	done chan error
}

var listening = regexp.MustCompile(`gRPC listening on :(\d+)`)

// startServer runs the server binary on a free loopback port and waits until
// its health service says SERVING.
func startServer(t *testing.T, tt testTopics, extraEnv ...string) *server {
	t.Helper()
	s := launchServer(t, tt, extraEnv...)
	s.waitServing(t, 90*time.Second)
	return s
}

func (s *server) waitServing(t *testing.T, timeout time.Duration) {
	t.Helper()
	conn := dial(t, s.addr)
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("server not SERVING after %v\n%s", timeout, s.out.String())
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	ok, err := s.exited(40 * time.Second)
	switch {
	case !ok:
		_ = s.cmd.Process.Kill()
		t.Errorf("server did not stop within 40s of SIGTERM\n%s", s.out.String())
	case err != nil:
		t.Errorf("server exited with %v after SIGTERM\n%s", err, s.out.String())
	}
}

// waitExit waits, after a SIGTERM, for the server to exit 0 within timeout.
func (s *server) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	ok, err := s.exited(timeout)
	switch {
	case !ok:
		t.Fatalf("server still running %v after SIGTERM\n%s", timeout, s.out.String())
	case err != nil:
		t.Fatalf("server exited with %v after SIGTERM\n%s", err, s.out.String())
	}
}

// exited waits up to timeout for the process to end (ok false: it still
// runs) and returns its exit error. The result stays for later callers.
func (s *server) exited(timeout time.Duration) (ok bool, err error) {
	select {
	case err := <-s.done:
		s.done <- err
		return true, err
	case <-time.After(timeout):
		return false, nil
	}
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// generate returns n records from a seeded generator.
func generate(t *testing.T, opts synthetic.Options, n int) []synthetic.Record {
	t.Helper()
	gen, err := synthetic.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]synthetic.Record, 0, n)
	for range n {
		r, err := gen.Next()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// produce sends records to their gateway's raw topic and waits for every
// delivery report.
func produce(t *testing.T, tt testTopics, recs []synthetic.Record) {
	t.Helper()
	if err := produceAll(tt, recs); err != nil {
		t.Fatal(err)
	}
}

// produceAll is produce for goroutines other than the test's own.
func produceAll(tt testTopics, recs []synthetic.Record) error {
	if err := kafka.EnsureTopics(context.Background(), kafkaConfig, tt.rawList()); err != nil {
		return err
	}
	p, err := kafka.NewProducer(kafkaConfig, discardLogger(), nil)
	if err != nil {
		return err
	}
	defer p.Close(10 * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for _, r := range recs {
		topic := tt.raw[r.Gateway]
		wg.Add(1)
		m := &ckafka.Message{
			TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
			Key:            []byte(r.Key), Value: r.Value,
			Headers: []ckafka.Header{{Key: "gateway", Value: []byte(r.Header)}},
		}
		err := p.Send(context.Background(), m, func(_ *ckafka.Message, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		})
		if err != nil {
			return err
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		return fmt.Errorf("%d deliveries failed, first: %w", len(failures), failures[0])
	}
	return nil
}

// collect reads n responses from a stream, failing after timeout.
func collect(t *testing.T, stream grpc.ServerStreamingClient[pb.StreamPaymentsResponse], n int, timeout time.Duration) []*pb.StreamPaymentsResponse {
	t.Helper()
	got := make(chan *pb.StreamPaymentsResponse)
	errc := make(chan error, 1)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			got <- r
		}
	}()
	var out []*pb.StreamPaymentsResponse
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case r := <-got:
			out = append(out, r)
		case err := <-errc:
			t.Fatalf("stream ended after %d of %d payments: %v", len(out), n, err)
		case <-deadline:
			t.Fatalf("received %d of %d payments in %v", len(out), n, timeout)
		}
	}
	return out
}

// readTopic reads the first n records of a topic.
func readTopic(t *testing.T, topic string, n int, timeout time.Duration) []*ckafka.Message {
	t.Helper()
	return kafkatest.Consume(t, kafkaConfig, topic, n, timeout)
}

// countTopic returns how many records a topic holds.
func countTopic(t *testing.T, topic string) int64 {
	t.Helper()
	return kafkatest.Count(t, kafkaConfig, topic)
}

func header(m *ckafka.Message, key string) string { return kafka.Header(m, key) }
