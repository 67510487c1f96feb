package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// SIGTERM in the middle of a run: open streams end with UNAVAILABLE, the
// server drains and commits exactly what it delivered and exits 0; the next
// instance goes on from there, so the events topic holds every payment
// exactly once, not a single one redelivered, and so does the normalized
// topic as a read_committed client reads it.
func TestGracefulShutdownCommitsWhatWasDelivered(t *testing.T) {
	const total = 20000
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY, pb.Gateway_GATEWAY_SQUARE}
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 8, Gateways: gateways, Mix: synthetic.MixSimple}, total)
	produce(t, tt, recs)

	first := startServer(t, tt)
	stream, err := pb.NewPaymentServiceClient(dial(t, first.addr)).StreamPayments(context.Background(), &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, func() bool { return countTopic(t, tt.events) >= total/4 })
	began := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var streamErr error
	for streamErr == nil {
		_, streamErr = stream.Recv()
	}
	if code := status.Code(streamErr); code != codes.Unavailable {
		t.Errorf("open stream ended with %v, want UNAVAILABLE", streamErr)
	}
	first.waitExit(t, 30*time.Second)
	atStop := countTopic(t, tt.events)
	t.Logf("SIGTERM after %d of %d; exited in %v", atStop, total, time.Since(began).Round(time.Millisecond))

	startServer(t, tt)
	waitFor(t, 2*time.Minute, func() bool { return countTopic(t, tt.events) >= total })
	time.Sleep(2 * time.Second) // anything redelivered would land now
	if n := countTopic(t, tt.events); n != total {
		t.Errorf("events topic holds %d records for %d raw records: the stop did not commit exactly what it delivered", n, total)
	}
	if got := len(kafkatest.ReadCommitted(t, kafkaConfig, tt.normalized, time.Minute)); got != total {
		t.Errorf("normalized topic holds %d committed records for %d payments", got, total)
	}
}

// A health watcher (a load balancer's) hears NOT_SERVING at SIGTERM, then
// its stream ends with UNAVAILABLE: it does not hold the graceful stop,
// which would otherwise wait out SHUTDOWN_GRACE_SECONDS (120 s here, longer
// than this test waits).
func TestSIGTERMEndsHealthWatch(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	s := startServer(t, tt, "SHUTDOWN_GRACE_SECONDS=120")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := healthpb.NewHealthClient(dial(t, s.addr)).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := w.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first status: %v, %v; want SERVING", resp, err)
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	last := healthpb.HealthCheckResponse_SERVING
	for {
		resp, err := w.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("Watch ended with %v, want UNAVAILABLE\n%s", err, s.out.String())
			}
			break
		}
		last = resp.GetStatus()
	}
	if last != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("last status before the end: %v, want NOT_SERVING", last)
	}
	s.waitExit(t, 60*time.Second) // the watch must not hold the 120 s graceful stop
}
