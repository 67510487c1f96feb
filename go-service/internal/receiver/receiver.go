// Package receiver is the webhook front door: POST /webhooks/{gateway}
// verifies the gateway's signature and writes the exact bytes received to
// the gateway's raw topic, answering 2xx only once Kafka has acknowledged
// the record. Whatever it refuses never reaches Kafka.
package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
)

// MaxBody is the largest body accepted: the normalizer's own limit, so
// nothing is stored that could only be dead-lettered.
const MaxBody = normalizer.MaxRecordBytes

// Sender stores one record and returns once Kafka has acknowledged it
// (kafka.Producer.SendSync).
type Sender interface {
	SendSync(ctx context.Context, m *ckafka.Message) error
}

// Gateway is one switched-on gateway: how to verify it, where to write.
type Gateway struct {
	Verifier webhook.Verifier
	Topic    string
}

// Options configure a Handler.
type Options struct {
	// Gateways by name (stripe, razorpay, paypal, adyen, square); a known
	// gateway that is absent is switched off and answers 404.
	Gateways map[string]Gateway
	Sender   Sender
	Deadline time.Duration // for Kafka's acknowledgement; then 503
	Metrics  *Metrics
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// Handler serves POST /webhooks/{gateway}.
type Handler struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the handler.
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("/webhooks/{gateway}", h.serveWebhook)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Refusal reasons of the receiver itself (the verifiers' are webhook.Reason).
const (
	reasonNotConfigured    = "not_configured"
	reasonUnknownGateway   = "unknown_gateway"
	reasonWrongMethod      = "wrong_method"
	reasonWrongContentType = "wrong_content_type"
	reasonTooLarge         = "too_large"
	reasonBodyRead         = "body_read"
)

func (h *Handler) serveWebhook(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	h.opts.Metrics.inFlight.Inc()
	defer h.opts.Metrics.inFlight.Dec()
	name := r.PathValue("gateway")
	if g, known := normalizer.ParseGateway(name); !known || normalizer.GatewayName(g) != name {
		h.refuse(w, r, "unknown", http.StatusNotFound, reasonUnknownGateway, "no such gateway: the paths are /webhooks/stripe, razorpay, paypal, adyen and square")
		return
	}
	gw, on := h.opts.Gateways[name]
	if !on {
		h.refuse(w, r, name, http.StatusNotFound, reasonNotConfigured, fmt.Sprintf("%s webhooks are switched off: set %s", name, SettingFor[name]))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, name, http.StatusMethodNotAllowed, reasonWrongMethod, "only POST is accepted")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(w, r, name, http.StatusUnsupportedMediaType, reasonWrongContentType, "Content-Type must be application/json")
		return
	}
	if r.ContentLength > MaxBody {
		h.refuse(w, r, name, http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(w, r, name, http.StatusRequestEntityTooLarge, reasonTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxBody))
			return
		}
		h.refuse(w, r, name, http.StatusBadRequest, reasonBodyRead, "body could not be read")
		return
	}
	if err := gw.Verifier.Verify(r.Header, body); err != nil {
		reason := webhook.ReasonOf(err)
		h.refuse(w, r, name, statusFor(reason), string(reason), err.Error())
		return
	}
	received := h.opts.Now()
	m := h.record(name, gw.Topic, r.Header, body, received)
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Deadline)
	defer cancel()
	if err := h.opts.Sender.SendSync(ctx, m); err != nil {
		h.opts.Metrics.unstored(name)
		h.opts.Log.Warn("not stored, answered 503 (the gateway will retry)", "gateway", name, "remote", r.RemoteAddr, "err", kafkaError(err, h.opts.Deadline))
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Kafka did not acknowledge the webhook in time: retry later", http.StatusServiceUnavailable)
		return
	}
	h.opts.Metrics.accepted(name, h.opts.Now().Sub(start))
	reply(w, name)
}

func kafkaError(err error, deadline time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no acknowledgement within %s", deadline)
	}
	return err.Error()
}

// statusFor maps a verifier's refusal to a status: 400 for a request that
// cannot be read as signed, 401 for a signature or timestamp that fails.
func statusFor(r webhook.Reason) int {
	switch r {
	case webhook.ReasonMissingSignature, webhook.ReasonMalformed:
		return http.StatusBadRequest
	}
	return http.StatusUnauthorized
}

// reply is what each gateway expects once its webhook is stored: Adyen
// wants the body [accepted]; the others only look at the status.
func reply(w http.ResponseWriter, gateway string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if gateway == "adyen" {
		io.WriteString(w, "[accepted]")
		return
	}
	io.WriteString(w, "ok\n")
}

// refuse answers a 4xx with a one-line reason, counts it and logs it, never
// with the body (it is unauthenticated, and may hold personal data).
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, gateway string, status int, reason, msg string) {
	h.opts.Metrics.refused(gateway, reason)
	h.opts.Log.Info("Refused", "gateway", gateway, "status", status, "reason", reason, "detail", msg, "remote", r.RemoteAddr)
	if status == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close") // the rest of the body is not read
	}
	http.Error(w, msg, status)
}
