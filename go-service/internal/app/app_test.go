package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/logging/logtest"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// The wiring, in process, on the real broker: Start creates every topic,
// health turns SERVING on the gRPC port it reports, and cancelling the
// context shuts it down cleanly with the course's closing line.
func TestRunServesAndStopsOnCancel(t *testing.T) {
	k := kafkatest.Config(t)
	raw := kafkatest.Name(t, "app", "payments.raw.stripe")
	normalized := kafkatest.Name(t, "app", "payments.normalized")
	events := kafkatest.Name(t, "app", "payments.events")
	stateTopic := kafkatest.Name(t, "app", "payments.state")
	dlq := kafkatest.Name(t, "app", "payments.dlq")
	kafkatest.DeleteTopicsAfter(t, k, raw, events, normalized, stateTopic, dlq)
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	cfg := Config{Kafka: k, Topics: []string{raw}, EventsTopic: events, NormalizedTopic: normalized, StateTopic: stateTopic, DLQTopic: dlq,
		State:   StateConfig{Dir: t.TempDir()},
		GroupID: kafkatest.Name(t, "app", "group"), Host: "127.0.0.1", MetricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))), DashboardAddr: "127.0.0.1:0"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- a.Wait() }()

	if a.MetricsAddr() == nil {
		t.Error("MetricsAddr() = nil with a metrics port set")
	}
	w := kafkatest.NewWatermarks(t, k)
	for _, topic := range []string{raw, normalized, dlq} {
		if len(w.Ends(topic)) != k.Partitions {
			t.Errorf("topic %s has %d partitions, want %d", topic, len(w.Ends(topic)), k.Partitions)
		}
	}
	// The DLQ holds what a raw topic could not turn into a payment, with
	// headers added: it is created to accept larger records than the broker's default.
	if got, want := kafkatest.TopicConfig(t, k, dlq, "max.message.bytes"), kafka.DLQTopicConfig["max.message.bytes"]; got != want {
		t.Errorf("DLQ topic max.message.bytes = %s, want %s", got, want)
	}
	waitServing(t, a.GRPCAddr().String(), 60*time.Second)
	// The dashboard's port serves the page and PaymentService of the same server.
	for _, path := range []string{"", "payment.v1.PaymentService/GetStats"} {
		req, _ := http.NewRequest(http.MethodGet, a.DashboardURL()+path, nil)
		if path != "" {
			req, _ = http.NewRequest(http.MethodPost, a.DashboardURL()+path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Connect-Protocol-Version", "1") // the Connect protocol, as the page speaks it
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("dashboard %s /%s: %d, want 200", req.Method, path, resp.StatusCode)
		}
	}
	if ok, why := a.Ready(); !ok {
		t.Errorf("health SERVING but Ready() = false, %q", why)
	}

	cancel()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("Wait after cancel = %v, want nil", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Wait did not return within 60s of cancel")
	}
	for _, want := range []string{"gRPC listening on :", "Dashboard on http://127.0.0.1:", "Health: SERVING", "Shutting down: draining in-flight records", "Stopped. Ingested 0 record(s)"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// A port that is taken fails Start with the setting's name, and nothing is
// left running.
func TestStartNamesTheBusyPort(t *testing.T) {
	k := kafkatest.Config(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	raw := kafkatest.Name(t, "app", "payments.raw.stripe")
	normalized := kafkatest.Name(t, "app", "payments.normalized")
	events := kafkatest.Name(t, "app", "payments.events")
	stateTopic := kafkatest.Name(t, "app", "payments.state")
	dlq := kafkatest.Name(t, "app", "payments.dlq")
	kafkatest.DeleteTopicsAfter(t, k, raw, events, normalized, stateTopic, dlq)
	cfg := Config{Kafka: k, Topics: []string{raw}, EventsTopic: events, NormalizedTopic: normalized, StateTopic: stateTopic, DLQTopic: dlq,
		State:   StateConfig{Dir: t.TempDir()},
		GroupID: kafkatest.Name(t, "app", "group"), Host: "127.0.0.1", Port: busy.Addr().(*net.TCPAddr).Port}
	_, err = Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "GRPC_PORT=") {
		t.Fatalf("Start on a busy port = %v, want an error naming GRPC_PORT", err)
	}
	cfg.Port, cfg.DashboardAddr = 0, busy.Addr().String()
	_, err = Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "DASHBOARD_ADDR=") {
		t.Fatalf("Start with a busy dashboard port = %v, want an error naming DASHBOARD_ADDR", err)
	}
}

func waitServing(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: pb.PaymentService_ServiceDesc.ServiceName})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
	}
	t.Fatalf("%s not SERVING after %v", addr, timeout)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
