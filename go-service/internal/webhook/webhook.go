// Package webhook verifies the signatures the five gateways put on their
// webhooks, each exactly as the gateway documents it, and signs payloads the
// same way (for the producer's --via mode and for tests). Every scheme but
// Adyen's signs the exact bytes received; none of this code ever verifies
// re-serialized JSON.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Reason says why a request was refused; it is a metric label, so the set
// is small and fixed.
type Reason string

const (
	// ReasonMissingSignature: the signature (header or body field) is absent.
	ReasonMissingSignature Reason = "missing_signature"
	// ReasonMalformed: the signature header or the body cannot be parsed.
	ReasonMalformed Reason = "malformed"
	// ReasonBadSignature: no configured secret gives the signature sent.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonStaleTimestamp: the signed timestamp is older than the tolerance.
	ReasonStaleTimestamp Reason = "stale_timestamp"
	// ReasonFutureTimestamp: the signed timestamp is further ahead than the tolerance.
	ReasonFutureTimestamp Reason = "future_timestamp"
	// ReasonCertificate: PayPal's signing certificate could not be fetched or trusted.
	ReasonCertificate Reason = "certificate"
)

// Error is a refusal: Reason for metrics and the status code, Msg for the
// log line and the one-line reply (it never holds a secret or the body).
type Error struct {
	Reason Reason
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func refuse(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Msg: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the refusal reason of err, ReasonMalformed when err is
// not a refusal.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonMalformed
}

// Verifier checks one request of a gateway: its headers and the exact body
// bytes received.
type Verifier interface {
	Verify(h http.Header, body []byte) error
}

// Secrets parses a comma-separated list of secrets (several while one is
// being rotated); blanks are dropped.
func Secrets(list string) [][]byte {
	var out [][]byte
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, []byte(s))
		}
	}
	return out
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// anyMatches reports whether the MAC under any key equals got. Every key is
// tried, whatever the outcome, and each compare takes constant time, so the
// time taken says nothing about which bytes were right.
func anyMatches(keys [][]byte, got []byte, parts ...[]byte) bool {
	ok := false
	for _, k := range keys {
		if hmac.Equal(hmacSHA256(k, parts...), got) {
			ok = true
		}
	}
	return ok
}
