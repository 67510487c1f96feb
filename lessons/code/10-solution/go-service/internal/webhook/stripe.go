// Package webhook is the pipeline's front door: it receives a gateway's
// webhook over HTTP, checks that the gateway really sent it, and writes it to
// Kafka. It answers 2xx only once Kafka has the record, because a 2xx tells
// the gateway it may forget the event; anything else makes it retry.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StripeTolerance is how old a signed timestamp may be, as in Stripe's own
// libraries: a captured request can be replayed only within this window.
const StripeTolerance = 5 * time.Minute

// maxBody bounds what one request may make us read.
const maxBody = 1 << 20

var ErrBadSignature = errors.New("bad webhook signature")

// Sender writes one record and returns once Kafka has acknowledged it;
// *kafka.Producer is one.
type Sender interface {
	Send(ctx context.Context, topic string, key, value []byte) error
}

// SignStripe makes a Stripe-Signature header for body, as Stripe does:
// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">. Tests and the
// producer use it to send what Stripe would.
func SignStripe(body []byte, secret string, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(stripeMAC(ts, body, secret))
}

func stripeMAC(ts string, body []byte, secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifyStripe checks a Stripe-Signature header against the exact bytes
// received. Any v1 may match: Stripe sends one per secret while a secret is
// being rolled. The comparison takes the same time whatever the bytes, so the
// answer's timing tells an attacker nothing about the right signature.
func VerifyStripe(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	var ts string
	var signatures [][]byte
	for _, part := range strings.Split(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch key {
		case "t":
			ts = value
		case "v1":
			if sig, err := hex.DecodeString(value); err == nil {
				signatures = append(signatures, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no timestamp", ErrBadSignature)
	}
	if len(signatures) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrBadSignature)
	}
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance {
		return fmt.Errorf("%w: timestamp is %s old, more than %s", ErrBadSignature, age.Round(time.Second), tolerance)
	}
	want := stripeMAC(ts, body, secret)
	for _, sig := range signatures {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 matches", ErrBadSignature)
}

// NewStripeHandler receives Stripe webhooks and writes each verified one to
// topic, keyed by its event id.
func NewStripeHandler(secret, topic string, sender Sender) http.Handler {
	return &stripeHandler{secret: secret, topic: topic, sender: sender, now: time.Now}
}

type stripeHandler struct {
	secret, topic string
	sender        Sender
	now           func() time.Time
}

func (h *stripeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	if err := VerifyStripe(r.Header.Get("Stripe-Signature"), body, h.secret, h.now(), StripeTolerance); err != nil {
		log.Printf("[WEBHOOK] rejected: %v", err)
		http.Error(w, "invalid signature", http.StatusBadRequest)
		return
	}
	var event struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &event); err != nil || event.ID == "" {
		http.Error(w, "not a Stripe event", http.StatusBadRequest)
		return
	}
	if err := h.sender.Send(r.Context(), h.topic, []byte(event.ID), body); err != nil {
		log.Printf("[WEBHOOK] %s not written to Kafka: %v", event.ID, err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}
