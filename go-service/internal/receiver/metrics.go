package receiver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the receiver did, by gateway.
type Metrics struct {
	acceptedTotal *prometheus.CounterVec
	refusedTotal  *prometheus.CounterVec
	unstoredTotal *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	inFlight      prometheus.Gauge
}

// NewMetrics registers the receiver's metrics on reg (nil: not registered,
// for tests that only count).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		acceptedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "payagg", Name: "receiver_accepted_total",
			Help: "Webhooks verified and acknowledged by Kafka (answered 2xx), by gateway.",
		}, []string{"gateway"}),
		refusedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "payagg", Name: "receiver_refused_total",
			Help: "Webhooks refused with a 4xx and not stored, by gateway and reason.",
		}, []string{"gateway", "reason"}),
		unstoredTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "payagg", Name: "receiver_kafka_unavailable_total",
			Help: "Verified webhooks Kafka did not acknowledge in time (answered 503), by gateway.",
		}, []string{"gateway"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "payagg", Name: "receiver_request_duration_seconds",
			Help:    "From a request's arrival to its 2xx (verification and Kafka's acknowledgement), by gateway.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"gateway"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "payagg", Name: "receiver_requests_in_flight",
			Help: "Webhook requests being handled now (a shutdown waits for them).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.acceptedTotal, m.refusedTotal, m.unstoredTotal, m.latency, m.inFlight)
	}
	return m
}

func (m *Metrics) accepted(gateway string, took time.Duration) {
	m.acceptedTotal.WithLabelValues(gateway).Inc()
	m.latency.WithLabelValues(gateway).Observe(took.Seconds())
}

func (m *Metrics) refused(gateway, reason string) {
	m.refusedTotal.WithLabelValues(gateway, reason).Inc()
}

func (m *Metrics) unstored(gateway string) { m.unstoredTotal.WithLabelValues(gateway).Inc() }
