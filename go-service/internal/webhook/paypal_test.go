package webhook

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	paypalCertURL   = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-test"
	paypalWebhookID = "1JE4291016473214C"
	paypalBody      = `{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"id":"8MC585209K746392H"}}`
)

// paypalFixture is a generated CA standing in for the public roots, and a
// fetcher that serves its signing certificate and counts the fetches.
type paypalFixture struct {
	id      *PayPalDevIdentity
	fetches atomic.Int64
	certs   *CertSource
}

func newPayPalFixture(t *testing.T) *paypalFixture {
	t.Helper()
	id, err := NewPayPalDevIdentity()
	if err != nil {
		t.Fatal(err)
	}
	f := &paypalFixture{id: id}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(id.CAPEM)
	f.certs = &CertSource{
		Roots: func() (*x509.CertPool, error) { return pool, nil },
		Fetch: func(_ context.Context, u string) ([]byte, error) {
			f.fetches.Add(1)
			if u != paypalCertURL {
				return nil, errors.New("404")
			}
			return id.CertPEM, nil
		},
	}
	return f
}

func (f *paypalFixture) sign(t *testing.T, body, webhookID string) http.Header {
	t.Helper()
	h, err := SignPayPal([]byte(body), f.id.Key, paypalCertURL, webhookID, "b2384410-f8d2-11ee-9f0d-test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPayPal(t *testing.T) {
	f := newPayPalFixture(t)
	ok := f.sign(t, paypalBody, paypalWebhookID)
	with := func(k, v string) http.Header {
		h := ok.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	cases := []struct {
		name string
		ids  []string
		h    http.Header
		body string
		want Reason
	}{
		{"signed", []string{paypalWebhookID}, ok, paypalBody, ""},
		{"second webhook id listed", []string{"OTHER", paypalWebhookID}, ok, paypalBody, ""},
		{"wrong webhook id", []string{"OTHER"}, ok, paypalBody, ReasonBadSignature},
		{"tampered body", []string{paypalWebhookID}, ok, paypalBody + "\n", ReasonBadSignature},
		{"transmission id changed", []string{paypalWebhookID}, with(PayPalTransmissionIDHeader, "other"), paypalBody, ReasonBadSignature},
		{"no signature", []string{paypalWebhookID}, with(PayPalTransmissionSigHeader, ""), paypalBody, ReasonMissingSignature},
		{"no cert URL", []string{paypalWebhookID}, with(PayPalCertURLHeader, ""), paypalBody, ReasonMissingSignature},
		{"no transmission time", []string{paypalWebhookID}, with(PayPalTransmissionTimeHeader, ""), paypalBody, ReasonMissingSignature},
		{"other algorithm", []string{paypalWebhookID}, with(PayPalAuthAlgoHeader, "SHA1withRSA"), paypalBody, ReasonMalformed},
		{"signature not base64", []string{paypalWebhookID}, with(PayPalTransmissionSigHeader, "%%%"), paypalBody, ReasonMalformed},
		{"cert URL off PayPal", []string{paypalWebhookID}, with(PayPalCertURLHeader, "https://evil.example/cert.pem"), paypalBody, ReasonCertificate},
		{"cert URL over http", []string{paypalWebhookID}, with(PayPalCertURLHeader, strings.Replace(paypalCertURL, "https", "http", 1)), paypalBody, ReasonCertificate},
		{"cert URL on a look-alike host", []string{paypalWebhookID}, with(PayPalCertURLHeader, "https://api.paypal.com.evil.example/c"), paypalBody, ReasonCertificate},
		{"cert URL that does not exist", []string{paypalWebhookID}, with(PayPalCertURLHeader, "https://api.paypal.com/nothing"), paypalBody, ReasonCertificate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantReason(t, PayPal{WebhookIDs: c.ids, Certs: f.certs}.Verify(c.h, []byte(c.body)), c.want)
		})
	}
}

func TestPayPalCertificateIsCachedByURL(t *testing.T) {
	f := newPayPalFixture(t)
	v := PayPal{WebhookIDs: []string{paypalWebhookID}, Certs: f.certs}
	for range 3 {
		if err := v.Verify(f.sign(t, paypalBody, paypalWebhookID), []byte(paypalBody)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("certificate fetched %d times, want once", n)
	}
}

func TestPayPalUntrustedCertificate(t *testing.T) {
	f := newPayPalFixture(t)
	stranger := newPayPalFixture(t) // a CA the receiver does not trust
	f.certs.Fetch = func(context.Context, string) ([]byte, error) { return stranger.id.CertPEM, nil }
	h, err := SignPayPal([]byte(paypalBody), stranger.id.Key, paypalCertURL, paypalWebhookID, "t1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = PayPal{WebhookIDs: []string{paypalWebhookID}, Certs: f.certs}.Verify(h, []byte(paypalBody))
	wantReason(t, err, ReasonCertificate)
}

func TestPayPalSignedByAnotherKey(t *testing.T) {
	f := newPayPalFixture(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h, err := SignPayPal([]byte(paypalBody), key, paypalCertURL, paypalWebhookID, "t1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, PayPal{WebhookIDs: []string{paypalWebhookID}, Certs: f.certs}.Verify(h, []byte(paypalBody)), ReasonBadSignature)
}

func TestPayPalSignedString(t *testing.T) {
	// CRC-32 (IEEE) of "123456789" is the standard check value 0xCBF43926.
	got := PayPalSignedString("tid", "2024-01-01T00:00:00Z", "WH", []byte("123456789"))
	if want := "tid|2024-01-01T00:00:00Z|WH|3421780262"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestCheckCertURL(t *testing.T) {
	cases := map[string]bool{
		"https://api.paypal.com/v1/notifications/certs/CERT-1":         true,
		"https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1": true,
		"https://API.PAYPAL.COM:443/c":                                 true,
		"https://paypal.com/c":                                         true,
		"http://api.paypal.com/c":                                      false,
		"https://api.paypal.com:8443/c":                                false,
		"https://evilpaypal.com/c":                                     false,
		"https://api.paypal.com.evil.example/c":                        false,
		"https://user:pw@api.paypal.com/c":                             false,
		"https://127.0.0.1:9443/c":                                     false,
		"::":                                                           false,
	}
	for u, want := range cases {
		if _, err := CheckCertURL(u, ""); (err == nil) != want {
			t.Errorf("%s: allowed %v, want %v (%v)", u, err == nil, want, err)
		}
	}
	if _, err := CheckCertURL("https://127.0.0.1:9443/c", "127.0.0.1:9443"); err != nil {
		t.Errorf("development host refused: %v", err)
	}
	if _, err := CheckCertURL("https://127.0.0.1:9444/c", "127.0.0.1:9443"); err == nil {
		t.Error("a port other than the development host's was allowed")
	}
}

// The development setting: a CA file and a loopback host, fetched over real
// HTTPS with the default fetcher.
func TestPayPalDevelopmentCAOverHTTPS(t *testing.T) {
	id, err := NewPayPalDevIdentity()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(id.CertPEM) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{id.TLS}}
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, id.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	certURL := srv.URL + "/v1/notifications/certs/CERT-dev"
	h, err := SignPayPal([]byte(paypalBody), id.Key, certURL, paypalWebhookID, "t1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dev := PayPal{WebhookIDs: []string{paypalWebhookID}, Certs: NewCertSource(caFile, host)}
	wantReason(t, dev.Verify(h, []byte(paypalBody)), "")
	off := PayPal{WebhookIDs: []string{paypalWebhookID}, Certs: NewCertSource("", "")}
	wantReason(t, off.Verify(h, []byte(paypalBody)), ReasonCertificate)
	hostOnly := PayPal{WebhookIDs: []string{paypalWebhookID}, Certs: NewCertSource("", host)}
	wantReason(t, hostOnly.Verify(h, []byte(paypalBody)), ReasonCertificate) // the system roots don't know the CA
}

// Certificate URLs come from unauthenticated requests: however many arrive
// at once, only a few downloads run at a time.
func TestPayPalCertificateDownloadsAreBounded(t *testing.T) {
	f := newPayPalFixture(t)
	var inside, most atomic.Int64
	release := make(chan struct{})
	f.certs.Fetch = func(ctx context.Context, u string) ([]byte, error) {
		n := inside.Add(1)
		defer inside.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		return nil, errors.New("404")
	}
	const callers = 3 * maxConcurrentFetches
	done := make(chan struct{}, callers)
	for i := range callers {
		go func() {
			_, _ = f.certs.Certificate(context.Background(), "https://api.paypal.com/made-up/"+strconv.Itoa(i))
			done <- struct{}{}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for inside.Load() < maxConcurrentFetches && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	runtime.Gosched()
	close(release)
	for range callers {
		<-done
	}
	if got := most.Load(); got != maxConcurrentFetches {
		t.Fatalf("%d downloads ran at once, want at most (and here exactly) %d", got, maxConcurrentFetches)
	}
}
