package webhook

import (
	"encoding/hex"
	"net/http"
	"strings"
)

// Razorpay's headers.
const (
	RazorpaySignatureHeader = "X-Razorpay-Signature"
	RazorpayEventIDHeader   = "X-Razorpay-Event-Id"
)

// Razorpay verifies X-Razorpay-Signature: the hex HMAC-SHA256 of the raw
// body, keyed with the webhook secret (not the API key secret). Nothing
// time-related is signed. After a secret changes, Razorpay's retries of
// older events still carry the old secret's signature: keep both listed
// until those retries are over.
type Razorpay struct {
	Secrets [][]byte
}

// Verify checks the signature.
func (r Razorpay) Verify(h http.Header, body []byte) error {
	v := strings.TrimSpace(h.Get(RazorpaySignatureHeader))
	if v == "" {
		return refuse(ReasonMissingSignature, "no X-Razorpay-Signature header")
	}
	sig, err := hex.DecodeString(v)
	if err != nil {
		return refuse(ReasonMalformed, "X-Razorpay-Signature is not hex")
	}
	if !anyMatches(r.Secrets, sig, body) {
		return refuse(ReasonBadSignature, "X-Razorpay-Signature does not match a configured secret")
	}
	return nil
}

// SignRazorpay returns the X-Razorpay-Signature value for body.
func SignRazorpay(body, secret []byte) string {
	return hex.EncodeToString(hmacSHA256(secret, body))
}
