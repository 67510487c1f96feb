package e2e

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// The in-memory window holds 200 payments; 3000 are in Kafka. EARLIEST and
// a cursor from long ago still replay everything, from Kafka, then go live,
// with nothing missed or doubled at the hand-over.
func TestReplayOlderThanTheWindowComesFromKafka(t *testing.T) {
	const total = 3000
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_PAYPAL, pb.Gateway_GATEWAY_ADYEN}
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 11, Gateways: gateways, Mix: synthetic.MixSimple}, total+500)
	srv := startServer(t, tt, "STREAM_WINDOW=200")
	produce(t, tt, recs[:total])

	first := newResumingClient(t, func() string { return srv.addr })
	first.run(context.Background(), pb.StartPosition_START_POSITION_EARLIEST, 100, time.Minute)
	early := first.cursor // 100 payments in: long out of the window by now
	// Gateways retry webhooks: the first 50 events again, now after the
	// cursor. Their first copies came before it: every stream drops them.
	produce(t, tt, recs[:50])

	everything := newResumingClient(t, func() string { return srv.addr })
	done := make(chan struct{})
	go func() {
		defer close(done)
		everything.run(context.Background(), pb.StartPosition_START_POSITION_EARLIEST, total+500, 2*time.Minute)
	}()
	resumed := newResumingClient(t, func() string { return srv.addr })
	resumed.cursor = early
	resumedDone := make(chan struct{})
	go func() {
		defer close(resumedDone)
		resumed.run(context.Background(), pb.StartPosition_START_POSITION_UNSPECIFIED, total+500-100, 2*time.Minute)
	}()
	time.Sleep(time.Second)
	produce(t, tt, recs[total:]) // live payments while the replays run
	<-done
	<-resumedDone
	t.Logf("EARLIEST: %d distinct, %d duplicates; from an old cursor: %d distinct, %d duplicates (window 200, topic %d)",
		everything.distinct(), everything.duplicates(), resumed.distinct(), resumed.duplicates(), total+500)
	if everything.distinct() != total+500 || everything.duplicates() != 0 {
		t.Errorf("EARLIEST client: %d distinct, %d duplicates; want %d, 0", everything.distinct(), everything.duplicates(), total+500)
	}
	if resumed.distinct() != total+500-100 || resumed.duplicates() != 0 {
		t.Errorf("resumed client: %d distinct, %d duplicates; want %d, 0", resumed.distinct(), resumed.duplicates(), total+500-100)
	}
	for k := range first.seen {
		if resumed.seen[k] > 0 {
			t.Errorf("resumed client got %s, which came before its cursor", k)
			break
		}
	}
}

// A cursor past the end of the topic (another cluster, a topic made again)
// would silently skip every payment up to it: it is refused instead.
func TestCursorPastTheEndIsRefused(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	srv := startServer(t, tt)
	produce(t, tt, generate(t, synthetic.Options{Seed: 1, Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}}, 30))
	cursor := stream.Position{0: 999999, 1: 0, 2: 0}.Cursor()
	s, err := pb.NewPaymentServiceClient(dial(t, srv.addr)).StreamPayments(context.Background(), &pb.StreamPaymentsRequest{Cursor: cursor})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("stream from a cursor past the end: %v, want OUT_OF_RANGE", err)
	}
	t.Logf("refused: %v", err)
}
