package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"learner.example/go-service/internal/kafka"
	"learner.example/go-service/internal/webhook"
)

const check08Secret = "whsec_lessoncheck08"

func TestCheck08VerifyStripe(t *testing.T) {
	body := []byte(`{"id":"evt_check8v"}`)
	now := time.Unix(1767225600, 0)
	header := webhook.SignStripe(body, check08Secret, now)
	if !strings.HasPrefix(header, "t=1767225600,v1=") {
		t.Errorf("SignStripe made %q; want Stripe's format t=<unix seconds>,v1=<hex>", header)
	}
	for _, c := range []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"a fresh signature", header, body, now, true},
		{"a signature 4 minutes old", header, body, now.Add(4 * time.Minute), true},
		{"a signature 6 minutes old (replayed?)", header, body, now.Add(6 * time.Minute), false},
		{"a body with one byte changed", header, []byte(`{"id":"evt_check8w"}`), now, false},
		{"another secret's signature", webhook.SignStripe(body, "whsec_other", now), body, now, false},
		{"a rolled secret: the old one's v1, then the new one's", webhook.SignStripe(body, "whsec_other", now) + "," + strings.Split(header, ",")[1], body, now, true},
		{"no header", "", body, now, false},
	} {
		err := webhook.VerifyStripe(c.header, c.body, check08Secret, c.now, webhook.StripeTolerance)
		if c.ok && err != nil {
			t.Errorf("VerifyStripe rejected %s: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("VerifyStripe(%s) returned %v; want an error that errors.Is matches with ErrBadSignature", c.name, err)
		}
	}
}

func TestCheck08StripeHandlerWritesToKafkaThenAnswers(t *testing.T) {
	t.Parallel()
	bootstrap := checkkitKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := checkkitTopic("08w")
	if err := kafka.EnsureTopic(ctx, bootstrap, topic, 1); err != nil {
		t.Fatal(err)
	}
	checkkitDeleteTopics(t, bootstrap, topic)
	producer, err := kafka.NewProducer(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	srv := httptest.NewServer(webhook.NewStripeHandler(check08Secret, topic, producer))
	defer srv.Close()

	post := func(body []byte, signature string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
		if signature != "" {
			req.Header.Set("Stripe-Signature", signature)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := []byte(`{"id":"evt_check8good","type":"payment_intent.succeeded"}`)
	forged := []byte(`{"id":"evt_check8forged","type":"payment_intent.succeeded"}`)
	if code := post(forged, webhook.SignStripe(forged, "whsec_not_ours", time.Now())); code != http.StatusBadRequest {
		t.Errorf("a webhook signed with another secret got HTTP %d; want 400", code)
	}
	if code := post(forged, ""); code != http.StatusBadRequest {
		t.Errorf("a webhook without Stripe-Signature got HTTP %d; want 400", code)
	}
	if code := post(good, webhook.SignStripe(good, check08Secret, time.Now())); code != http.StatusOK {
		t.Fatalf("a correctly signed webhook got HTTP %d; want 200", code)
	}

	consumer, err := ckafka.NewConsumer(&ckafka.ConfigMap{"bootstrap.servers": bootstrap, "group.id": topic + "-reader", "auto.offset.reset": "earliest"})
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	consumer.SubscribeTopics([]string{topic}, nil)
	var got *ckafka.Message
	for got == nil && ctx.Err() == nil {
		if m, ok := consumer.Poll(200).(*ckafka.Message); ok {
			got = m
		}
	}
	if got == nil {
		t.Fatalf("the webhook answered 200 but nothing is in %s", topic)
	}
	if !bytes.Equal(got.Value, good) {
		t.Errorf("Kafka has %q; want the webhook's body byte for byte, and only the verified one", got.Value)
	}
	if string(got.Key) != "evt_check8good" {
		t.Errorf("the record's key is %q; want the event id, evt_check8good", got.Key)
	}
}

// With Kafka out of reach the handler must not answer 2xx: a 2xx tells
// Stripe it may forget the event, which would then be lost.
func TestCheck08StripeHandlerWithoutKafkaIsNot2xx(t *testing.T) {
	t.Parallel()
	unreachable, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := unreachable.Addr().String()
	unreachable.Close() // nothing listens there now
	producer, err := kafka.NewProducer(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	srv := httptest.NewServer(webhook.NewStripeHandler(check08Secret, "lessoncheck08-nowhere", producer))
	defer srv.Close()

	body := []byte(`{"id":"evt_check8down","type":"payment_intent.succeeded"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // Stripe, too, gives up on a slow answer
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", webhook.SignStripe(body, check08Secret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // no answer at all is not a 2xx either
	}
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		t.Errorf("with Kafka unreachable the handler answered HTTP %d; answer 2xx only after Send returns nil (Kafka's ack)", resp.StatusCode)
	}
}
