package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// SIGTERM in the middle of a run: open streams end with UNAVAILABLE, the
// server drains and commits exactly what it delivered and exits 0; the next
// instance goes on from there, so the normalized topic holds every payment
// exactly once, not a single one redelivered.
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
	waitFor(t, time.Minute, func() bool { return countTopic(t, tt.normalized) >= total/4 })
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
	select {
	case err := <-first.done:
		if err != nil {
			t.Fatalf("server exited with %v after SIGTERM\n%s", err, first.out.String())
		}
		first.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatalf("server still running 30s after SIGTERM\n%s", first.out.String())
	}
	atStop := countTopic(t, tt.normalized)
	t.Logf("SIGTERM after %d of %d; exited in %v", atStop, total, time.Since(began).Round(time.Millisecond))

	startServer(t, tt)
	waitFor(t, 2*time.Minute, func() bool { return countTopic(t, tt.normalized) >= total })
	time.Sleep(2 * time.Second) // anything redelivered would land now
	if n := countTopic(t, tt.normalized); n != total {
		t.Errorf("normalized topic holds %d records for %d raw records: the stop did not commit exactly what it delivered", n, total)
	}
}
