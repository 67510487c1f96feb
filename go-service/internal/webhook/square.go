package webhook

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// SquareSignatureHeader carries Square's signature.
const SquareSignatureHeader = "X-Square-Hmacsha256-Signature"

// Square verifies x-square-hmacsha256-signature: the Base64 HMAC-SHA256,
// keyed with the subscription's signature key, of the notification URL
// (exactly as registered with Square) followed by the raw body.
type Square struct {
	Keys [][]byte
	URL  string
}

// Verify checks the signature. An empty body is refused: Square never sends
// one, whatever its SDK accepts.
func (s Square) Verify(h http.Header, body []byte) error {
	v := strings.TrimSpace(h.Get(SquareSignatureHeader))
	if v == "" {
		return refuse(ReasonMissingSignature, "no x-square-hmacsha256-signature header")
	}
	if len(body) == 0 {
		return refuse(ReasonMalformed, "empty body")
	}
	sig, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return refuse(ReasonMalformed, "x-square-hmacsha256-signature is not Base64")
	}
	if !anyMatches(s.Keys, sig, []byte(s.URL), body) {
		return refuse(ReasonBadSignature, "x-square-hmacsha256-signature does not match a configured key and SQUARE_WEBHOOK_URL")
	}
	return nil
}

// SignSquare returns the x-square-hmacsha256-signature value for body sent
// to url.
func SignSquare(body []byte, url string, key []byte) string {
	return base64.StdEncoding.EncodeToString(hmacSHA256(key, []byte(url), body))
}
