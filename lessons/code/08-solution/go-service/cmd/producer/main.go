// Command producer sends made-up Stripe payment_intent.succeeded webhooks:
// straight to Kafka, or with -webhook through the server's webhook receiver,
// signed the way Stripe signs them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/pipeline/go-service/internal/kafka"
	"example.com/pipeline/go-service/internal/payment"
	"example.com/pipeline/go-service/internal/webhook"
)

func main() {
	bootstrap := flag.String("kafka", envOr("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), "Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS)")
	topic := flag.String("topic", envOr("PAYMENTS_TOPIC", "payments.stripe"), "topic to send to (env PAYMENTS_TOPIC)")
	count := flag.Int("count", 10, "how many payments to send")
	rate := flag.Float64("rate", 2, "payments per second")
	webhookURL := flag.String("webhook", envOr("WEBHOOK_URL", ""), "POST signed webhooks to this URL (e.g. http://127.0.0.1:8080/webhooks/stripe) instead of writing to Kafka (env WEBHOOK_URL; needs STRIPE_WEBHOOK_SECRET)")
	flag.Parse()
	secret := os.Getenv("STRIPE_WEBHOOK_SECRET")
	switch {
	case *count < 1:
		log.Fatal("[PRODUCER] -count must be at least 1")
	case *rate <= 0:
		log.Fatal("[PRODUCER] -rate must be positive")
	case *bootstrap == "" || *topic == "":
		log.Fatal("[PRODUCER] -kafka and -topic must not be empty")
	case *webhookURL != "" && secret == "":
		log.Fatal("[PRODUCER] -webhook needs STRIPE_WEBHOOK_SECRET, the secret the server verifies with")
	}
	send, done := webhookSender(*webhookURL, secret), func() {}
	if *webhookURL == "" {
		var err error
		if send, done, err = kafkaSender(*bootstrap, *topic); err != nil {
			log.Fatalf("[PRODUCER] %v", err)
		}
	}
	err := run(send, *count, *rate)
	done() // before log.Fatal, which would skip it
	if err != nil {
		log.Fatalf("[PRODUCER] %v", err)
	}
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

// sender delivers one event and says where it went.
type sender func(ctx context.Context, id string, event []byte) (string, error)

func kafkaSender(bootstrap, topic string) (sender, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopic(ctx, bootstrap, topic, 3); err != nil {
		return nil, nil, err
	}
	producer, err := kafka.NewProducer(bootstrap)
	if err != nil {
		return nil, nil, err
	}
	send := func(ctx context.Context, id string, event []byte) (string, error) {
		return topic, producer.Send(ctx, topic, []byte(id), event)
	}
	return send, producer.Close, nil
}

// webhookSender posts each event as Stripe would: the exact bytes, with a
// Stripe-Signature header. Anything but 200 is an error: the receiver
// answers 200 only once Kafka has the event.
func webhookSender(url, secret string) sender {
	client := &http.Client{Timeout: 30 * time.Second}
	return func(ctx context.Context, id string, event []byte) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
		if err != nil {
			return url, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", webhook.SignStripe(event, secret, time.Now()))
		resp, err := client.Do(req)
		if err != nil {
			return url, fmt.Errorf("post %s: %w", id, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return url, fmt.Errorf("post %s: the receiver answered %s", id, resp.Status)
		}
		return url, nil
	}
}

func run(send sender, count int, rate float64) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Ids unique to this run, so that two runs never send the same payment.
	run := strconv.FormatInt(time.Now().Unix(), 36)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	sent := 0
	for p := range payment.Generate(ctx, count) {
		p.ID = fmt.Sprintf("pi_%s_%s", run, strings.TrimPrefix(p.ID, "pi_"))
		event, err := stripeEvent(p, time.Now())
		if err != nil {
			return err
		}
		to, err := send(ctx, p.ID, event)
		if err != nil {
			return err
		}
		sent++
		log.Printf("[PRODUCER] sent %s to %s", p, to)
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	log.Printf("[PRODUCER] %d payment(s) sent", sent)
	return nil
}

// stripeEvent is the webhook Stripe sends when a PaymentIntent succeeds.
func stripeEvent(p payment.Payment, now time.Time) ([]byte, error) {
	return json.Marshal(map[string]any{
		"id":      "evt_" + strings.TrimPrefix(p.ID, "pi_"),
		"object":  "event",
		"type":    "payment_intent.succeeded",
		"created": now.Unix(),
		"data": map[string]any{"object": map[string]any{
			"id":       p.ID,
			"object":   "payment_intent",
			"amount":   p.AmountMinor,
			"currency": strings.ToLower(p.Currency),
			"status":   "succeeded",
			"created":  now.Unix(),
		}},
	})
}
