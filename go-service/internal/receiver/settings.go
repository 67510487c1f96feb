package receiver

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
)

// Settings are the gateways' secrets and where their webhooks go. Secret
// values are comma-separated lists: during a rotation both are listed.
type Settings struct {
	Topics []string // KAFKA_TOPICS (or the single KAFKA_TOPIC)

	StripeSecrets   string
	StripeTolerance time.Duration
	RazorpaySecrets string
	SquareKeys      string
	SquareURL       string
	AdyenKeys       string
	PayPalWebhookID string
	// Development only: an extra trusted CA file and the host[:port] that
	// may serve PayPal signing certificates.
	PayPalDevCAFile   string
	PayPalDevCertHost string
}

// SettingFor names, per gateway, the setting that switches it on.
var SettingFor = map[string]string{
	"stripe":   "STRIPE_WEBHOOK_SECRET",
	"razorpay": "RAZORPAY_WEBHOOK_SECRET",
	"square":   "SQUARE_WEBHOOK_SIGNATURE_KEY and SQUARE_WEBHOOK_URL",
	"adyen":    "ADYEN_HMAC_KEY",
	"paypal":   "PAYPAL_WEBHOOK_ID",
}

// TopicFor is the raw topic of a gateway: the entry of topics whose name
// ends in ".<gateway>", or the only entry when it names no gateway (the
// course's single mixed topic).
func TopicFor(gateway string, topics []string) (string, bool) {
	for _, t := range topics {
		if strings.HasSuffix(t, "."+gateway) {
			return t, true
		}
	}
	if len(topics) == 1 {
		for g := range SettingFor {
			if strings.HasSuffix(topics[0], "."+g) {
				return "", false
			}
		}
		return topics[0], true
	}
	return "", false
}

// Gateways builds the switched-on gateways. An error names the setting.
func (s Settings) Gateways() (map[string]Gateway, error) {
	on := map[string]webhook.Verifier{}
	if v := webhook.Secrets(s.StripeSecrets); len(v) > 0 {
		on["stripe"] = webhook.Stripe{Secrets: v, Tolerance: s.StripeTolerance}
	}
	if v := webhook.Secrets(s.RazorpaySecrets); len(v) > 0 {
		on["razorpay"] = webhook.Razorpay{Secrets: v}
	}
	keys, url := webhook.Secrets(s.SquareKeys), strings.TrimSpace(s.SquareURL)
	switch {
	case len(keys) > 0 && url == "":
		return nil, errors.New("SQUARE_WEBHOOK_SIGNATURE_KEY is set but SQUARE_WEBHOOK_URL is not: Square signs the notification URL exactly as registered")
	case len(keys) == 0 && url != "":
		return nil, errors.New("SQUARE_WEBHOOK_URL is set but SQUARE_WEBHOOK_SIGNATURE_KEY is not")
	case len(keys) > 0:
		on["square"] = webhook.Square{Keys: keys, URL: url}
	}
	if strings.TrimSpace(s.AdyenKeys) != "" {
		k, err := webhook.AdyenKeys(s.AdyenKeys)
		if err != nil {
			return nil, fmt.Errorf("ADYEN_HMAC_KEY: %w", err)
		}
		on["adyen"] = webhook.Adyen{Keys: k}
	}
	if (s.PayPalDevCAFile == "") != (s.PayPalDevCertHost == "") {
		return nil, errors.New("PAYPAL_DEV_CA_FILE and PAYPAL_DEV_CERT_HOST must be set together")
	}
	if ids := config.SplitList(s.PayPalWebhookID); len(ids) > 0 {
		on["paypal"] = webhook.PayPal{WebhookIDs: ids, Certs: webhook.NewCertSource(s.PayPalDevCAFile, s.PayPalDevCertHost)}
	}
	out := map[string]Gateway{}
	for name, v := range on {
		topic, ok := TopicFor(name, s.Topics)
		if !ok {
			return nil, fmt.Errorf("%s is set but KAFKA_TOPICS has no topic ending in .%s", SettingFor[name], name)
		}
		out[name] = Gateway{Verifier: v, Topic: topic}
	}
	return out, nil
}
