package webhook

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What the Signer sends, each gateway's verifier accepts, with the same
// settings on both sides; PayPal's certificate comes over real HTTPS on
// loopback, trusted through the development CA file the Signer wrote.
func TestSignerMatchesVerifiers(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := lis.Addr().String()
	lis.Close()
	cfg := SignerConfig{
		StripeSecret: "whsec_1,whsec_0", RazorpaySecret: "rzp", SquareKey: "sq", SquareURL: "https://example.com/hook",
		AdyenHexKey: "0a0b0c", PayPalWebhookID: "WH-9", PayPalDevCAFile: filepath.Join(t.TempDir(), "ca.pem"), PayPalDevCertHost: host,
	}
	s, err := NewSigner(cfg, []string{"stripe", "razorpay", "square", "adyen", "paypal"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	adyenKeys, _ := AdyenKeys(cfg.AdyenHexKey)
	verifiers := map[string]Verifier{
		"stripe":   Stripe{Secrets: Secrets(cfg.StripeSecret)},
		"razorpay": Razorpay{Secrets: Secrets(cfg.RazorpaySecret)},
		"square":   Square{Keys: Secrets(cfg.SquareKey), URL: cfg.SquareURL},
		"adyen":    Adyen{Keys: adyenKeys},
		"paypal":   PayPal{WebhookIDs: []string{"WH-9"}, Certs: NewCertSource(cfg.PayPalDevCAFile, host)},
	}
	bodies := map[string]string{"adyen": adyenBody(adyenVectorItem)}
	for name, v := range verifiers {
		body := bodies[name]
		if body == "" {
			body = `{"id":"evt_1"}`
		}
		signed, h, err := s.Sign(name, []byte(body), "evt_1", time.Now())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", name, h.Get("Content-Type"))
		}
		if err := v.Verify(h, signed); err != nil {
			t.Errorf("%s: the verifier refuses what the signer sent: %v", name, err)
		}
	}
}

func TestSignerNeedsItsSettings(t *testing.T) {
	for g, want := range map[string]string{
		"stripe": "STRIPE_WEBHOOK_SECRET", "razorpay": "RAZORPAY_WEBHOOK_SECRET", "square": "SQUARE_WEBHOOK_SIGNATURE_KEY",
		"adyen": "ADYEN_HMAC_KEY", "paypal": "PAYPAL_WEBHOOK_ID", "bitcoinpay": "no signer",
	} {
		if _, err := NewSigner(SignerConfig{}, []string{g}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want it to name %s", g, err, want)
		}
	}
	s, _ := NewSigner(SignerConfig{StripeSecret: "x"}, []string{"stripe"})
	if _, _, err := s.Sign("paypal", []byte("{}"), "", time.Now()); err == nil {
		t.Error("signed for a gateway it was not set up for")
	}
}
