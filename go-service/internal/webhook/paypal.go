package webhook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PayPal's headers.
const (
	PayPalTransmissionIDHeader   = "Paypal-Transmission-Id"
	PayPalTransmissionTimeHeader = "Paypal-Transmission-Time"
	PayPalTransmissionSigHeader  = "Paypal-Transmission-Sig"
	PayPalCertURLHeader          = "Paypal-Cert-Url"
	PayPalAuthAlgoHeader         = "Paypal-Auth-Algo"
	PayPalAuthAlgo               = "SHA256withRSA"
)

// PayPal verifies PayPal's transmission signature: RSA PKCS #1 v1.5 with
// SHA-256 over "<transmission id>|<transmission time>|<webhook id>|<CRC-32
// of the raw body, unsigned decimal>", checked with the public key of the
// certificate at PAYPAL-CERT-URL. The webhook id is the subscription's (the
// one the dashboard shows), not the event's; several may be listed.
type PayPal struct {
	WebhookIDs []string
	Certs      *CertSource
}

// PayPalHeaders are the parsed signature headers.
type PayPalHeaders struct {
	TransmissionID, TransmissionTime, CertURL string
	Signature                                 []byte
}

// ParsePayPalHeaders reads and checks PayPal's signature headers.
func ParsePayPalHeaders(h http.Header) (PayPalHeaders, error) {
	p := PayPalHeaders{
		TransmissionID:   h.Get(PayPalTransmissionIDHeader),
		TransmissionTime: h.Get(PayPalTransmissionTimeHeader),
		CertURL:          h.Get(PayPalCertURLHeader),
	}
	sig := h.Get(PayPalTransmissionSigHeader)
	for name, v := range map[string]string{
		"PAYPAL-TRANSMISSION-ID": p.TransmissionID, "PAYPAL-TRANSMISSION-TIME": p.TransmissionTime,
		"PAYPAL-TRANSMISSION-SIG": sig, "PAYPAL-CERT-URL": p.CertURL,
	} {
		if v == "" {
			return PayPalHeaders{}, refuse(ReasonMissingSignature, "no %s header", name)
		}
	}
	// The fields are joined with '|': one holding a '|' could shift the rest.
	if strings.Contains(p.TransmissionID, "|") || strings.Contains(p.TransmissionTime, "|") {
		return PayPalHeaders{}, refuse(ReasonMalformed, "PAYPAL-TRANSMISSION-ID or -TIME holds a '|'")
	}
	if algo := h.Get(PayPalAuthAlgoHeader); algo != "" && !strings.EqualFold(algo, PayPalAuthAlgo) {
		return PayPalHeaders{}, refuse(ReasonMalformed, "PAYPAL-AUTH-ALGO %q: only %s is used by PayPal", truncate(algo), PayPalAuthAlgo)
	}
	var err error
	// Base64 decoding skips CR and LF, so a value of only those decodes to
	// nothing: refuse it as it is, not as a wrong signature later.
	if p.Signature, err = base64.StdEncoding.DecodeString(sig); err != nil || len(p.Signature) == 0 {
		return PayPalHeaders{}, refuse(ReasonMalformed, "PAYPAL-TRANSMISSION-SIG is not Base64 of a signature")
	}
	return p, nil
}

// PayPalSignedString is the text PayPal signs.
func PayPalSignedString(transmissionID, transmissionTime, webhookID string, body []byte) string {
	return transmissionID + "|" + transmissionTime + "|" + webhookID + "|" + strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10)
}

// Verify checks the headers, fetches (or reuses) the certificate and checks
// the signature under each configured webhook id.
func (p PayPal) Verify(h http.Header, body []byte) error {
	hs, err := ParsePayPalHeaders(h)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cert, err := p.Certs.Certificate(ctx, hs.CertURL)
	if err != nil {
		return &Error{Reason: ReasonCertificate, Msg: "PAYPAL-CERT-URL: " + err.Error()}
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return refuse(ReasonCertificate, "PAYPAL-CERT-URL: the certificate's key is not RSA")
	}
	for _, id := range p.WebhookIDs {
		digest := sha256.Sum256([]byte(PayPalSignedString(hs.TransmissionID, hs.TransmissionTime, id, body)))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], hs.Signature) == nil {
			return nil
		}
	}
	return refuse(ReasonBadSignature, "PAYPAL-TRANSMISSION-SIG does not match for a configured PAYPAL_WEBHOOK_ID")
}

// SignPayPal returns the headers PayPal would send with body, signed with
// key, whose certificate is at certURL.
func SignPayPal(body []byte, key *rsa.PrivateKey, certURL, webhookID, transmissionID string, at time.Time) (http.Header, error) {
	ts := at.UTC().Format(time.RFC3339)
	digest := sha256.Sum256([]byte(PayPalSignedString(transmissionID, ts, webhookID, body)))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	h := http.Header{}
	h.Set(PayPalTransmissionIDHeader, transmissionID)
	h.Set(PayPalTransmissionTimeHeader, ts)
	h.Set(PayPalTransmissionSigHeader, base64.StdEncoding.EncodeToString(sig))
	h.Set(PayPalCertURLHeader, certURL)
	h.Set(PayPalAuthAlgoHeader, PayPalAuthAlgo)
	return h, nil
}

// CertSource hands out PayPal signing certificates: fetched over HTTPS from
// PayPal's own hosts only (the URL comes from the request, so anyone could
// otherwise make us fetch anything, or trust their own key), chain-checked
// against the trusted roots, and kept by URL until they expire.
type CertSource struct {
	// Fetch returns the PEM at an already checked URL; nil fetches it over
	// HTTPS trusting Roots.
	Fetch func(ctx context.Context, u string) ([]byte, error)
	// Roots are the trusted roots; nil means the system's.
	Roots func() (*x509.CertPool, error)
	// ExtraHost is one more host[:port] certificates may come from
	// (development only); "" allows PayPal's hosts alone.
	ExtraHost string
	Now       func() time.Time // nil: time.Now

	mu       sync.Mutex
	cache    map[string]*x509.Certificate
	fetching chan struct{} // bounds concurrent downloads
}

// maxCachedCerts bounds the cache: PayPal uses a handful of certificates.
const maxCachedCerts = 64

// maxConcurrentFetches bounds the downloads in progress: the URL comes from
// an unauthenticated request, so a flood of made-up PayPal URLs must not turn
// into as many outbound connections.
const maxConcurrentFetches = 4

// maxCertBytes bounds a certificate download.
const maxCertBytes = 64 << 10

// NewCertSource returns the CertSource the receiver uses. With devCAFile
// set, the PEM certificates in that file are trusted too and devHost may
// serve certificates: for local tests and demos only. The file is read when
// a certificate is fetched, so a demo may write it after the start.
func NewCertSource(devCAFile, devHost string) *CertSource {
	cs := &CertSource{ExtraHost: devHost}
	if devCAFile != "" {
		cs.Roots = func() (*x509.CertPool, error) {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			pemBytes, err := os.ReadFile(devCAFile)
			if err != nil {
				return nil, fmt.Errorf("development CA: %w", err)
			}
			if !pool.AppendCertsFromPEM(pemBytes) {
				return nil, fmt.Errorf("development CA %s holds no PEM certificate", devCAFile)
			}
			return pool, nil
		}
	}
	return cs
}

// CheckCertURL refuses a certificate URL that is not HTTPS on one of
// PayPal's hosts (paypal.com or a subdomain, default port) or extraHost.
func CheckCertURL(raw, extraHost string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "https" {
		return nil, errors.New("not an https URL")
	}
	if u.User != nil {
		return nil, errors.New("URL carries credentials")
	}
	if extraHost != "" && u.Host == extraHost {
		return u, nil
	}
	host := strings.ToLower(u.Hostname())
	if (host != "paypal.com" && !strings.HasSuffix(host, ".paypal.com")) || (u.Port() != "" && u.Port() != "443") {
		return nil, fmt.Errorf("host %q is not PayPal's", truncate(u.Host))
	}
	return u, nil
}

// Certificate returns the leaf certificate at rawURL, checked.
func (c *CertSource) Certificate(ctx context.Context, rawURL string) (*x509.Certificate, error) {
	u, err := CheckCertURL(rawURL, c.ExtraHost)
	if err != nil {
		return nil, err
	}
	key := u.String()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	c.mu.Lock()
	cert, ok := c.cache[key]
	c.mu.Unlock()
	if ok && now.Before(cert.NotAfter) {
		return cert, nil
	}
	roots, err := c.roots()
	if err != nil {
		return nil, err
	}
	fetch := c.Fetch
	if fetch == nil {
		fetch = httpsFetcher(roots)
	}
	c.mu.Lock()
	if c.fetching == nil {
		c.fetching = make(chan struct{}, maxConcurrentFetches)
	}
	slots := c.fetching
	c.mu.Unlock()
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("fetch: too many certificate downloads in progress: %w", ctx.Err())
	}
	pemBytes, err := fetch(ctx, key)
	<-slots
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	cert, err = verifyChain(pemBytes, roots, now)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.cache == nil || len(c.cache) >= maxCachedCerts {
		c.cache = map[string]*x509.Certificate{}
	}
	c.cache[key] = cert
	c.mu.Unlock()
	return cert, nil
}

func (c *CertSource) roots() (*x509.CertPool, error) {
	if c.Roots != nil {
		return c.Roots()
	}
	return x509.SystemCertPool()
}

// verifyChain parses the leaf and any intermediates that follow it and
// checks the chain up to a trusted root.
func verifyChain(pemBytes []byte, roots *x509.CertPool, now time.Time) (*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := pemBytes; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate at the URL")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("untrusted certificate: %w", err)
	}
	return certs[0], nil
}

// httpsFetcher GETs a certificate over HTTPS, trusting roots, following no
// redirect (it could leave PayPal's hosts).
func httpsFetcher(roots *x509.CertPool) func(ctx context.Context, u string) ([]byte, error) {
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			Proxy:           http.ProxyFromEnvironment,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, u string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s answered %s", resp.Request.URL.Host, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, maxCertBytes))
	}
}
