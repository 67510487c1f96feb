package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

var cursorInMessage = regexp.MustCompile(`c1\.[A-Za-z0-9_-]+`)

// A client that never reads while ~20k payments flow is cut off with
// RESOURCE_EXHAUSTED naming the cursor of the last payment it was sent,
// while a client that reads receives every payment; resuming from that
// cursor then gets exactly the rest.
func TestSlowClientCutOff(t *testing.T) {
	const total = 20000
	gateways := synthetic.Gateways()
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 404, Mix: synthetic.MixSimple}, total)
	port := freePort(t)
	srv := startServer(t, tt, "STREAM_WINDOW=1000", fmt.Sprintf("METRICS_PORT=%d", port), "GRPC_HOST=127.0.0.1", "LOG_FORMAT=json")
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Fixed 64 KiB flow-control windows: without them the client's
	// transport grows its window (BDP) and buffers megabytes for a program
	// that never reads. Its own connection, so the reader's traffic can't
	// grow it either.
	slowConn := dialWith(t, srv.addr, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	slow, err := pb.NewPaymentServiceClient(slowConn).StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	readerStream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	reader := newStreamSink(readerStream)
	waitStats(t, client, 10*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetConnectedClients() == 2 })

	// ~4000 payments a second: far more than the slow client's buffers
	// hold, well within what a reading client keeps up with.
	for i := 0; i < total; i += 500 {
		produce(t, tt, recs[i:i+500])
		time.Sleep(100 * time.Millisecond)
	}
	reader.waitCount(t, total, 120*time.Second, "reading client")
	if got := reader.keys(); !sameKeys(got, keysOf(recs)) {
		t.Errorf("reading client got %d payments, not exactly the %d produced", len(got), total)
	}
	waitStats(t, client, 10*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetConnectedClients() == 1 })

	// The slow client now reads what its transport had buffered, then the status.
	received := map[string]bool{}
	var cursors []string
	for {
		resp, err := slow.Recv()
		if err != nil {
			st := status.Convert(err)
			if st.Code() != codes.ResourceExhausted {
				t.Fatalf("slow client ended with %v after %d payments, want RESOURCE_EXHAUSTED", err, len(cursors))
			}
			cursor := cursorInMessage.FindString(st.Message())
			if cursor == "" || len(cursors) == 0 || cursor != cursors[len(cursors)-1] {
				t.Fatalf("RESOURCE_EXHAUSTED %q: want the cursor of the last payment received (%d received)", st.Message(), len(cursors))
			}
			t.Logf("slow client: %d payments, then %q", len(cursors), st.Message())
			// Resuming from the cursor gets exactly the rest.
			rest := map[string]bool{}
			for k := range keysOf(recs) {
				if !received[k] {
					rest[k] = true
				}
			}
			resumed, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			sink := newStreamSink(resumed)
			sink.waitCount(t, len(rest), 120*time.Second, "resumed slow client")
			time.Sleep(300 * time.Millisecond)
			if got := sink.keys(); !sameKeys(got, rest) {
				t.Errorf("resumed with %d payments, want exactly the %d not received", len(got), len(rest))
			}
			break
		}
		received[paymentKey(resp.GetPayment().GetGateway(), resp.GetPayment().GetId())] = true
		cursors = append(cursors, resp.GetCursor())
	}
	if len(cursors) >= total/2 {
		t.Errorf("the slow client was sent %d of %d payments: it was never held back", len(cursors), total)
	}
	out := srv.out.String()
	if !strings.Contains(out, `"msg":"Client too slow: stream cut off"`) || !strings.Contains(out, `"peer":"127.0.0.1:`) {
		t.Errorf("no JSON cut-off line with the peer in the server log")
	}
	m := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if m[`payagg_streams_ended_total{reason="too_slow"}`] != 1 {
		t.Errorf("streams ended too_slow = %v, want 1", m[`payagg_streams_ended_total{reason="too_slow"}`])
	}
}
