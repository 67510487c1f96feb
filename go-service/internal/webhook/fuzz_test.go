package webhook

import (
	"net/http"
	"testing"
	"time"
)

// The parsers read what anyone on the internet sends: they must never
// panic, and must never accept what was not signed.

func FuzzStripeHeader(f *testing.F) {
	f.Add("t=1700000000,v1=8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724")
	f.Add("t=1,v1=00,v0=11,v1=zz")
	f.Add(",,=,t=,v1=")
	f.Fuzz(func(t *testing.T, v string) {
		h, err := ParseStripeHeader(v)
		if err == nil && len(h.Signatures) == 0 {
			t.Fatalf("%q parsed with no signature", v)
		}
		s := Stripe{Secrets: [][]byte{[]byte("whsec_fuzz")}, Now: func() time.Time { return time.Unix(h.Timestamp, 0) }}
		if s.Verify(http.Header{StripeSignatureHeader: {v}}, []byte("{}")) == nil {
			t.Fatalf("%q verified without the secret", v)
		}
	})
}

func FuzzAdyenBody(f *testing.F) {
	f.Add([]byte(adyenBody(adyenVectorItem)))
	f.Add([]byte(`{"notificationItems":[{"NotificationRequestItem":null}]}`))
	f.Add([]byte(`{"notificationItems":[{"NotificationRequestItem":{"amount":{"value":1.5}}}]}`))
	keys, _ := AdyenKeys("00112233")
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := ParseAdyen(body)
		if err == nil && len(items) == 0 {
			t.Fatal("parsed with no item")
		}
		for _, it := range items {
			_ = it.SignedString()
		}
		if (Adyen{Keys: keys}).Verify(nil, body) == nil {
			t.Fatalf("%q verified without the key", body)
		}
	})
}

func FuzzPayPalHeaders(f *testing.F) {
	f.Add("tid", "2024-01-01T00:00:00Z", "c2lnbmF0dXJl", "https://api.paypal.com/c", "SHA256withRSA")
	f.Add("a|b", "", "!!", "http://x", "")
	f.Fuzz(func(t *testing.T, id, ts, sig, certURL, algo string) {
		h := http.Header{}
		for k, v := range map[string]string{PayPalTransmissionIDHeader: id, PayPalTransmissionTimeHeader: ts,
			PayPalTransmissionSigHeader: sig, PayPalCertURLHeader: certURL, PayPalAuthAlgoHeader: algo} {
			h.Set(k, v)
		}
		p, err := ParsePayPalHeaders(h)
		if err == nil && (p.TransmissionID == "" || p.CertURL == "" || len(p.Signature) == 0 && sig != "") {
			t.Fatalf("accepted incomplete headers %+v", p)
		}
		if u, err := CheckCertURL(certURL, ""); err == nil && u.Scheme != "https" {
			t.Fatalf("%q allowed without https", certURL)
		}
	})
}
