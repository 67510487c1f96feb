package webhook

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// SignerConfig holds the secrets a Signer signs with: the receiver's own
// settings (the first of each list).
type SignerConfig struct {
	StripeSecret, RazorpaySecret string
	SquareKey, SquareURL         string
	AdyenHexKey                  string
	PayPalWebhookID              string
	// PayPal: the development CA file to write and the host:port to serve
	// the throwaway signing certificate on (the receiver's
	// PAYPAL_DEV_CA_FILE and PAYPAL_DEV_CERT_HOST).
	PayPalDevCAFile, PayPalDevCertHost string
}

// Signer signs webhooks exactly as each gateway would, to send them to a
// receiver. For PayPal it stands in for PayPal itself: it generates a CA
// and a signing certificate for this run and serves the certificate over
// HTTPS; Close stops that.
type Signer struct {
	cfg      SignerConfig
	adyenKey []byte
	paypal   *PayPalDevIdentity
	certURL  string
	certSrv  *http.Server
}

// NewSigner checks that every gateway in gateways has what it needs.
func NewSigner(cfg SignerConfig, gateways []string) (*Signer, error) {
	s := &Signer{cfg: cfg}
	for _, g := range gateways {
		var err error
		switch g {
		case "stripe":
			err = need(cfg.StripeSecret, "STRIPE_WEBHOOK_SECRET")
		case "razorpay":
			err = need(cfg.RazorpaySecret, "RAZORPAY_WEBHOOK_SECRET")
		case "square":
			err = errors.Join(need(cfg.SquareKey, "SQUARE_WEBHOOK_SIGNATURE_KEY"), need(cfg.SquareURL, "SQUARE_WEBHOOK_URL"))
		case "adyen":
			var keys [][]byte
			if keys, err = AdyenKeys(cfg.AdyenHexKey); err == nil && len(keys) == 0 {
				err = errors.New("ADYEN_HMAC_KEY is not set")
			} else if err == nil {
				s.adyenKey = keys[0]
			} else {
				err = fmt.Errorf("ADYEN_HMAC_KEY: %w", err)
			}
		case "paypal":
			if err = errors.Join(need(cfg.PayPalWebhookID, "PAYPAL_WEBHOOK_ID"), need(cfg.PayPalDevCAFile, "PAYPAL_DEV_CA_FILE"), need(cfg.PayPalDevCertHost, "PAYPAL_DEV_CERT_HOST")); err == nil {
				err = s.startPayPal()
			}
		default:
			err = fmt.Errorf("no signer for gateway %q", g)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sign %s webhooks: %w", g, err)
		}
	}
	return s, nil
}

func need(v, setting string) error {
	if Secrets(v) == nil {
		return errors.New(setting + " is not set")
	}
	return nil
}

func first(list string) []byte { return Secrets(list)[0] }

// startPayPal writes the CA file and serves the signing certificate.
func (s *Signer) startPayPal() error {
	id, err := NewPayPalDevIdentity()
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", s.cfg.PayPalDevCertHost)
	if err != nil {
		return fmt.Errorf("PAYPAL_DEV_CERT_HOST=%s: %w", s.cfg.PayPalDevCertHost, err)
	}
	if err := os.WriteFile(s.cfg.PayPalDevCAFile, id.CAPEM, 0o644); err != nil {
		lis.Close()
		return fmt.Errorf("PAYPAL_DEV_CA_FILE: %w", err)
	}
	// A path of its own per run: the receiver caches certificates by URL,
	// and this run's key is new.
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	path := "/v1/notifications/certs/CERT-dev-" + hex.EncodeToString(nonce)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) { w.Write(id.CertPEM) })
	s.certSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, TLSConfig: &tls.Config{Certificates: []tls.Certificate{id.TLS}}}
	go func() { _ = s.certSrv.ServeTLS(lis, "", "") }()
	s.paypal, s.certURL = id, "https://"+s.cfg.PayPalDevCertHost+path
	return nil
}

// Close stops the PayPal certificate server, if any.
func (s *Signer) Close() {
	if s.certSrv != nil {
		s.certSrv.Close()
	}
}

// Sign returns the body to send (Adyen's carries its signatures inside)
// and the headers, Content-Type included. eventID is the gateway's event
// id, for the gateways that send it in a header.
func (s *Signer) Sign(gateway string, body []byte, eventID string, now time.Time) ([]byte, http.Header, error) {
	h := http.Header{}
	switch gateway {
	case "stripe":
		h.Set(StripeSignatureHeader, SignStripe(body, now, first(s.cfg.StripeSecret)))
	case "razorpay":
		h.Set(RazorpaySignatureHeader, SignRazorpay(body, first(s.cfg.RazorpaySecret)))
		if eventID != "" {
			h.Set(RazorpayEventIDHeader, eventID)
		}
	case "square":
		h.Set(SquareSignatureHeader, SignSquare(body, s.cfg.SquareURL, first(s.cfg.SquareKey)))
	case "adyen":
		if s.adyenKey == nil {
			return nil, nil, errors.New("adyen: the signer was not set up for it")
		}
		var err error
		if body, err = SignAdyen(body, s.adyenKey); err != nil {
			return nil, nil, err
		}
	case "paypal":
		if s.paypal == nil {
			return nil, nil, errors.New("paypal: the signer was not set up for it")
		}
		// PayPal's transmission id is new for every delivery, retries too.
		tx := make([]byte, 16)
		_, _ = rand.Read(tx)
		var err error
		if h, err = SignPayPal(body, s.paypal.Key, s.certURL, string(first(s.cfg.PayPalWebhookID)), hex.EncodeToString(tx), now); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("no signer for gateway %q", gateway)
	}
	h.Set("Content-Type", "application/json")
	return body, h, nil
}
