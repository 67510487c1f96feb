package webhook_test

import (
	"errors"
	"testing"

	"learner.example/go-service/internal/webhook"
)

// check08xBody and check08xSignature are a known pair, computed outside Go:
//
//	printf '%s' "$body" | openssl dgst -sha256 -hmac rzp_whsec_check08x -hex
const (
	check08xBody      = `{"entity":"event","account_id":"acc_check8x","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_check8x","amount":99900,"currency":"INR","status":"captured"}}},"created_at":1767225600}`
	check08xSecret    = "rzp_whsec_check08x"
	check08xSignature = "d1119d7d795ddfbfe6ff33741086b72da140aaf26535fdf705fc0d96777a3f1f"
)

func TestCheck08RazorpaySignsLikeRazorpay(t *testing.T) {
	if got := webhook.SignRazorpay([]byte(check08xBody), check08xSecret); got != check08xSignature {
		t.Errorf("SignRazorpay(body, secret) = %q, want %q: the lower-case hex HMAC-SHA256 of the exact body, keyed with the secret (no timestamp, no prefix)", got, check08xSignature)
	}
	if err := webhook.VerifyRazorpay(check08xSignature, []byte(check08xBody), check08xSecret); err != nil {
		t.Errorf("VerifyRazorpay rejected Razorpay's own signature of the body: %v", err)
	}
}

func TestCheck08RazorpayRotatedSecrets(t *testing.T) {
	body := []byte(check08xBody)
	old := webhook.SignRazorpay(body, "rzp_whsec_old")
	if err := webhook.VerifyRazorpay(old, body, check08xSecret, "rzp_whsec_old"); err != nil {
		t.Errorf("VerifyRazorpay(sig, body, new, old) rejected the old secret's signature: %v; while a secret is rotated, Razorpay's retries keep the old one's, so try every secret given", err)
	}
	if err := webhook.VerifyRazorpay(check08xSignature, body, "rzp_whsec_old", check08xSecret); err != nil {
		t.Errorf("VerifyRazorpay(sig, body, old, new) rejected the new secret's signature: %v; a secret that does not match must not stop the others being tried", err)
	}
}

func TestCheck08RazorpayRefusesForgeries(t *testing.T) {
	body := []byte(check08xBody)
	changed := []byte(check08xBody[:len(check08xBody)-1] + "1")
	for _, c := range []struct {
		name      string
		signature string
		body      []byte
		secrets   []string
	}{
		{"another secret's signature", webhook.SignRazorpay(body, "rzp_whsec_other"), body, []string{check08xSecret}},
		{"a body with one byte changed", check08xSignature, changed, []string{check08xSecret}},
		{"no X-Razorpay-Signature header", "", body, []string{check08xSecret}},
		{"a header that is not hex", "zz" + check08xSignature[2:], body, []string{check08xSecret}},
		{"a signature cut short", check08xSignature[:40], body, []string{check08xSecret}},
		{"a signature made with an empty secret, checked with an empty secret", webhook.SignRazorpay(body, ""), body, []string{""}},
		{"no secret configured", check08xSignature, body, nil},
	} {
		err := webhook.VerifyRazorpay(c.signature, c.body, c.secrets...)
		if err == nil {
			t.Errorf("VerifyRazorpay accepted %s", c.name)
			continue
		}
		if !errors.Is(err, webhook.ErrBadSignature) {
			t.Errorf("VerifyRazorpay(%s) returned %v; want an error that errors.Is matches with ErrBadSignature (wrap it with %%w)", c.name, err)
		}
	}
}
