package receiver

// Integration tests on real Kafka (`make kafka-up`), from kafkatest:
// skipped without it, unless REQUIRE_KAFKA is set.

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Every gateway, signed as the gateway signs: 200 with the gateway's reply,
// and the exact bytes in the gateway's topic with key and headers.
func TestAcceptedWebhooksAreStoredAsReceived(t *testing.T) {
	k := kafkatest.Config(t)
	prefix := kafkatest.Name(t, "it")
	gateways := synthetic.Gateways()
	var topics []string
	for _, g := range []string{"stripe", "razorpay", "paypal", "adyen", "square"} {
		topics = append(topics, prefix+".payments.raw."+g)
	}
	kafkatest.CreateTopics(t, k, topics...)
	kafkatest.DeleteTopicsAfter(t, k, topics...)
	pp := newPayPalSigner(t)
	s := Settings{
		Topics: topics, StripeSecrets: "whsec_a,whsec_b", RazorpaySecrets: "rzp", SquareKeys: "sq",
		SquareURL: "https://example.com/webhooks/square", AdyenKeys: "00112233", PayPalWebhookID: "WH-1",
	}
	gws, err := s.Gateways()
	if err != nil {
		t.Fatal(err)
	}
	pg := gws["paypal"]
	pg.Verifier = webhook.PayPal{WebhookIDs: []string{"WH-1"}, Certs: pp.certs}
	gws["paypal"] = pg
	producer, err := kafka.NewProducer(k, quiet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close(5 * time.Second)
	h := New(Options{Gateways: gws, Sender: producer, Deadline: 30 * time.Second, Log: quiet()})

	gen, err := synthetic.New(synthetic.Options{Seed: 14, Gateways: gateways})
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]synthetic.Record{}
	for len(sent) < 5 {
		rec, _ := gen.Next()
		name := strings.ToLower(strings.TrimPrefix(rec.Gateway.String(), "GATEWAY_"))
		if _, done := sent[name]; done {
			continue
		}
		body, hdr := rec.Value, http.Header{}
		switch rec.Gateway {
		case pb.Gateway_GATEWAY_STRIPE:
			hdr.Set(webhook.StripeSignatureHeader, webhook.SignStripe(body, time.Now(), []byte("whsec_b")))
		case pb.Gateway_GATEWAY_RAZORPAY:
			hdr.Set(webhook.RazorpaySignatureHeader, webhook.SignRazorpay(body, []byte("rzp")))
			hdr.Set(webhook.RazorpayEventIDHeader, rec.Step.EventID)
		case pb.Gateway_GATEWAY_SQUARE:
			hdr.Set(webhook.SquareSignatureHeader, webhook.SignSquare(body, s.SquareURL, []byte("sq")))
		case pb.Gateway_GATEWAY_ADYEN:
			key, _ := webhook.AdyenKeys("00112233")
			if body, err = webhook.SignAdyen(body, key[0]); err != nil {
				t.Fatal(err)
			}
		case pb.Gateway_GATEWAY_PAYPAL:
			hdr = pp.sign(t, body, "WH-1")
		}
		rec.Value = body
		w := post(h, "/webhooks/"+name, bytes.NewReader(body), hdr)
		want := "ok\n"
		if name == "adyen" {
			want = "[accepted]"
		}
		if w.Code != 200 || w.Body.String() != want {
			t.Fatalf("%s: %d %q, want 200 %q", name, w.Code, w.Body.String(), want)
		}
		sent[name] = rec
	}
	for name, rec := range sent {
		m := kafkatest.Consume(t, k, prefix+".payments.raw."+name, 1, 30*time.Second)[0]
		if !bytes.Equal(m.Value, rec.Value) {
			t.Errorf("%s: stored bytes differ from those received", name)
		}
		if string(m.Key) != rec.Payment.ID {
			t.Errorf("%s: key %q, want the payment id %q", name, m.Key, rec.Payment.ID)
		}
		if kafka.Header(m, "gateway") != name || kafka.Header(m, "verified") != "true" {
			t.Errorf("%s: headers %v", name, m.Headers)
		}
		if _, err := time.Parse(time.RFC3339Nano, kafka.Header(m, "received_at")); err != nil {
			t.Errorf("%s: received_at %q: %v", name, kafka.Header(m, "received_at"), err)
		}
		if name == "razorpay" && kafka.Header(m, "x-razorpay-event-id") != rec.Step.EventID {
			t.Errorf("razorpay: event id header %q, want %q", kafka.Header(m, "x-razorpay-event-id"), rec.Step.EventID)
		}
	}
}

// Kafka that never answers: 503, counted, after the deadline.
func TestKafkaUnavailableAnswers503(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // a closed loopback port: no broker
	producer, err := kafka.NewProducer(config.Kafka{BootstrapServers: addr}, quiet(), ckafka.ConfigMap{"message.timeout.ms": 1000, "log_level": 0})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close(time.Second)
	h, m, _ := newTestHandler(t, testSettingsT, nil)
	h.opts.Sender, h.opts.Deadline = producer, 2*time.Second
	w := post(h, "/webhooks/stripe", bytes.NewReader(stripeBody), stripeHeader(time.Now(), stripeSecret))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("got %d %q, want 503 with Retry-After", w.Code, w.Body.String())
	}
	if got := counter(m.unstoredTotal.WithLabelValues("stripe")); got != 1 {
		t.Fatalf("kafka_unavailable{stripe} = %v, want 1", got)
	}
	if got := counter(m.acceptedTotal.WithLabelValues("stripe")); got != 0 {
		t.Fatalf("accepted{stripe} = %v, want 0", got)
	}
}

// payPalSigner stands in for PayPal: a generated CA and an in-memory fetcher.
type payPalSigner struct {
	id    *webhook.PayPalDevIdentity
	certs *webhook.CertSource
}

const testCertURL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-test"

func newPayPalSigner(t *testing.T) *payPalSigner {
	t.Helper()
	id, err := webhook.NewPayPalDevIdentity()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(id.CAPEM)
	return &payPalSigner{id: id, certs: &webhook.CertSource{
		Roots: func() (*x509.CertPool, error) { return pool, nil },
		Fetch: func(context.Context, string) ([]byte, error) { return id.CertPEM, nil },
	}}
}

func (p *payPalSigner) sign(t *testing.T, body []byte, webhookID string) http.Header {
	t.Helper()
	h, err := webhook.SignPayPal(body, p.id.Key, testCertURL, webhookID, "tx-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return h
}
