package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// A fatal producer error (a fenced idempotent producer, say) leaves
// nothing the server can deliver: health turns NOT_SERVING and the process
// exits non-zero, so that a supervisor restarts it. The error is raised
// through librdkafka's own test facility by a test hook
// (kafka.FatalAfterEnv, in a server built with -tags faulthooks), after the
// first acknowledged record: a real one cannot be provoked on demand on a
// healthy broker.
func TestFatalProducerErrorExitsNonZero(t *testing.T) {
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}
	tt := newTopics(t, gateways...)
	s := launchServerBinary(t, filepath.Join(binDir, "faulthooks", "server"), tt, kafka.FatalAfterEnv+"=1")
	s.waitServing(t, 90*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	w, err := healthpb.NewHealthClient(dial(t, s.addr)).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := w.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first status: %v, %v; want SERVING", resp, err)
	}
	produce(t, tt, generate(t, synthetic.Options{Seed: 12, Gateways: gateways}, 5))

	sawNotServing := false
	for {
		resp, err := w.Recv()
		if err != nil {
			break // the server stopped
		}
		if resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			sawNotServing = true
		}
	}
	if !sawNotServing {
		t.Error("health never said NOT_SERVING before the server stopped")
	}
	exited, err := s.exited(60 * time.Second)
	if !exited {
		t.Fatalf("server still running 60s after a fatal producer error\n%s", s.out.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("server exited with %v, want a non-zero exit status\n%s", err, s.out.String())
	}
	if !strings.Contains(s.out.String(), "producer failed for good") {
		t.Errorf("the server's output does not name the fatal producer error\n%s", s.out.String())
	}
}
