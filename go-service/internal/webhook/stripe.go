package webhook

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StripeSignatureHeader carries Stripe's signature.
const StripeSignatureHeader = "Stripe-Signature"

// DefaultStripeTolerance is how far a signed timestamp may be from now, as
// in Stripe's own libraries.
const DefaultStripeTolerance = 300 * time.Second

// Stripe verifies `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`: an
// HMAC-SHA256, keyed with the endpoint secret, of "<t>." + the raw body.
// Stripe sends several v1 values while a secret is rolled; any may match.
// The signed timestamp must be within Tolerance of now either way: an old
// one is a replay, one far ahead is a clock problem or a forgery made to
// outlive the tolerance.
type Stripe struct {
	Secrets   [][]byte
	Tolerance time.Duration
	Now       func() time.Time // nil: time.Now
}

// StripeHeader is a parsed Stripe-Signature header.
type StripeHeader struct {
	Timestamp  int64
	Signatures [][]byte // the v1 values, hex-decoded
}

// ParseStripeHeader parses a Stripe-Signature value. Schemes other than v1
// (v0 is Stripe's test scheme) and v1 values that are not hex are ignored,
// as Stripe's libraries do; a header without t or without a usable v1 is
// an error.
func ParseStripeHeader(v string) (StripeHeader, error) {
	var h StripeHeader
	seenT := false
	for _, item := range strings.Split(v, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			continue
		}
		switch key {
		case "t":
			t, err := strconv.ParseInt(val, 10, 64)
			if err != nil || t < 0 {
				return StripeHeader{}, refuse(ReasonMalformed, "Stripe-Signature: timestamp %q is not a Unix time", truncate(val))
			}
			h.Timestamp, seenT = t, true
		case "v1":
			if sig, err := hex.DecodeString(val); err == nil && len(sig) == 32 {
				h.Signatures = append(h.Signatures, sig)
			}
		}
	}
	if !seenT {
		return StripeHeader{}, refuse(ReasonMalformed, "Stripe-Signature has no timestamp (t=)")
	}
	if len(h.Signatures) == 0 {
		return StripeHeader{}, refuse(ReasonMalformed, "Stripe-Signature has no v1 signature")
	}
	return h, nil
}

// Verify checks the signature and the timestamp.
func (s Stripe) Verify(hdr http.Header, body []byte) error {
	v := hdr.Get(StripeSignatureHeader)
	if v == "" {
		return refuse(ReasonMissingSignature, "no Stripe-Signature header")
	}
	h, err := ParseStripeHeader(v)
	if err != nil {
		return err
	}
	signed := []byte(strconv.FormatInt(h.Timestamp, 10) + ".")
	ok := false
	for _, sig := range h.Signatures {
		if anyMatches(s.Secrets, sig, signed, body) {
			ok = true
		}
	}
	if !ok {
		return refuse(ReasonBadSignature, "Stripe-Signature: no v1 signature matches a configured secret")
	}
	// The timestamp is checked after the signature so that a forger learns
	// nothing about our clock or tolerance.
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	tol := s.Tolerance
	if tol <= 0 {
		tol = DefaultStripeTolerance
	}
	age := now().Sub(time.Unix(h.Timestamp, 0))
	switch {
	case age > tol:
		return refuse(ReasonStaleTimestamp, "Stripe-Signature: timestamp is %s old, more than the tolerance of %s", age.Round(time.Second), tol)
	case -age > tol:
		return refuse(ReasonFutureTimestamp, "Stripe-Signature: timestamp is %s ahead, more than the tolerance of %s", (-age).Round(time.Second), tol)
	}
	return nil
}

// SignStripe returns the Stripe-Signature value Stripe would send for body
// at time t, with one v1 per secret (as while a secret is rolled).
func SignStripe(body []byte, t time.Time, secrets ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	parts := []string{"t=" + ts}
	for _, s := range secrets {
		parts = append(parts, "v1="+hex.EncodeToString(hmacSHA256(s, []byte(ts+"."), body)))
	}
	return strings.Join(parts, ",")
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return fmt.Sprint(s)
}
