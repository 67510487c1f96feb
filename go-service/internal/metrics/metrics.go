// Package metrics exposes the server's Prometheus metrics, /healthz and
// /readyz on an HTTP address of their own (METRICS_ADDR, loopback by
// default; server.go), with the official
// client library. Counters that the pipeline keeps anyway (the state's
// counts, the state stage's and hub's figures, consumer lag) are read at
// scrape time rather than kept twice.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
)

// Payments are the figures of the state: gauges over every payment (the
// same on every instance) and counters of this instance's state stage since
// it started.
type Payments struct {
	ByGateway, ByStatus map[string]int64
	// TotalsByCurrency saturate at the int64 bounds (state.View keeps them
	// exactly); a total at a bound is reported saturated.
	TotalsByCurrency map[string]int64
	// Events folded in and Duplicates dropped by this instance's state
	// stage; NotFolded are the events merge refused, by reason.
	Events, Duplicates int64
	NotFolded          map[string]int64
}

// Namespace prefixes every metric name.
const Namespace = "payagg"

// Sources are read at scrape time; any may be nil.
type Sources struct {
	Hub         func() stream.Snapshot          // serve stage figures
	Payments    func() (Payments, error)        // the state's counts and this instance's state stage
	ConsumerLag func() map[string]int64         // ingest: records not yet ingested, per raw topic
	Ready       func() (ready bool, why string) // same condition as gRPC health
	KafkaUp     func() bool
}

// Metrics holds the server's collectors and its own registry.
type Metrics struct {
	reg     *prometheus.Registry
	src     Sources
	records *prometheus.CounterVec
	dlq     *prometheus.CounterVec
	norm    *prometheus.HistogramVec
	sent    *prometheus.CounterVec
	e2e     prometheus.Histogram
	fill    *prometheus.GaugeVec
	ended   *prometheus.CounterVec
	refused *prometheus.CounterVec

	deliveryFailures *prometheus.CounterVec
}

// New registers every metric on a fresh registry.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		src: src,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "ingest_records_total",
			Help: "Raw records ingested, by gateway and outcome (payment, skipped, dlq).",
		}, []string{"gateway", "outcome"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "dlq_records_total",
			Help: "Raw records sent to the dead-letter topic, by error code.",
		}, []string{"code"}),
		norm: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "normalize_duration_seconds",
			Help:    "Time to normalize one raw record, by gateway.",
			Buckets: []float64{5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.1},
		}, []string{"gateway"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "stream_payments_sent_total",
			Help: "Payments sent to stream clients, by gateway and status (the payment's state after the event).",
		}, []string{"gateway", "status"}),
		e2e: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "end_to_end_latency_seconds",
			Help:    "From a payment event's updated_at (gateway time) to its send on a stream; clock skew below 0 counts as 0.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		fill: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "stream_buffer_fill_ratio",
			Help: "Per open stream: how far behind the client is, as a share of the window it may fall behind (1 = cut off).",
		}, []string{"stream", "peer"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "streams_ended_total",
			Help: "Streams ended, by reason (client_gone, too_slow, shutdown, error).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "streams_refused_total",
			Help: "Streams refused before they opened, by reason (too_many_streams).",
		}, []string{"reason"}),
		deliveryFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "ingest_delivery_failures_total",
			Help: "Records Kafka did not accept from the ingest stage (each retry counts), by topic and Kafka error code. While any is being retried, /readyz says so.",
		}, []string{"topic", "code"}),
	}
	m.reg.MustRegister(m.records, m.dlq, m.norm, m.sent, m.e2e, m.fill, m.ended, m.refused, m.deliveryFailures,
		&scrapeCollector{src: src},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is where the metrics live (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// OnRecord is ingest.Options.OnRecord.
func (m *Metrics) OnRecord(gateway string, outcome ingest.Outcome, code normalizer.Code, took time.Duration) {
	// The name comes from a record header: only known gateways become label
	// values, so a stray header cannot grow the series without bound.
	if g, ok := normalizer.ParseGateway(gateway); ok {
		gateway = normalizer.GatewayName(g)
	} else {
		gateway = "unknown"
	}
	if outcome == ingest.OutcomeDLQ {
		m.dlq.WithLabelValues(string(code)).Inc()
	}
	m.records.WithLabelValues(gateway, string(outcome)).Inc()
	m.norm.WithLabelValues(gateway).Observe(took.Seconds())
}

// DeliveryFailed is ingest.Options.OnDeliveryFailure.
func (m *Metrics) DeliveryFailed(topic, code string) {
	m.deliveryFailures.WithLabelValues(topic, code).Inc()
}

// PaymentSent counts a payment sent on a stream and its end-to-end latency.
func (m *Metrics) PaymentSent(h stream.Header, at time.Time) {
	m.sent.WithLabelValues(h.Gateway.String(), h.Status.String()).Inc()
	if !h.UpdatedAt.IsZero() {
		m.e2e.Observe(max(0, at.Sub(h.UpdatedAt).Seconds()))
	}
}

// StreamFill sets one stream's buffer fill.
func (m *Metrics) StreamFill(stream, peer string, fill float64) {
	m.fill.WithLabelValues(stream, peer).Set(fill)
}

// StreamEnded counts an ended stream and forgets its fill gauge.
func (m *Metrics) StreamEnded(stream, peer, reason string) {
	m.ended.WithLabelValues(reason).Inc()
	m.fill.DeleteLabelValues(stream, peer)
}

// StreamRejected counts a stream refused before it opened.
func (m *Metrics) StreamRejected(reason string) { m.refused.WithLabelValues(reason).Inc() }

// scrapeCollector reads the pipeline's own counters when scraped.
type scrapeCollector struct{ src Sources }

var (
	descClients  = prometheus.NewDesc(Namespace+"_stream_clients", "Stream clients connected now.", nil, nil)
	descPayments = prometheus.NewDesc(Namespace+"_payments", "Distinct payments in the state (the same on every instance), by gateway.", []string{"gateway"}, nil)
	descByStatus = prometheus.NewDesc(Namespace+"_payments_by_status", "Distinct payments by their latest status.", []string{"status"}, nil)
	descAmount   = prometheus.NewDesc(Namespace+"_payments_amount_minor", "Sum of the latest amount of every payment, in the currency's minor unit.", []string{"currency"}, nil)
	descEvents   = prometheus.NewDesc(Namespace+"_state_events_total", "Payment events this instance's state stage folded into a payment's state (duplicates excluded).", nil, nil)
	descDups     = prometheus.NewDesc(Namespace+"_state_duplicates_total", "Duplicate payment events this instance's state stage dropped (same gateway and event id within DEDUPE_HORIZON).", nil, nil)
	descNotFold  = prometheus.NewDesc(Namespace+"_state_events_not_folded_total", "Payment events the state stage refused to fold into a payment's state because its money would come out wrong, by reason (amount_overflow, currency_mismatch); each is logged with its offsets.", []string{"reason"}, nil)
	descSaturate = prometheus.NewDesc(Namespace+"_payments_amount_saturated", "1 for a currency whose total of amounts is past what an int64 holds: payagg_payments_amount_minor and GetStats show the int64 maximum for it.", []string{"currency"}, nil)
	descLag      = prometheus.NewDesc(Namespace+"_consumer_lag", "Records in a raw topic not yet ingested by this instance.", []string{"topic"}, nil)
	descReady    = prometheus.NewDesc(Namespace+"_ready", "1 while the server is ready (same condition as gRPC health SERVING).", nil, nil)
	descKafkaUp  = prometheus.NewDesc(Namespace+"_kafka_up", "1 while the Kafka cluster answers the health probe.", nil, nil)
)

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descPayments, descByStatus, descAmount, descEvents, descDups, descNotFold, descSaturate, descLag, descReady, descKafkaUp} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Hub != nil {
		ch <- prometheus.MustNewConstMetric(descClients, prometheus.GaugeValue, float64(c.src.Hub().ConnectedClients))
	}
	if c.src.Payments != nil {
		c.collectPayments(ch)
	}
	if c.src.ConsumerLag != nil {
		for topic, lag := range c.src.ConsumerLag() {
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), topic)
		}
	}
	if c.src.Ready != nil {
		ok, _ := c.src.Ready()
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, b2f(ok))
	}
	if c.src.KafkaUp != nil {
		ch <- prometheus.MustNewConstMetric(descKafkaUp, prometheus.GaugeValue, b2f(c.src.KafkaUp()))
	}
}

// collectPayments reports the state's figures; when the store cannot be
// read now, they are left out of this scrape (readiness says why).
func (c *scrapeCollector) collectPayments(ch chan<- prometheus.Metric) {
	s, err := c.src.Payments()
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(descDups, prometheus.CounterValue, float64(s.Duplicates))
	for k, v := range s.ByGateway {
		ch <- prometheus.MustNewConstMetric(descPayments, prometheus.GaugeValue, float64(v), k)
	}
	for k, v := range s.ByStatus {
		ch <- prometheus.MustNewConstMetric(descByStatus, prometheus.GaugeValue, float64(v), k)
	}
	for k, v := range s.TotalsByCurrency {
		ch <- prometheus.MustNewConstMetric(descAmount, prometheus.GaugeValue, float64(v), k)
		if v == math.MaxInt64 || v == math.MinInt64 {
			ch <- prometheus.MustNewConstMetric(descSaturate, prometheus.GaugeValue, 1, k)
		}
	}
	for k, v := range s.NotFolded {
		ch <- prometheus.MustNewConstMetric(descNotFold, prometheus.CounterValue, float64(v), k)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler serves /metrics, /healthz (the process is up) and /readyz (200
// while ready, else 503 with the reason).
func (m *Metrics) Handler() http.Handler { return m.handler("") }

// handler is Handler with /metrics behind token, when one is set.
func (m *Metrics) handler(token string) http.Handler {
	mux := http.NewServeMux()
	var page http.Handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	if token != "" {
		page = requireToken(token, page)
	}
	mux.Handle("GET /metrics", page)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := true, ""
		if m.src.Ready != nil {
			ok, why = m.src.Ready()
		}
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready: "+why)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// Server is the metrics HTTP server.
type Server struct {
	srv *http.Server
	lis net.Listener
}

// Listen binds addr (host:port) and returns the server, not yet serving,
// with the default timeouts and no token.
func (m *Metrics) Listen(addr string) (*Server, error) {
	return m.ListenConfig(ServerConfig{Addr: addr})
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Serve serves until Shutdown; it returns nil after a Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the server, waiting up to timeout for scrapes in progress.
func (s *Server) Shutdown(timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		log.Warn("metrics server shutdown", "component", "SERVER", "err", err)
	}
}
