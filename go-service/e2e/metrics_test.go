package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// METRICS_PORT serves Prometheus metrics, /healthz and /readyz; the
// counters follow the payments as they flow.
func TestMetricsEndpoint(t *testing.T) {
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_ADYEN}
	tt := newTopics(t, gateways...)
	recs := generate(t, synthetic.Options{Seed: 77, Gateways: gateways, InvalidRate: 0.1, Start: time.Now().Add(-time.Minute)}, 400)
	var valid int
	dlq := map[string]int{}
	byGateway := map[string]int{}
	for _, r := range recs {
		if r.Invalid != "" {
			dlq[r.Invalid]++
			continue
		}
		valid++
		byGateway[r.Gateway.String()]++
	}
	port := freePort(t)
	srv := startServer(t, tt, fmt.Sprintf("METRICS_PORT=%d", port), "GRPC_HOST=127.0.0.1")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if !strings.Contains(srv.out.String(), fmt.Sprintf("Metrics on http://127.0.0.1:%d/metrics", port)) {
		t.Errorf("no line saying where the metrics are:\n%s", srv.out.String())
	}
	if code := httpStatus(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code := httpStatus(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d while SERVING", code)
	}
	before := scrape(t, base+"/metrics")
	for _, series := range []string{"payagg_ready", "payagg_kafka_up", "payagg_stream_clients"} {
		if _, ok := before[series]; !ok {
			t.Errorf("no %s before any payment", series)
		}
	}
	if before["payagg_ready"] != 1 || before["payagg_kafka_up"] != 1 || sumSeries(before, "payagg_ingest_records_total") != 0 {
		t.Errorf("before: ready %v, kafka_up %v, records %v; want 1, 1, 0", before["payagg_ready"], before["payagg_kafka_up"], sumSeries(before, "payagg_ingest_records_total"))
	}

	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitStats(t, client, 10*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetConnectedClients() == 1 })
	produce(t, tt, recs)
	collect(t, stream, valid, 60*time.Second)

	var m map[string]float64
	eventually(t, 30*time.Second, "metrics count every record", func() bool {
		m = scrape(t, base+"/metrics")
		// The payment gauges come from this instance's view of the state
		// topic, which may trail the stream by a moment.
		return sumSeries(m, "payagg_ingest_records_total") == float64(len(recs)) && sumSeries(m, "payagg_stream_payments_sent_total") == float64(valid) &&
			sumSeries(m, "payagg_payments") == float64(valid)
	})
	type check struct {
		what      string
		got, want float64
	}
	checks := []check{
		{"records → payments", sumSeries(m, "payagg_ingest_records_total", `outcome="payment"`), float64(valid)},
		{"records → dlq", sumSeries(m, "payagg_ingest_records_total", `outcome="dlq"`), float64(len(recs) - valid)},
		{"normalize histogram count", sumSeries(m, "payagg_normalize_duration_seconds_count"), float64(len(recs))},
		{"end-to-end histogram count", m["payagg_end_to_end_latency_seconds_count"], float64(valid)},
		{"clients", m["payagg_stream_clients"], 1},
		{"state events", m["payagg_state_events_total"], float64(valid)},
		{"ready", m["payagg_ready"], 1},
	}
	for code, n := range dlq {
		checks = append(checks, check{"dlq " + code, sumSeries(m, "payagg_dlq_records_total", `code="`+code+`"`), float64(n)})
	}
	for g, n := range byGateway {
		checks = append(checks,
			check{"sent " + g, sumSeries(m, "payagg_stream_payments_sent_total", `gateway="`+g+`"`, `status="PAYMENT_STATUS_COMPLETED"`), float64(n)},
			check{"payments " + g, sumSeries(m, "payagg_payments", `gateway="`+g+`"`), float64(n)})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, topic := range tt.rawList() {
		if _, ok := m[`payagg_consumer_lag{topic="`+topic+`"}`]; !ok {
			t.Errorf("no consumer lag for %s", topic)
		}
	}
	fill := 0
	for series := range m {
		if strings.HasPrefix(series, "payagg_stream_buffer_fill_ratio{") && strings.Contains(series, `peer="127.0.0.1:`) {
			fill++
		}
	}
	if fill != 1 {
		t.Errorf("%d buffer fill series for the one open stream, want 1", fill)
	}

	cancel() // the client goes: its fill series goes, the end is counted
	eventually(t, 10*time.Second, "stream end counted", func() bool {
		m = scrape(t, base+"/metrics")
		return m[`payagg_streams_ended_total{reason="client_gone"}`] == 1 && m["payagg_stream_clients"] == 0
	})
	for series := range m {
		if strings.HasPrefix(series, "payagg_stream_buffer_fill_ratio{") {
			t.Errorf("%s still there after its stream ended", series)
		}
	}
}
