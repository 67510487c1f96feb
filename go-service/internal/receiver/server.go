package receiver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Timeouts of the webhook server: a gateway sends a few KiB at once, so a
// client slower than these is holding a connection, not sending a webhook.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	IdleTimeout       = 60 * time.Second
)

// NewHTTPServer is the webhook server with its timeouts; a response may take
// as long as Kafka's deadline plus the read.
func NewHTTPServer(h http.Handler, kafkaDeadline time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      ReadTimeout + kafkaDeadline + 5*time.Second,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// Reachability is what /readyz follows (kafka.Pinger).
type Reachability interface {
	Up() (bool, error)
}

// HealthHandler serves /metrics, /healthz (the process runs) and /readyz
// (200 while Kafka answers, else 503 with why).
func HealthHandler(reg *prometheus.Registry, kafka Reachability) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if up, err := kafka.Up(); !up {
			why := "Kafka not checked yet"
			if err != nil {
				why = err.Error()
			}
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
