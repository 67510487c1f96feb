package e2e

import (
	"bufio"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/logging/logtest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Every filter field alone and in combination, over a known stream of
// simple payments from all five gateways: each stream gets exactly the
// payments that match, and nothing else.
func TestStreamFilters(t *testing.T) {
	gateways := synthetic.Gateways()
	tt := newTopics(t, gateways...)
	// Event times in the past, as a gateway's would be: "since" is a time
	// in the past too.
	recs := generate(t, synthetic.Options{Seed: 11, Mix: synthetic.MixSimple, Start: time.Now().Add(-2 * time.Hour).Truncate(time.Second)}, 600)
	srv := startServer(t, tt)
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	produce(t, tt, recs)
	waitStats(t, client, 60*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetPaymentsTotal() == int64(len(recs)) })

	currencies := map[string]bool{}
	for _, r := range recs {
		currencies[r.Payment.Currency] = true
	}
	since := recs[300].Step.At.Truncate(time.Second).Add(time.Second)
	type filterCase struct {
		name string
		req  *pb.StreamPaymentsRequest
	}
	var cases []filterCase
	for _, g := range gateways {
		cases = append(cases, filterCase{"gateway " + g.String(), &pb.StreamPaymentsRequest{Gateways: []pb.Gateway{g}}})
	}
	for c := range currencies {
		cases = append(cases, filterCase{"currency " + c, &pb.StreamPaymentsRequest{Currencies: []string{c}}})
	}
	completed, failed, pending := pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, pb.PaymentStatus_PAYMENT_STATUS_FAILED, pb.PaymentStatus_PAYMENT_STATUS_PENDING
	cases = append(cases,
		filterCase{"no filter", &pb.StreamPaymentsRequest{}},
		filterCase{"status COMPLETED", &pb.StreamPaymentsRequest{Statuses: []pb.PaymentStatus{completed}}},
		filterCase{"status FAILED (none)", &pb.StreamPaymentsRequest{Statuses: []pb.PaymentStatus{failed}}},
		filterCase{"statuses PENDING|COMPLETED", &pb.StreamPaymentsRequest{Statuses: []pb.PaymentStatus{pending, completed}}},
		filterCase{"stripe|paypal and USD|EUR", &pb.StreamPaymentsRequest{
			Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_PAYPAL}, Currencies: []string{"USD", "EUR"}}},
		filterCase{"adyen and EUR and COMPLETED", &pb.StreamPaymentsRequest{
			Gateways: []pb.Gateway{pb.Gateway_GATEWAY_ADYEN}, Currencies: []string{"EUR"}, Statuses: []pb.PaymentStatus{completed}}},
		filterCase{"razorpay and FAILED (none)", &pb.StreamPaymentsRequest{
			Gateways: []pb.Gateway{pb.Gateway_GATEWAY_RAZORPAY}, Statuses: []pb.PaymentStatus{failed}}},
		filterCase{"INR|JPY", &pb.StreamPaymentsRequest{Currencies: []string{"INR", "JPY"}}},
		filterCase{"since", &pb.StreamPaymentsRequest{Since: timestamppb.New(since)}},
		filterCase{"since and square", &pb.StreamPaymentsRequest{Since: timestamppb.New(since), Gateways: []pb.Gateway{pb.Gateway_GATEWAY_SQUARE}}},
	)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sinks := make([]*streamSink, len(cases))
	wants := make([]map[string]bool, len(cases))
	for i, c := range cases {
		if c.req.Since == nil {
			c.req.Start = pb.StartPosition_START_POSITION_EARLIEST
		}
		wants[i] = map[string]bool{}
		for _, r := range recs {
			if matches(c.req, r) {
				wants[i][paymentKey(r.Gateway, r.Key)] = true
			}
		}
		s, err := client.StreamPayments(ctx, c.req)
		if err != nil {
			t.Fatal(err)
		}
		sinks[i] = newStreamSink(s)
	}
	for i, c := range cases {
		sinks[i].waitCount(t, len(wants[i]), 60*time.Second, c.name)
	}
	time.Sleep(time.Second) // anything extra would have arrived by now
	for i, c := range cases {
		got, err := sinks[i].snapshot()
		if err != nil {
			t.Errorf("%s: stream ended: %v", c.name, err)
		}
		seen := map[string]bool{}
		for _, r := range got {
			k := paymentKey(r.GetPayment().GetGateway(), r.GetPayment().GetId())
			if !wants[i][k] {
				t.Errorf("%s: got %s (%s %s %s), which does not match", c.name, k, r.GetPayment().GetAmount().GetCurrency(), r.GetPayment().GetStatus(), r.GetPayment().GetUpdatedAt().AsTime())
			}
			if seen[k] {
				t.Errorf("%s: %s twice", c.name, k)
			}
			seen[k] = true
		}
		if len(got) != len(wants[i]) {
			t.Errorf("%s: got %d payments, want %d", c.name, len(got), len(wants[i]))
		}
	}
	t.Logf("%d filter cases over %d payments of %d gateways and %d currencies", len(cases), len(recs), len(gateways), len(currencies))
}

// matches is the filter rule from the test's side: AND across fields, OR
// within one, empty = all; since compares whole seconds (gateway event
// times are kept to the second).
func matches(req *pb.StreamPaymentsRequest, r synthetic.Record) bool {
	return (len(req.Gateways) == 0 || slices.Contains(req.Gateways, r.Gateway)) &&
		(len(req.Currencies) == 0 || slices.Contains(req.Currencies, r.Payment.Currency)) &&
		(len(req.Statuses) == 0 || slices.Contains(req.Statuses, r.Step.Status)) &&
		(req.Since == nil || !r.Step.At.Truncate(time.Second).Before(req.Since.AsTime()))
}

func paymentKey(g pb.Gateway, id string) string { return g.String() + ":" + id }

// LATEST sees only what arrives after it opens, EARLIEST everything, and a
// cursor resumes strictly after its payment, winning over start and since.
func TestStartPositionsAndCursor(t *testing.T) {
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_SQUARE, pb.Gateway_GATEWAY_PAYPAL}
	tt := newTopics(t, gateways...)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	first := generate(t, synthetic.Options{Seed: 21, Gateways: gateways, Start: start}, 200)
	second := generate(t, synthetic.Options{Seed: 22, Gateways: gateways, Start: start.Add(10 * time.Minute)}, 200)
	srv := startServer(t, tt)
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	produce(t, tt, first)
	waitStats(t, client, 60*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetPaymentsTotal() == 200 })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(req *pb.StreamPaymentsRequest) *streamSink {
		s, err := client.StreamPayments(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return newStreamSink(s)
	}
	latest := open(&pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_LATEST})
	unspecified := open(&pb.StreamPaymentsRequest{})
	earliest := open(&pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST})
	waitStats(t, client, 10*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetConnectedClients() == 3 })
	produce(t, tt, second)

	all := keysOf(append(append([]synthetic.Record{}, first...), second...))
	for name, c := range map[string]struct {
		sink *streamSink
		want map[string]bool
	}{"LATEST": {latest, keysOf(second)}, "UNSPECIFIED": {unspecified, keysOf(second)}, "EARLIEST": {earliest, all}} {
		c.sink.waitCount(t, len(c.want), 60*time.Second, name)
		time.Sleep(300 * time.Millisecond)
		if got := c.sink.keys(); !sameKeys(got, c.want) {
			t.Errorf("%s: got %d payments, want exactly the %d expected", name, len(got), len(c.want))
		}
	}

	got, _ := earliest.snapshot()
	const k = 150
	rest := map[string]bool{}
	for _, r := range got[k+1:] {
		rest[paymentKey(r.GetPayment().GetGateway(), r.GetPayment().GetId())] = true
	}
	for name, req := range map[string]*pb.StreamPaymentsRequest{
		"cursor":                       {Cursor: got[k].GetCursor()},
		"cursor over LATEST and since": {Cursor: got[k].GetCursor(), Start: pb.StartPosition_START_POSITION_LATEST, Since: timestamppb.New(time.Now().Add(time.Hour))},
	} {
		s := open(req)
		s.waitCount(t, len(rest), 30*time.Second, name)
		time.Sleep(300 * time.Millisecond)
		if keys := s.keys(); !sameKeys(keys, rest) {
			t.Errorf("%s: resumed with %d payments, want exactly the %d after payment #%d", name, len(keys), len(rest), k+1)
		}
	}
}

func keysOf(recs []synthetic.Record) map[string]bool {
	out := map[string]bool{}
	for _, r := range recs {
		out[paymentKey(r.Gateway, r.Key)] = true
	}
	return out
}

func sameKeys(got []string, want map[string]bool) bool {
	if len(got) != len(want) {
		return false
	}
	for _, k := range got {
		if !want[k] {
			return false
		}
	}
	return true
}

// Payments with life cycles, out-of-order and duplicate events and
// malformed records: GetPayment returns each payment's final state, and
// GetStats adds up to exactly what was produced.
func TestGetPaymentAndStats(t *testing.T) {
	gateways := synthetic.Gateways()
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 31, Mix: synthetic.MixRealistic, InvalidRate: 0.05, Start: time.Now().Add(-3 * time.Hour)}, 1500)
	type expected struct {
		gateway  pb.Gateway
		id       string
		status   pb.PaymentStatus
		amount   int64
		currency string
	}
	final := map[string]*expected{}
	dlqByCode := map[string]int64{}
	var invalid, duplicates, outOfOrder int64
	last := map[string]pb.PaymentStatus{}
	for _, r := range recs {
		switch {
		case r.Invalid != "":
			invalid++
			dlqByCode[r.Invalid]++
			continue
		case r.Duplicate:
			duplicates++
		}
		k := paymentKey(r.Gateway, r.Key)
		e := final[k]
		if e == nil {
			e = &expected{gateway: r.Gateway, id: r.Key, amount: r.Payment.Amount, currency: r.Payment.Currency}
			final[k] = e
		}
		if expectedFinal(last[k], r.Step.Status) == last[k] && last[k] != r.Step.Status {
			outOfOrder++ // an event that does not move the state: late, or after a final one
		}
		last[k] = expectedFinal(last[k], r.Step.Status)
		e.status = last[k]
	}
	wantGateway, wantStatus, wantTotals := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, e := range final {
		wantGateway[e.gateway.String()]++
		wantStatus[e.status.String()]++
		wantTotals[e.currency] += e.amount
	}

	srv := startServer(t, tt)
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	produce(t, tt, recs)
	ctx := context.Background()
	valid := int64(len(recs)) - invalid
	stats := waitStats(t, client, 90*time.Second, func(s *pb.GetStatsResponse) bool {
		return s.GetDlqCount() == invalid && s.GetPaymentsTotal() == int64(len(final)) && s.GetDuplicatesDropped() == duplicates && sumLag(s) == 0
	})
	// Late events of known payments may still be on their way: give the
	// latest states a moment to settle before comparing them.
	for deadline := time.Now().Add(20 * time.Second); !maps.Equal(stats.GetPaymentsByStatus(), wantStatus) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		stats = waitStats(t, client, 10*time.Second, func(*pb.GetStatsResponse) bool { return true })
	}
	if n := countTopic(t, tt.events); n != valid {
		t.Errorf("events topic holds %d records, want %d", n, valid)
	}

	for k, e := range final {
		resp, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: e.gateway, Id: e.id})
		if err != nil {
			t.Errorf("GetPayment %s: %v", k, err)
			continue
		}
		p := resp.GetPayment()
		if p.GetStatus() != e.status || p.GetAmount().GetAmountMinor() != e.amount || p.GetAmount().GetCurrency() != e.currency || p.GetId() != e.id || p.GetGateway() != e.gateway {
			t.Errorf("GetPayment %s = %s %d %s, want %s %d %s", k, p.GetStatus(), p.GetAmount().GetAmountMinor(), p.GetAmount().GetCurrency(), e.status, e.amount, e.currency)
		}
	}
	if _, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: "pi_doesnotexist"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetPayment of an unknown id: %v, want NOT_FOUND", err)
	}

	checkMap(t, "payments_by_gateway", stats.GetPaymentsByGateway(), wantGateway)
	checkMap(t, "payments_by_status", stats.GetPaymentsByStatus(), wantStatus)
	checkMap(t, "totals_by_currency", stats.GetTotalsByCurrency(), wantTotals)
	checkMap(t, "dlq_by_code", stats.GetDlqByCode(), dlqByCode)
	if stats.GetSkippedCount() != 0 || stats.GetConnectedClients() != 0 {
		t.Errorf("skipped %d, connected %d; want 0 and 0", stats.GetSkippedCount(), stats.GetConnectedClients())
	}
	lagTopics := slices.Sorted(mapKeys(stats.GetConsumerLag()))
	if want := slices.Sorted(slices.Values(tt.rawList())); !slices.Equal(lagTopics, want) {
		t.Errorf("consumer_lag topics = %v, want %v", lagTopics, want)
	}
	t.Logf("in %d: %d distinct payments, %d events not moving the state, %d duplicates dropped, %d to DLQ", len(recs), len(final), outOfOrder, duplicates, invalid)
}

func sumLag(s *pb.GetStatsResponse) int64 {
	var n int64
	for _, v := range s.GetConsumerLag() {
		n += v
	}
	return n
}

func checkMap(t *testing.T, name string, got, want map[string]int64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s[%s] = %d, want %d", name, k, got[k], w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok && g != 0 {
			t.Errorf("%s[%s] = %d, want none", name, k, g)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Bad requests get INVALID_ARGUMENT naming the field; too big a request
// RESOURCE_EXHAUSTED; streams beyond GRPC_MAX_STREAMS RESOURCE_EXHAUSTED;
// and reflection lists the services.
func TestValidationLimitsAndReflection(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	srv := startServer(t, tt, "GRPC_MAX_STREAMS=3")
	conn := dial(t, srv.addr)
	client := pb.NewPaymentServiceClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	tooMany := func(n int, v string) []string { return slices.Repeat([]string{v}, n) }
	streamCases := []struct {
		name  string
		req   *pb.StreamPaymentsRequest
		field string
	}{
		{"unknown gateway", &pb.StreamPaymentsRequest{Gateways: []pb.Gateway{42}}, "gateways"},
		{"unspecified gateway", &pb.StreamPaymentsRequest{Gateways: []pb.Gateway{pb.Gateway_GATEWAY_UNSPECIFIED}}, "gateways"},
		{"65 gateways", &pb.StreamPaymentsRequest{Gateways: slices.Repeat([]pb.Gateway{pb.Gateway_GATEWAY_STRIPE}, 65)}, "gateways"},
		{"lower-case currency", &pb.StreamPaymentsRequest{Currencies: []string{"usd"}}, "currencies"},
		{"4-letter currency", &pb.StreamPaymentsRequest{Currencies: []string{"USDT"}}, "currencies"},
		{"65 currencies", &pb.StreamPaymentsRequest{Currencies: tooMany(65, "USD")}, "currencies"},
		{"unknown status", &pb.StreamPaymentsRequest{Statuses: []pb.PaymentStatus{99}}, "statuses"},
		{"unspecified status", &pb.StreamPaymentsRequest{Statuses: []pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED}}, "statuses"},
		{"65 statuses", &pb.StreamPaymentsRequest{Statuses: slices.Repeat([]pb.PaymentStatus{pb.PaymentStatus_PAYMENT_STATUS_FAILED}, 65)}, "statuses"},
		{"unknown start", &pb.StreamPaymentsRequest{Start: 7}, "start"},
		{"invalid since", &pb.StreamPaymentsRequest{Since: &timestamppb.Timestamp{Seconds: 1, Nanos: 2e9}}, "since"},
		{"since before 1970", &pb.StreamPaymentsRequest{Since: &timestamppb.Timestamp{Seconds: -1}}, "since"},
		{"garbage cursor", &pb.StreamPaymentsRequest{Cursor: "not-a-cursor"}, "cursor"},
		{"cursor with bad base64", &pb.StreamPaymentsRequest{Cursor: "c1.!!!"}, "cursor"},
		{"cursor with a negative offset", &pb.StreamPaymentsRequest{Cursor: "c1.MD0tMQ"}, "cursor"},
	}
	for _, c := range streamCases {
		s, err := client.StreamPayments(ctx, c.req)
		if err == nil {
			_, err = s.Recv()
		}
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), c.field+":") {
			t.Errorf("%s: %v, want INVALID_ARGUMENT naming %s", c.name, err, c.field)
		}
	}
	for name, req := range map[string]*pb.GetPaymentRequest{
		"no gateway": {Id: "pi_1"}, "unknown gateway": {Gateway: 9, Id: "pi_1"}, "no id": {Gateway: pb.Gateway_GATEWAY_STRIPE},
	} {
		if _, err := client.GetPayment(ctx, req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("GetPayment with %s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
	s, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{Cursor: "c1." + strings.Repeat("A", 70<<10)})
	if err == nil {
		_, err = s.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 70 KiB request: %v, want RESOURCE_EXHAUSTED", err)
	}

	// Three streams run; the fourth is refused; when one ends, room again.
	firstCtx, endFirst := context.WithCancel(ctx)
	for i := range 3 {
		c := ctx
		if i == 0 {
			c = firstCtx
		}
		if _, err := client.StreamPayments(c, &pb.StreamPaymentsRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	waitStats(t, client, 10*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetConnectedClients() == 3 })
	fourth, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err == nil {
		_, err = fourth.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "at most 3") {
		t.Errorf("fourth stream: %v, want RESOURCE_EXHAUSTED naming the limit", err)
	}
	endFirst()
	waitStats(t, client, 10*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetConnectedClients() == 2 })
	eventually(t, 10*time.Second, "a new stream opens once one has ended", func() bool {
		s, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
		if err != nil {
			return false
		}
		errc := make(chan error, 1)
		go func() { _, err := s.Recv(); errc <- err }()
		select {
		case err := <-errc: // refused: the slot was still being released
			return err == nil
		case <-time.After(500 * time.Millisecond): // open, waiting for payments
			return true
		}
	})
	if !strings.Contains(srv.out.String(), "Stream refused: too many streams") {
		t.Errorf("no log line for the refused stream:\n%s", srv.out.String())
	}

	services := listServices(ctx, t, conn)
	for _, want := range []string{"payment.v1.PaymentService", "grpc.health.v1.Health"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %v: no %s", services, want)
		}
	}
}

// listServices asks server reflection for the service names.
func listServices(ctx context.Context, t *testing.T, conn *grpc.ClientConn) []string {
	t.Helper()
	names, err := tryListServices(ctx, conn)
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	return names
}

func tryListServices(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"}}); err != nil {
		return nil, err
	}
	resp, err := s.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	return names, nil
}

// --- helpers shared by the API, security, metrics and slow-client tests ---

// waitStats polls GetStats until cond holds and returns the last answer.
func waitStats(t *testing.T, client pb.PaymentServiceClient, timeout time.Duration, cond func(*pb.GetStatsResponse) bool) *pb.GetStatsResponse {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *pb.GetStatsResponse
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := client.GetStats(ctx, &pb.GetStatsRequest{})
		cancel()
		if err == nil {
			last = s
			if cond(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats not as expected after %v: %v (last error %v)", timeout, last, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventually polls cond until it holds.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// streamSink reads a stream in the background and keeps what it got.
type streamSink struct {
	mu   sync.Mutex
	got  []*pb.StreamPaymentsResponse
	err  error
	more chan struct{}
}

func newStreamSink(s grpc.ServerStreamingClient[pb.StreamPaymentsResponse]) *streamSink {
	k := &streamSink{more: make(chan struct{}, 1)}
	go func() {
		for {
			r, err := s.Recv()
			k.mu.Lock()
			if err != nil {
				k.err = err
			} else {
				k.got = append(k.got, r)
			}
			k.mu.Unlock()
			select {
			case k.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return k
}

func (k *streamSink) snapshot() ([]*pb.StreamPaymentsResponse, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.got), k.err
}

func (k *streamSink) keys() []string {
	got, _ := k.snapshot()
	out := make([]string, len(got))
	for i, r := range got {
		out[i] = paymentKey(r.GetPayment().GetGateway(), r.GetPayment().GetId())
	}
	return out
}

// waitCount waits until the sink holds n payments; it fails if the stream
// ends first or time runs out.
func (k *streamSink) waitCount(t *testing.T, n int, timeout time.Duration, name string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		got, err := k.snapshot()
		switch {
		case len(got) >= n:
			return
		case err != nil:
			t.Fatalf("%s: stream ended after %d of %d payments: %v", name, len(got), n, err)
		}
		select {
		case <-k.more:
		case <-deadline:
			t.Fatalf("%s: %d of %d payments in %v", name, len(got), n, timeout)
		}
	}
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dialWith connects with extra options (plaintext unless they say otherwise).
func dialWith(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// launchServer is startServer without waiting for SERVING over plaintext
// (for a TLS server, which the test then probes itself).
func launchServer(t *testing.T, tt testTopics, extraEnv ...string) *server {
	t.Helper()
	return launchServerBinary(t, filepath.Join(binDir, "server"), tt, extraEnv...)
}

// launchServerBinary is launchServer with another build of the server.
func launchServerBinary(t *testing.T, bin string, tt testTopics, extraEnv ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", "0")
	// A store of its own unless the test names one (a later STATE_DIR wins).
	cmd.Env = append(append(serverEnv(tt), "STATE_DIR="+t.TempDir()), extraEnv...)
	s := &server{cmd: cmd, out: &logtest.Buffer{}, done: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			s.out.Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil {
				port <- m[1]
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case p := <-port:
		s.addr = "127.0.0.1:" + p
	case err := <-s.done:
		t.Fatalf("server exited during start-up: %v\n%s", err, s.out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start listening in 60s\n%s", s.out.String())
	}
	return s
}

// serverEnv is the environment startServer gives the server.
func serverEnv(tt testTopics) []string {
	return append(append(cleanEnv(), kafkaEnv(kafkaConfig)...),
		"KAFKA_TOPICS="+strings.Join(tt.rawList(), ","),
		"KAFKA_EVENTS_TOPIC="+tt.events,
		"KAFKA_NORMALIZED_TOPIC="+tt.normalized,
		"KAFKA_STATE_TOPIC="+tt.state,
		"KAFKA_DLQ_TOPIC="+tt.dlq,
		"KAFKA_GROUP_ID="+tt.group,
		"ENV_FILE=/nonexistent",
		"DASHBOARD_ADDR=", // off: tests run servers side by side, and its default port is fixed
	)
}

// kafkaEnv is how the server is told to reach the cluster k.
func kafkaEnv(k config.Kafka) []string {
	env := []string{"KAFKA_BOOTSTRAP_SERVERS=" + k.BootstrapServers}
	if k.APIKey != "" {
		env = append(env, "KAFKA_API_KEY="+k.APIKey, "KAFKA_API_SECRET="+k.APISecret)
	}
	if k.CAFile != "" {
		env = append(env, "KAFKA_CA_FILE="+k.CAFile)
	}
	return env
}

// runServerOnce runs the server binary to completion with args and env
// (on top of a clean environment) and returns its output and exit code.
func runServerOnce(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "server"), args...)
	cmd.Env = append(cleanEnv(), append([]string{"ENV_FILE=/nonexistent", "DASHBOARD_ADDR="}, env...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// scrape reads a Prometheus text page into series → value, where a series is
// written as on the page: name{label="v",...}.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sumSeries adds the values of every series of a metric whose labels
// include all of the given ones (`gateway="stripe"`).
func sumSeries(m map[string]float64, name string, labels ...string) float64 {
	var sum float64
	for series, v := range m {
		base, rest, _ := strings.Cut(series, "{")
		if base != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				ok = false
			}
		}
		if ok {
			sum += v
		}
	}
	return sum
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// cleanEnv is this process's environment without the server's settings, so
// that a developer's own GRPC_AUTH_TOKEN or METRICS_PORT can't leak in.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if serverSetting.MatchString(name) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

var serverSetting = regexp.MustCompile(`^(KAFKA|GRPC|METRICS|STREAM|LOG|SHUTDOWN|INGEST|REPLAY|RECEIVER|PRODUCER|STRIPE|RAZORPAY|SQUARE|ADYEN|PAYPAL|DASHBOARD|STATE|DEDUPE)_|^(ENV_FILE|STATE_DIR)$`)
