package receiver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
)

// refusingSender fails the test if anything reaches Kafka.
type refusingSender struct{ t *testing.T }

func (s refusingSender) SendSync(context.Context, *ckafka.Message) error {
	s.t.Error("a refused request reached Kafka")
	return nil
}

var (
	stripeSecret  = []byte("whsec_unit")
	stripeBody    = []byte(`{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}},"marker":"SECRET-BODY"}`)
	razorpayKey   = []byte("rzp_unit")
	testSettingsT = Settings{
		Topics:          []string{"t.payments.raw.stripe", "t.payments.raw.razorpay"},
		StripeSecrets:   string(stripeSecret),
		RazorpaySecrets: string(razorpayKey),
	}
)

func newTestHandler(t *testing.T, s Settings, sender Sender) (*Handler, *Metrics, *bytes.Buffer) {
	t.Helper()
	gws, err := s.Gateways()
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	m := NewMetrics(nil)
	h := New(Options{Gateways: gws, Sender: sender, Deadline: 5 * time.Second, Metrics: m, Log: slog.New(slog.NewTextHandler(logs, nil))})
	return h, m, logs
}

func post(h http.Handler, path string, body io.Reader, hdr http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, body)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func stripeHeader(at time.Time, secret []byte) http.Header {
	return http.Header{"Stripe-Signature": {webhook.SignStripe(stripeBody, at, secret)}}
}

// chunked hides the length, so the limit must stop the reading itself.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestRefusals(t *testing.T) {
	now := time.Now()
	huge := bytes.Repeat([]byte("x"), MaxBody+1)
	cases := []struct {
		name     string
		method   string
		path     string
		ctype    string
		body     io.Reader
		length   int64
		hdr      http.Header
		status   int
		gateway  string
		reason   string
		contains string
	}{
		{"unknown gateway", "POST", "/webhooks/bitcoinpay", "application/json", bytes.NewReader(stripeBody), -2, nil, 404, "unknown", "unknown_gateway", "no such gateway"},
		{"upper-case path", "POST", "/webhooks/Stripe", "application/json", bytes.NewReader(stripeBody), -2, nil, 404, "unknown", "unknown_gateway", "no such gateway"},
		{"switched off", "POST", "/webhooks/adyen", "application/json", bytes.NewReader(stripeBody), -2, nil, 404, "adyen", "not_configured", "set ADYEN_HMAC_KEY"},
		{"wrong method", "GET", "/webhooks/stripe", "application/json", nil, -2, nil, 405, "stripe", "wrong_method", "only POST"},
		{"wrong content type", "POST", "/webhooks/stripe", "text/plain", bytes.NewReader(stripeBody), -2, stripeHeader(now, stripeSecret), 415, "stripe", "wrong_content_type", "application/json"},
		{"too large, announced", "POST", "/webhooks/stripe", "application/json", bytes.NewReader(huge), -2, stripeHeader(now, stripeSecret), 413, "stripe", "too_large", "larger than"},
		{"too large, chunked", "POST", "/webhooks/stripe", "application/json", chunked{bytes.NewReader(huge)}, -1, stripeHeader(now, stripeSecret), 413, "stripe", "too_large", "larger than"},
		{"unsigned", "POST", "/webhooks/stripe", "application/json", bytes.NewReader(stripeBody), -2, nil, 400, "stripe", "missing_signature", "no Stripe-Signature"},
		{"forged", "POST", "/webhooks/stripe", "application/json", bytes.NewReader(stripeBody), -2, stripeHeader(now, []byte("whsec_guess")), 401, "stripe", "bad_signature", "no v1 signature matches"},
		{"stale", "POST", "/webhooks/stripe", "application/json", bytes.NewReader(stripeBody), -2, stripeHeader(now.Add(-time.Hour), stripeSecret), 401, "stripe", "stale_timestamp", "old"},
		{"from the future", "POST", "/webhooks/stripe", "application/json", bytes.NewReader(stripeBody), -2, stripeHeader(now.Add(time.Hour), stripeSecret), 401, "stripe", "future_timestamp", "ahead"},
		{"razorpay forged", "POST", "/webhooks/razorpay", "application/json", bytes.NewReader(stripeBody), -2, http.Header{"X-Razorpay-Signature": {webhook.SignRazorpay(stripeBody, []byte("guess"))}}, 401, "razorpay", "bad_signature", "does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, m, logs := newTestHandler(t, testSettingsT, refusingSender{t})
			r := httptest.NewRequest(c.method, c.path, c.body)
			if c.length != -2 {
				r.ContentLength = c.length
			}
			r.Header.Set("Content-Type", c.ctype)
			for k, v := range c.hdr {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.contains) {
				t.Fatalf("got %d %q, want %d containing %q", w.Code, w.Body.String(), c.status, c.contains)
			}
			if strings.Count(strings.TrimSpace(w.Body.String()), "\n") != 0 {
				t.Errorf("reason is not one line: %q", w.Body.String())
			}
			if got := counter(m.refusedTotal.WithLabelValues(c.gateway, c.reason)); got != 1 {
				t.Errorf("refused{gateway=%s,reason=%s} = %v, want 1", c.gateway, c.reason, got)
			}
			if strings.Contains(logs.String(), "SECRET-BODY") || !strings.Contains(logs.String(), c.reason) {
				t.Errorf("log line must name the reason and never hold the body:\n%s", logs.String())
			}
			if c.status == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
		})
	}
}

func TestSettings(t *testing.T) {
	cases := []struct {
		name    string
		s       Settings
		on      []string
		wantErr string
	}{
		{"nothing set: all off", Settings{Topics: []string{"payments.raw.stripe"}}, nil, ""},
		{"one secret", Settings{Topics: []string{"a.stripe", "a.razorpay"}, RazorpaySecrets: "x"}, []string{"razorpay"}, ""},
		{"single mixed topic takes all", Settings{Topics: []string{"payments.raw"}, StripeSecrets: "a", AdyenKeys: "0011", PayPalWebhookID: "WH"}, []string{"adyen", "paypal", "stripe"}, ""},
		{"no topic for the gateway", Settings{Topics: []string{"payments.raw.stripe"}, RazorpaySecrets: "x"}, nil, "RAZORPAY_WEBHOOK_SECRET is set but KAFKA_TOPICS has no topic ending in .razorpay"},
		{"square key without URL", Settings{Topics: []string{"payments.raw"}, SquareKeys: "k"}, nil, "SQUARE_WEBHOOK_URL is not"},
		{"square URL without key", Settings{Topics: []string{"payments.raw"}, SquareURL: "https://x"}, nil, "SQUARE_WEBHOOK_SIGNATURE_KEY is not"},
		{"adyen key not hex", Settings{Topics: []string{"payments.raw"}, AdyenKeys: "zz-secret-zz"}, nil, "ADYEN_HMAC_KEY: key 1 of the list is not hex"},
		{"dev CA without host", Settings{Topics: []string{"payments.raw"}, PayPalWebhookID: "WH", PayPalDevCAFile: "ca.pem"}, nil, "must be set together"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gws, err := c.s.Gateways()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "zz-secret-zz") {
					t.Fatal("the error shows the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(gws) != len(c.on) {
				t.Fatalf("on: %v, want %v", gws, c.on)
			}
			for _, name := range c.on {
				if _, ok := gws[name]; !ok {
					t.Fatalf("%s is off", name)
				}
			}
		})
	}
}

func TestTopicFor(t *testing.T) {
	topics := []string{"x.payments.raw.stripe", "x.payments.raw.razorpay"}
	if got, ok := TopicFor("razorpay", topics); !ok || got != "x.payments.raw.razorpay" {
		t.Fatalf("razorpay → %q %v", got, ok)
	}
	if _, ok := TopicFor("adyen", topics); ok {
		t.Fatal("adyen found a topic")
	}
	if _, ok := TopicFor("adyen", []string{"payments.raw.stripe"}); ok {
		t.Fatal("another gateway's single topic was taken")
	}
	if got, ok := TopicFor("adyen", []string{"payments.raw"}); !ok || got != "payments.raw" {
		t.Fatalf("single mixed topic → %q %v", got, ok)
	}
}

func TestKey(t *testing.T) {
	cases := []struct{ gateway, body, eventHeader, want string }{
		{"stripe", `{"id":"evt_1","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_9","object":"payment_intent","amount":100,"currency":"usd","status":"succeeded","created":1700000000}}}`, "", "pi_9"},
		{"stripe", `{"id":"evt_2","type":"customer.created"}`, "", "evt_2"},
		{"razorpay", `{"event":"unknown"}`, "evt_header", "evt_header"},
		{"square", `{"event_id":"ev-3","type":"unknown"}`, "", "ev-3"},
		{"paypal", `not json`, "", ""},
	}
	for _, c := range cases {
		if got := Key(c.gateway, []byte(c.body), c.eventHeader); got != c.want {
			t.Errorf("Key(%s, %s) = %q, want %q", c.gateway, c.body, got, c.want)
		}
	}
}

func TestStatusFor(t *testing.T) {
	for reason, want := range map[webhook.Reason]int{
		webhook.ReasonMissingSignature: 400, webhook.ReasonMalformed: 400, webhook.ReasonBadSignature: 401,
		webhook.ReasonStaleTimestamp: 401, webhook.ReasonFutureTimestamp: 401, webhook.ReasonCertificate: 401,
	} {
		if got := statusFor(reason); got != want {
			t.Errorf("%s → %d, want %d", reason, got, want)
		}
	}
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
