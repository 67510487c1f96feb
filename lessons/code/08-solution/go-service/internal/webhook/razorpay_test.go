package webhook

import (
	"errors"
	"testing"
)

// razorpayBody and razorpaySignature are a known pair, computed outside Go:
//
//	printf '%s' "$body" | openssl dgst -sha256 -hmac rzp_whsec_test -hex
const (
	razorpayBody      = `{"entity":"event","event":"payment.captured","payload":{"payment":{"entity":{"id":"pay_1","amount":99900,"currency":"INR"}}}}`
	razorpaySignature = "346ec9882daa3e085c90ad635a8aeb3235a297c5a2d1feb35bb3db2888a31786"
)

func TestVerifyRazorpay(t *testing.T) {
	body := []byte(razorpayBody)
	tests := []struct {
		name      string
		signature string
		body      []byte
		secrets   []string
		ok        bool
	}{
		{"the known signature", razorpaySignature, body, []string{"rzp_whsec_test"}, true},
		{"what SignRazorpay makes", SignRazorpay(body, "rzp_whsec_test"), body, []string{"rzp_whsec_test"}, true},
		{"the old secret while it is rotated", SignRazorpay(body, "rzp_whsec_old"), body, []string{"rzp_whsec_test", "rzp_whsec_old"}, true},
		{"another secret", SignRazorpay(body, "rzp_whsec_other"), body, []string{"rzp_whsec_test"}, false},
		{"one byte changed", razorpaySignature, []byte(razorpayBody[:len(razorpayBody)-2] + " }"), []string{"rzp_whsec_test"}, false},
		{"no header", "", body, []string{"rzp_whsec_test"}, false},
		{"not hex", "not-a-signature", body, []string{"rzp_whsec_test"}, false},
		{"cut short", razorpaySignature[:32], body, []string{"rzp_whsec_test"}, false},
		{"an empty secret", SignRazorpay(body, ""), body, []string{""}, false},
		{"no secret at all", razorpaySignature, body, nil, false},
	}
	for _, tt := range tests {
		err := VerifyRazorpay(tt.signature, tt.body, tt.secrets...)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: got %v, want ErrBadSignature", tt.name, err)
		}
	}
}
