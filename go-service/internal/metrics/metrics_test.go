package metrics

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestMetricsAndProbes(t *testing.T) {
	ready, why := false, "Kafka unreachable"
	m := New(Sources{
		Hub: func() stream.Snapshot {
			return stream.Snapshot{ConnectedClients: 2}
		},
		Payments: func() (Payments, error) {
			return Payments{ByGateway: map[string]int64{"GATEWAY_STRIPE": 5}, TotalsByCurrency: map[string]int64{"USD": math.MaxInt64, "EUR": 12},
				Events: 9, NotFolded: map[string]int64{"currency_mismatch": 1}}, nil
		},
		ConsumerLag: func() map[string]int64 { return map[string]int64{"payments.raw.stripe": 7} },
		Ready:       func() (bool, string) { return ready, why },
		KafkaUp:     func() bool { return ready },
	})
	m.OnRecord("stripe", ingest.OutcomePayment, "", time.Millisecond)
	m.OnRecord("stripe", ingest.OutcomePayment, "", time.Millisecond)
	m.OnRecord("", ingest.OutcomeDLQ, normalizer.CodeMalformedJSON, time.Microsecond)
	m.OnRecord("adyen", ingest.OutcomeSkipped, "", time.Microsecond)
	m.OnRecord("bitcoinpay", ingest.OutcomeDLQ, normalizer.CodeUnknownGateway, time.Microsecond)
	m.DeliveryFailed("payments.normalized", "Broker: Unknown topic or partition")
	p := &pb.Payment{Gateway: pb.Gateway_GATEWAY_STRIPE, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, UpdatedAt: timestamppb.New(time.Now().Add(-2 * time.Second))}
	m.PaymentSent(stream.HeaderOf(p), time.Now())
	m.StreamFill("1", "127.0.0.1:5000", 0.25)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	for _, want := range []string{
		`payagg_ingest_records_total{gateway="stripe",outcome="payment"} 2`,
		`payagg_dlq_records_total{code="malformed_json"} 1`,
		`payagg_ingest_records_total{gateway="unknown",outcome="dlq"} 2`,
		`payagg_ingest_records_total{gateway="adyen",outcome="skipped"} 1`,
		`payagg_normalize_duration_seconds_count{gateway="stripe"} 2`,
		`payagg_stream_payments_sent_total{gateway="GATEWAY_STRIPE",status="PAYMENT_STATUS_COMPLETED"} 1`,
		`payagg_end_to_end_latency_seconds_count 1`,
		`payagg_stream_buffer_fill_ratio{peer="127.0.0.1:5000",stream="1"} 0.25`,
		`payagg_stream_clients 2`,
		`payagg_ingest_delivery_failures_total{code="Broker: Unknown topic or partition",topic="payments.normalized"} 1`,
		`payagg_payments{gateway="GATEWAY_STRIPE"} 5`,
		`payagg_payments_amount_minor{currency="EUR"} 12`,
		`payagg_payments_amount_saturated{currency="USD"} 1`,
		`payagg_state_events_total 9`,
		`payagg_state_events_not_folded_total{reason="currency_mismatch"} 1`,
		`payagg_consumer_lag{topic="payments.raw.stripe"} 7`,
		`payagg_ready 0`,
		`go_goroutines`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) has no %s", code, want)
		}
	}
	m.StreamEnded("1", "127.0.0.1:5000", "too_slow")
	if _, body := get("/metrics"); strings.Contains(body, `stream_buffer_fill_ratio{`) || !strings.Contains(body, `payagg_streams_ended_total{reason="too_slow"} 1`) {
		t.Errorf("after the stream ended: fill gauge kept or end not counted")
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, why) {
		t.Errorf("/readyz = %d %q, want 503 with the reason", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	ready = true
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d once ready", code)
	}
}
