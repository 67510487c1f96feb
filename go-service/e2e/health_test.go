package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Health follows Kafka: SERVING → NOT_SERVING (and /readyz 503) while the
// broker is down, SERVING again once it is back, and payments flow again.
//
// It stops the shared broker, so it runs only when asked:
// E2E_KAFKA_RESTART=1, in a test step of its own. The broker is stopped and
// started with ../tools/kafka/kafka.sh down / up; E2E_KAFKA_STOP and
// E2E_KAFKA_START replace those commands (run by bash), e.g. to stop a
// broker of one's own instead.
func TestHealthFollowsKafka(t *testing.T) {
	kafkatest.OnlyIn(t, "E2E_KAFKA_RESTART", "make test-faults", "stops the shared Kafka broker")
	stopCmd := envOr("E2E_KAFKA_STOP", "../tools/kafka/kafka.sh down")
	startCmd := envOr("E2E_KAFKA_START", "../tools/kafka/kafka.sh up")
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}
	tt := newTopics(t, gateways...)
	port := freePort(t)
	srv := startServer(t, tt, fmt.Sprintf("METRICS_PORT=%d", port), "GRPC_HOST=127.0.0.1")
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	health := healthpb.NewHealthClient(dial(t, srv.addr))
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return healthpb.HealthCheckResponse_UNKNOWN
		}
		return resp.GetStatus()
	}

	brokerDown := false
	t.Cleanup(func() {
		if brokerDown { // never leave the shared broker stopped
			shell(t, startCmd)
		}
	})
	shell(t, stopCmd)
	brokerDown = true
	stopped := time.Now()
	eventually(t, 30*time.Second, "NOT_SERVING while Kafka is down", func() bool {
		return check("") == healthpb.HealthCheckResponse_NOT_SERVING &&
			check("payment.v1.PaymentService") == healthpb.HealthCheckResponse_NOT_SERVING
	})
	t.Logf("NOT_SERVING %v after the broker stopped", time.Since(stopped).Round(100*time.Millisecond))
	if code := httpStatus(t, readyz); code != 503 {
		t.Errorf("/readyz = %d while Kafka is down, want 503", code)
	}
	shell(t, startCmd)
	brokerDown = false
	started := time.Now()
	eventually(t, 120*time.Second, "SERVING once Kafka is back", func() bool {
		return check("") == healthpb.HealthCheckResponse_SERVING
	})
	t.Logf("SERVING %v after the broker was back", time.Since(started).Round(100*time.Millisecond))
	if code := httpStatus(t, readyz); code != 200 {
		t.Errorf("/readyz = %d once Kafka is back, want 200", code)
	}
	out := srv.out.String()
	for _, want := range []string{"Kafka unreachable", "Health: NOT_SERVING", "Health: SERVING"} {
		if !strings.Contains(out, want) {
			t.Errorf("server log has no %q:\n%s", want, out)
		}
	}

	// And the pipeline works again.
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST})
	if err != nil {
		t.Fatal(err)
	}
	recs := generate(t, synthetic.Options{Seed: 9, Gateways: gateways}, 20)
	produce(t, tt, recs)
	collect(t, s, len(recs), 90*time.Second)
	if testing.Verbose() {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "Health") || strings.Contains(line, "Kafka") {
				t.Log(line)
			}
		}
	}
}

func shell(t *testing.T, command string) {
	t.Helper()
	out, err := exec.Command("bash", "-c", command).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	t.Logf("%s: %s", command, strings.TrimSpace(string(out)))
}
