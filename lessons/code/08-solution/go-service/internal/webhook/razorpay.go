package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// SignRazorpay makes an X-Razorpay-Signature header for body, as Razorpay
// does: the hex HMAC-SHA256 of the exact bytes, keyed with the webhook secret.
func SignRazorpay(body []byte, secret string) string {
	return hex.EncodeToString(razorpayMAC(body, secret))
}

func razorpayMAC(body []byte, secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifyRazorpay checks an X-Razorpay-Signature header against the exact
// bytes received. Razorpay signs no timestamp, so there is no tolerance to
// check: a replayed webhook repeats its event id, which a later stage drops.
// Several secrets may be given while one is being rotated (Razorpay's
// retries of older events keep the old secret's signature); every one is
// tried, each compare in constant time. An empty secret verifies nothing:
// anyone can compute a MAC with an empty key.
func VerifyRazorpay(signature string, body []byte, secrets ...string) error {
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: X-Razorpay-Signature is not a hex HMAC-SHA256", ErrBadSignature)
	}
	matched := false
	for _, secret := range secrets {
		if secret != "" && hmac.Equal(got, razorpayMAC(body, secret)) {
			matched = true
		}
	}
	if !matched {
		return fmt.Errorf("%w: no secret matches", ErrBadSignature)
	}
	return nil
}
