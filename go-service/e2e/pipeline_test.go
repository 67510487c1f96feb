package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Valid payments of two gateways and malformed records go in; a Go client
// and the TypeScript client each receive exactly the valid payments with
// their fields, and every malformed record is in the DLQ with its reason.
func TestPipelineEndToEnd(t *testing.T) { checkPipeline(t) }

// checkPipeline is the core end-to-end run against the cluster kafkaConfig
// names (TestPipelineOverSASL points it at the SASL_SSL listener).
func checkPipeline(t *testing.T) {
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY}
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 42, Gateways: gateways, Mix: synthetic.MixSimple, InvalidRate: 0.15}, 300)
	want := map[string]synthetic.Record{}
	var invalid []synthetic.Record
	for _, r := range recs {
		if r.Invalid != "" {
			invalid = append(invalid, r)
			continue
		}
		want[r.Key] = r
	}
	if len(invalid) == 0 || len(want) == 0 {
		t.Fatalf("generator gave %d valid and %d invalid records: want both", len(want), len(invalid))
	}

	srv := startServer(t, tt)
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The stream is open before anything is produced: LATEST sees it all.
	time.Sleep(300 * time.Millisecond)
	produce(t, tt, recs)

	got := collect(t, stream, len(want), 60*time.Second)
	seen := map[string]bool{}
	for _, r := range got {
		p := r.GetPayment()
		if seen[p.GetId()] {
			t.Errorf("payment %s delivered twice", p.GetId())
		}
		seen[p.GetId()] = true
		checkPayment(t, p, want)
		if r.GetCursor() == "" {
			t.Errorf("payment %s came without a cursor", p.GetId())
		}
	}

	dlq := readTopic(t, tt.dlq, len(invalid), 30*time.Second)
	checkDLQ(t, dlq, invalid)
	if n := countTopic(t, tt.events); n != int64(len(want)) {
		t.Errorf("events topic holds %d records, want %d", n, len(want))
	}
	if n := countTopic(t, tt.dlq); n != int64(len(invalid)) {
		t.Errorf("DLQ holds %d records, want %d", n, len(invalid))
	}

	ts := runTSClient(t, srv.addr, "--from", "earliest", "--count", strconv.Itoa(len(want)), "--json")
	if len(ts) != len(want) {
		t.Fatalf("TypeScript client printed %d payments, want %d", len(ts), len(want))
	}
	for _, p := range ts {
		checkPayment(t, p, want)
	}
	t.Logf("in %d = payments %d + DLQ %d; Go client %d, TS client %d, lost 0", len(recs), len(want), len(invalid), len(got), len(ts))
}

func checkPayment(t *testing.T, p *pb.Payment, want map[string]synthetic.Record) {
	t.Helper()
	r, ok := want[p.GetId()]
	if !ok {
		t.Errorf("unexpected payment %s", p.GetId())
		return
	}
	if p.GetGateway() != r.Gateway || p.GetStatus() != r.Step.Status ||
		p.GetAmount().GetAmountMinor() != r.Payment.Amount || p.GetAmount().GetCurrency() != r.Payment.Currency ||
		p.GetCustomerEmail() != r.Payment.Email || p.GetMethod() != r.Payment.Method ||
		!p.GetUpdatedAt().AsTime().Equal(r.Step.At.Truncate(time.Second)) || p.GetSource().GetTopic() == "" {
		t.Errorf("payment %s = %v\nwant gateway %v status %v amount %d %s email %s method %s at %v",
			p.GetId(), p, r.Gateway, r.Step.Status, r.Payment.Amount, r.Payment.Currency, r.Payment.Email, r.Payment.Method, r.Step.At)
	}
}

func checkDLQ(t *testing.T, got []*ckafka.Message, invalid []synthetic.Record) {
	t.Helper()
	byValue := map[string]synthetic.Record{}
	for _, r := range invalid {
		byValue[string(r.Value)] = r
	}
	for _, m := range got {
		r, ok := byValue[string(m.Value)]
		if !ok {
			t.Errorf("DLQ record %q is not one of the malformed records sent (bytes must be untouched)", m.Value)
			continue
		}
		if code := header(m, "error_code"); code != r.Invalid {
			t.Errorf("DLQ record error_code %q, want %q", code, r.Invalid)
		}
		for _, h := range []string{"error", "source_topic", "source_partition", "source_offset"} {
			if header(m, h) == "" {
				t.Errorf("DLQ record without %s header", h)
			}
		}
	}
}

// runTSClient runs the TypeScript CLI with --json and parses its payments,
// each of which must come with its cursor.
func runTSClient(t *testing.T, addr string, args ...string) []*pb.Payment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npx", append([]string{"tsx", "src/index.ts", "--server", addr}, args...)...)
	cmd.Dir = "../../node-service"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("TypeScript client: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "[CLIENT] Connected to gRPC server") {
		t.Errorf("TypeScript client did not say it connected:\n%s", stderr.String())
	}
	var out []*pb.Payment
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r pb.StreamPaymentsResponse
		if err := protojson.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("TypeScript client printed a line that is not a StreamPaymentsResponse in JSON: %v\n%s", err, sc.Text())
		}
		if r.GetCursor() == "" || r.GetPayment() == nil {
			t.Fatalf("TypeScript client printed a payment without its cursor: %s", sc.Text())
		}
		out = append(out, r.GetPayment())
	}
	return out
}
