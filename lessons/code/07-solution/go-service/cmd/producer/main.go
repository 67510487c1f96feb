// Command producer sends made-up Stripe payment_intent.succeeded webhooks to
// Kafka, as Stripe would if our webhook receiver passed them on.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/pipeline/go-service/internal/kafka"
	"example.com/pipeline/go-service/internal/payment"
)

func main() {
	bootstrap := flag.String("kafka", envOr("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), "Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS)")
	topic := flag.String("topic", envOr("PAYMENTS_TOPIC", "payments.stripe"), "topic to send to (env PAYMENTS_TOPIC)")
	count := flag.Int("count", 10, "how many payments to send")
	rate := flag.Float64("rate", 2, "payments per second")
	flag.Parse()
	switch {
	case *count < 1:
		log.Fatal("[PRODUCER] -count must be at least 1")
	case *rate <= 0:
		log.Fatal("[PRODUCER] -rate must be positive")
	case *bootstrap == "" || *topic == "":
		log.Fatal("[PRODUCER] -kafka and -topic must not be empty")
	}
	if err := run(*bootstrap, *topic, *count, *rate); err != nil {
		log.Fatalf("[PRODUCER] %v", err)
	}
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

func run(bootstrap, topic string, count int, rate float64) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := kafka.EnsureTopic(ctx, bootstrap, topic, 3); err != nil {
		return err
	}
	producer, err := kafka.NewProducer(bootstrap)
	if err != nil {
		return err
	}
	defer producer.Close()

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
		if err := producer.Send(ctx, topic, []byte(p.ID), event); err != nil {
			return err
		}
		sent++
		log.Printf("[PRODUCER] sent %s to %s", p, topic)
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
