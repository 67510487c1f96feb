package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paymentgateway/aggregator/go-service/internal/logging/logtest"
	"github.com/paymentgateway/aggregator/go-service/internal/state"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// The service over a real hub, in process: gRPC over an in-memory
// connection with HTTP/2 flow control as on a socket. No Kafka is needed:
// the test publishes into the hub itself.
type rig struct {
	hub  *stream.Hub
	svc  *Service
	lis  *bufconn.Listener
	gs   *grpc.Server
	hs   *health.Server
	log  *logtest.Buffer
	next int64
}

func newRig(t *testing.T, window int, sec Security, opts ...Option) *rig {
	t.Helper()
	hub := stream.NewHub(stream.Options{Window: window})
	hub.Start(stream.Position{0: 0}, stream.Position{0: 0})
	return newRigOver(t, hub, sec, opts...)
}

// emptyState stands in for state.View (whose tests are in internal/state
// and e2e): these tests are of streams and the transport.
type emptyState struct{}

func (emptyState) Get(pb.Gateway, string) (*pb.Payment, error) { return nil, state.ErrNotFound }
func (emptyState) Totals() (state.Totals, error)               { return state.Totals{}, nil }

// newRigOver serves hub, which the caller has started.
func newRigOver(t *testing.T, hub *stream.Hub, sec Security, opts ...Option) *rig {
	t.Helper()
	r := &rig{hub: hub, lis: bufconn.Listen(1 << 20), log: &logtest.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(r.log, nil))
	r.svc = NewService(r.hub, emptyState{}, nil, logger, append([]Option{WithWatchdog(20 * time.Millisecond)}, opts...)...)
	grpcOpts, err := ServerOptions(sec, logger)
	if err != nil {
		t.Fatal(err)
	}
	r.gs = grpc.NewServer(grpcOpts...)
	r.hs = r.svc.Register(r.gs)
	r.hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	go r.gs.Serve(r.lis)
	t.Cleanup(func() { r.svc.Shutdown(); r.gs.Stop() })
	return r
}

func (r *rig) dial(t *testing.T, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return r.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}, opts...)
	conn, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// publish adds n payments of about 1 KiB each.
func (r *rig) publish(n int) {
	for range n {
		r.next++
		r.hub.Publish(0, r.next-1, &pb.Payment{
			Id: fmt.Sprintf("pi_%06d", r.next), Gateway: pb.Gateway_GATEWAY_STRIPE, EventId: fmt.Sprintf("evt_%06d", r.next),
			Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, Amount: &pb.Money{AmountMinor: 100, Currency: "USD"},
			UpdatedAt: timestamppb.Now(), Metadata: map[string]string{"pad": strings.Repeat("x", 1000)},
		})
	}
}

func (r *rig) waitClients(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.hub.Stats().ConnectedClients != n {
		if time.Now().After(deadline) {
			t.Fatalf("connected clients = %d, want %d", r.hub.Stats().ConnectedClients, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var cursorInMessage = regexp.MustCompile(`c1\.[A-Za-z0-9_-]+`)

// A client that stops reading is cut off with RESOURCE_EXHAUSTED and the
// cursor of the last payment it was sent, while a client that reads gets
// everything and the hub never waits for the slow one.
func TestSlowClientIsCutOffOthersUnaffected(t *testing.T) {
	r := newRig(t, 500, Security{})
	// Fixed, small flow-control windows: without them, BDP estimation lets
	// the client's transport buffer megabytes on the application's behalf.
	slowConn := r.dial(t, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow, err := pb.NewPaymentServiceClient(slowConn).StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := pb.NewPaymentServiceClient(r.dial(t)).StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r.waitClients(t, 2)

	const total = 3000
	got := make(chan int, 1)
	go func() {
		n := 0
		for n < total {
			if _, err := reader.Recv(); err != nil {
				t.Errorf("reader: %v after %d", err, n)
				break
			}
			n++
		}
		got <- n
	}()
	for i := 0; i < total; i += 25 {
		r.publish(25) // never blocks, whatever the slow client does
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case n := <-got:
		if n != total {
			t.Fatalf("reader got %d of %d", n, total)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reader did not get everything in 20s")
	}

	// The slow client now reads what its transport buffered, then the status.
	var cursors []string
	var end error
	for {
		resp, err := slow.Recv()
		if err != nil {
			end = err
			break
		}
		cursors = append(cursors, resp.GetCursor())
	}
	st := status.Convert(end)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("slow client ended with %v, want RESOURCE_EXHAUSTED", end)
	}
	c := cursorInMessage.FindString(st.Message())
	if c == "" || len(cursors) == 0 || c != cursors[len(cursors)-1] {
		t.Fatalf("message %q: want the cursor of the last payment received (%d received)", st.Message(), len(cursors))
	}
	if len(cursors) >= total {
		t.Fatalf("slow client received %d: it was never behind", len(cursors))
	}
	r.waitClients(t, 1) // the reader only: the slow stream's pump and subscription are gone
	if !strings.Contains(r.log.String(), `"msg":"Client too slow: stream cut off"`) || !strings.Contains(r.log.String(), `"peer":`) {
		t.Errorf("no cut-off line with the peer in the log:\n%s", r.log.String())
	}
}

// A client replaying a full window keeps sending: the watchdog must not take
// "as far behind as the window" for "stuck".
func TestEarliestOverFullWindowIsNotCut(t *testing.T) {
	r := newRig(t, 100, Security{})
	r.publish(500) // the window is full
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := pb.NewPaymentServiceClient(r.dial(t)).StreamPayments(ctx, &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := s.Recv(); err != nil {
			t.Fatalf("payment %d: %v", i, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMaxStreams(t *testing.T) {
	r := newRig(t, 100, Security{}, WithMaxStreams(2))
	client := pb.NewPaymentServiceClient(r.dial(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, cancelFirst := context.WithCancel(ctx)
	if _, err := client.StreamPayments(first, &pb.StreamPaymentsRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{}); err != nil {
		t.Fatal(err)
	}
	r.waitClients(t, 2)
	third, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := third.Recv(); status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "at most 2") {
		t.Fatalf("third stream: %v, want RESOURCE_EXHAUSTED naming the limit", err)
	}
	cancelFirst()
	r.waitClients(t, 1)
	// The slot is free once the first stream's pump has gone: a new stream
	// opens (retrying while the release is under way).
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		opened := make(chan error, 1)
		go func() { _, err := s.Recv(); opened <- err }()
		for r.hub.Stats().ConnectedClients < 2 && len(opened) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		r.publish(1)
		err = <-opened
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("after one stream ended, a new one gets %v", err)
		}
	}
}

func TestShutdownEndsStreamsWithUnavailable(t *testing.T) {
	r := newRig(t, 100, Security{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := pb.NewPaymentServiceClient(r.dial(t)).StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r.waitClients(t, 1)
	r.publish(3)
	var last string
	for range 3 {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		last = resp.GetCursor()
	}
	r.svc.Shutdown()
	_, err = s.Recv()
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), last) {
		t.Fatalf("got %v, want UNAVAILABLE with cursor %s", err, last)
	}
}

// A health Watch stream (a load balancer's) hears NOT_SERVING at shutdown
// and then ends, instead of holding GracefulStop for the grace period.
func TestShutdownEndsHealthWatch(t *testing.T) {
	r := newRig(t, 100, Security{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := healthpb.NewHealthClient(r.dial(t)).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := w.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first status: %v, %v; want SERVING", resp, err)
	}
	r.hs.Shutdown() // as cmd/server does, then:
	r.svc.Shutdown()
	var after []healthpb.HealthCheckResponse_ServingStatus
	for {
		resp, err := w.Recv()
		if err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("Watch ended with %v, want UNAVAILABLE", err)
			}
			break
		}
		after = append(after, resp.GetStatus())
	}
	if !slices.Equal(after, []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_NOT_SERVING}) {
		t.Errorf("statuses after shutdown: %v, want one NOT_SERVING", after)
	}
	stopped := make(chan struct{})
	go func() { r.gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		t.Fatal("GracefulStop still waiting")
	}
}

// An accepted stream sends its response headers at once, before any
// payment: that is how a client knows the server took it (the TS client's
// "Reconnected"). A refused one ends without them.
func TestAcceptedStreamSendsHeadersAtOnce(t *testing.T) {
	r := newRig(t, 100, Security{}, WithMaxStreams(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := pb.NewPaymentServiceClient(r.dial(t))
	s, err := c.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Header(); err != nil || ctx.Err() != nil {
		t.Fatalf("no headers before any payment: %v", errors.Join(err, ctx.Err()))
	}
	refused, err := c.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if md, err := refused.Header(); err == nil && len(md) > 0 {
		t.Errorf("a refused stream sent headers %v", md)
	}
	if _, err := refused.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("second stream: got %v, want RESOURCE_EXHAUSTED", err)
	}
}

func TestTokenAuth(t *testing.T) {
	const token = "tok-3f9a1c"
	r := newRig(t, 100, Security{AuthToken: token})
	conn := r.dial(t)
	client := pb.NewPaymentServiceClient(conn)
	with := func(v string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", v)
	}
	if resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without a token: %v %v", resp, err)
	}
	for name, ctx := range map[string]context.Context{
		"none": context.Background(), "wrong": with("Bearer nope"), "prefix": with("Bearer " + token[:4]),
		"basic": with("Basic " + token), "bare": with(token), "longer": with("Bearer " + token + "x"),
	} {
		if _, err := client.GetStats(ctx, &pb.GetStatsRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("GetStats with %s token: %v, want UNAUTHENTICATED", name, err)
		}
		s, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("StreamPayments with %s token: %v, want UNAUTHENTICATED", name, err)
		}
	}
	for _, v := range []string{"Bearer " + token, "bearer " + token} {
		if _, err := client.GetStats(with(v), &pb.GetStatsRequest{}); err != nil {
			t.Errorf("GetStats with %q: %v", v, err)
		}
	}
	if strings.Contains(r.log.String(), token[:4]) {
		t.Errorf("the log shows (part of) the token:\n%s", r.log.String())
	}
}

func TestRequestLimits(t *testing.T) {
	r := newRig(t, 100, Security{})
	client := pb.NewPaymentServiceClient(r.dial(t))
	s, err := client.StreamPayments(context.Background(), &pb.StreamPaymentsRequest{Cursor: "c1." + strings.Repeat("A", MaxRecvMsgBytes)})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a %d KiB request: %v, want RESOURCE_EXHAUSTED", MaxRecvMsgBytes>>10, err)
	}
	if _, err := client.GetPayment(context.Background(), &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: strings.Repeat("x", 300)}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a 300-byte id: %v, want INVALID_ARGUMENT", err)
	}
}

func TestFilterValidation(t *testing.T) {
	many := make([]pb.Gateway, maxFilterValues+1)
	for i := range many {
		many[i] = pb.Gateway_GATEWAY_STRIPE
	}
	cases := []struct {
		req   *pb.StreamPaymentsRequest
		field string
	}{
		{&pb.StreamPaymentsRequest{Gateways: []pb.Gateway{99}}, "gateways"},
		{&pb.StreamPaymentsRequest{Gateways: []pb.Gateway{pb.Gateway_GATEWAY_UNSPECIFIED}}, "gateways"},
		{&pb.StreamPaymentsRequest{Gateways: many}, "gateways"},
		{&pb.StreamPaymentsRequest{Currencies: []string{"usd"}}, "currencies"},
		{&pb.StreamPaymentsRequest{Currencies: []string{"US"}}, "currencies"},
		{&pb.StreamPaymentsRequest{Currencies: make([]string, maxFilterValues+1)}, "currencies"},
		{&pb.StreamPaymentsRequest{Statuses: []pb.PaymentStatus{42}}, "statuses"},
		{&pb.StreamPaymentsRequest{Statuses: make([]pb.PaymentStatus, maxFilterValues+1)}, "statuses"},
		{&pb.StreamPaymentsRequest{Start: 9}, "start"},
		{&pb.StreamPaymentsRequest{Since: &timestamppb.Timestamp{Nanos: -1}}, "since"},
		{&pb.StreamPaymentsRequest{Since: &timestamppb.Timestamp{Seconds: -1}}, "since"},
		{&pb.StreamPaymentsRequest{Since: &timestamppb.Timestamp{Seconds: -1, Nanos: 999999999}}, "since"},
		{&pb.StreamPaymentsRequest{Since: &timestamppb.Timestamp{Seconds: -2}, Cursor: "c1.MD0x"}, "since"},
	}
	for _, c := range cases {
		if _, err := newFilter(c.req); err == nil || !strings.HasPrefix(err.Error(), c.field+":") {
			t.Errorf("newFilter(%v) = %v, want an error naming %s", c.req, err, c.field)
		}
	}
	if _, err := newFilter(&pb.StreamPaymentsRequest{Since: &timestamppb.Timestamp{}}); err != nil {
		t.Errorf("since 1970-01-01T00:00:00Z: %v, want it accepted", err)
	}
	accept, err := newFilter(&pb.StreamPaymentsRequest{Gateways: []pb.Gateway{pb.Gateway_GATEWAY_ADYEN}, Currencies: []string{"EUR", "USD"}})
	if err != nil {
		t.Fatal(err)
	}
	p := func(g pb.Gateway, c string) stream.Header {
		return stream.HeaderOf(&pb.Payment{Gateway: g, Amount: &pb.Money{Currency: c}})
	}
	if !accept(p(pb.Gateway_GATEWAY_ADYEN, "EUR")) || accept(p(pb.Gateway_GATEWAY_ADYEN, "GBP")) || accept(p(pb.Gateway_GATEWAY_STRIPE, "EUR")) {
		t.Error("filter: AND across fields, OR within one")
	}
	future := timestamppb.New(time.Now().Add(time.Hour))
	old := stream.HeaderOf(&pb.Payment{UpdatedAt: timestamppb.Now()})
	if accept, _ := newFilter(&pb.StreamPaymentsRequest{Since: future}); accept(old) {
		t.Error("since: a payment before it passed")
	}
	if accept, _ := newFilter(&pb.StreamPaymentsRequest{Since: future, Cursor: "c1.MD0x"}); !accept(old) {
		t.Error("since with a cursor: the cursor must win")
	}
}
