package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"learner.example/go-service/pb"
)

// check10Serving asks health until it says SERVING.
func check10Serving(ctx context.Context, t *testing.T, health healthpb.HealthClient) {
	t.Helper()
	var last string
	for {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		switch {
		case status.Code(err) == codes.Unimplemented:
			t.Fatal("your server has no health service (grpc.health.v1.Health answered UNIMPLEMENTED): register one with health.NewServer() and healthpb.RegisterHealthServer")
		case err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING:
			return
		case err == nil:
			last = resp.GetStatus().String()
		default:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("health never said SERVING (last answer: %s): set the overall status (\"\") to SERVING once the consumer runs", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestCheck10HealthAndGracefulStop runs the learner's server on real Kafka:
// health must say SERVING, then, on SIGTERM, NOT_SERVING to a client that
// watches it; an open StreamPayments must end with UNAVAILABLE from the
// server, and the process must exit 0.
func TestCheck10HealthAndGracefulStop(t *testing.T) {
	bootstrap := checkkitKafka(t)
	lessonDir := checkkitLessonDir(t, "10x")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bin := checkkitBuild(t, ctx, lessonDir, "./cmd/server")
	topic := checkkitTopic("10")
	checkkitDeleteTopics(t, bootstrap, topic, topic+".dlq")

	server := exec.CommandContext(ctx, filepath.Join(bin, "server"), "-kafka", bootstrap, "-topic", topic, "-group", topic+"-group", "-addr", "127.0.0.1:0")
	server.Env = append(os.Environ(), "STRIPE_WEBHOOK_SECRET=") // no webhook receiver: its port may be taken
	lines, done := checkkitStart(t, "the server", server)
	listening := regexp.MustCompile(`\[SERVER\] listening on (127\.0\.0\.1:\d+)`)
	addr := checkkitAwaitLine(t, lines, listening, "the server exited before it listened")[1]

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	check10Serving(ctx, t, health)

	stream, err := pb.NewPaymentServiceClient(conn).StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatalf("StreamPayments: %v", err)
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	watch, err := health.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Watch began with %v (error %v), want SERVING", resp.GetStatus(), err)
	}

	// What an orchestrator does to stop a pod.
	if err := server.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	resp, err := watch.Recv()
	if err != nil {
		t.Fatalf("after SIGTERM the health Watch ended (%v) without saying NOT_SERVING: call Shutdown on the health server first, before you stop the gRPC server", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("after SIGTERM health said %v, want NOT_SERVING", resp.GetStatus())
	}
	stopWatching() // a load balancer that has heard it hangs up

	_, err = stream.Recv()
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "shutting down") {
		t.Errorf("after SIGTERM the open stream ended with %v; want UNAVAILABLE with a message that says the server is shutting down (end open streams yourself, before GracefulStop)", err)
	}
	if err := <-done; err != nil {
		t.Errorf("after SIGTERM the server exited with %v; want exit code 0", err)
	}
}
