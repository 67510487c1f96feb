package webhook

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The expected values below were computed outside Go with openssl
// (`openssl dgst -sha256 -hmac …`), or are the gateways' published vectors.
const stripeBody = `{"id":"evt_test","object":"event"}`

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func wantReason(t *testing.T, err error, want Reason) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted, want refusal %s", want)
	}
	if got := ReasonOf(err); got != want {
		t.Fatalf("reason %s (%v), want %s", got, err, want)
	}
}

func TestStripe(t *testing.T) {
	at := time.Unix(1700000000, 0)
	vector := "8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724"
	secret := []byte("whsec_test_secret")
	fresh := func(d time.Duration) func() time.Time { return func() time.Time { return at.Add(d) } }
	cases := []struct {
		name    string
		secrets [][]byte
		sig     string
		body    string
		now     func() time.Time
		want    Reason
	}{
		{"openssl vector", [][]byte{secret}, "t=1700000000,v1=" + vector, stripeBody, fresh(0), ""},
		{"signer agrees", [][]byte{secret}, SignStripe([]byte(stripeBody), at, secret), stripeBody, fresh(0), ""},
		{"second v1 matches (Stripe rolling its secret)", [][]byte{secret}, "t=1700000000,v1=" + strings.Repeat("00", 32) + ",v1=" + vector, stripeBody, fresh(0), ""},
		{"rotated: second configured secret", [][]byte{[]byte("whsec_new"), secret}, "t=1700000000,v1=" + vector, stripeBody, fresh(0), ""},
		{"v0 ignored", [][]byte{secret}, "t=1700000000,v0=" + vector, stripeBody, fresh(0), ReasonMalformed},
		{"tampered body", [][]byte{secret}, "t=1700000000,v1=" + vector, stripeBody + " ", fresh(0), ReasonBadSignature},
		{"wrong secret", [][]byte{[]byte("whsec_other")}, "t=1700000000,v1=" + vector, stripeBody, fresh(0), ReasonBadSignature},
		{"timestamp changed", [][]byte{secret}, "t=1700000001,v1=" + vector, stripeBody, fresh(0), ReasonBadSignature},
		{"within tolerance", [][]byte{secret}, "t=1700000000,v1=" + vector, stripeBody, fresh(299 * time.Second), ""},
		{"stale", [][]byte{secret}, "t=1700000000,v1=" + vector, stripeBody, fresh(301 * time.Second), ReasonStaleTimestamp},
		{"too far in the future", [][]byte{secret}, "t=1700000000,v1=" + vector, stripeBody, fresh(-301 * time.Second), ReasonFutureTimestamp},
		{"missing header", [][]byte{secret}, "", stripeBody, fresh(0), ReasonMissingSignature},
		{"no timestamp", [][]byte{secret}, "v1=" + vector, stripeBody, fresh(0), ReasonMalformed},
		{"bad timestamp", [][]byte{secret}, "t=soon,v1=" + vector, stripeBody, fresh(0), ReasonMalformed},
		{"no secret configured", nil, "t=1700000000,v1=" + vector, stripeBody, fresh(0), ReasonBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.sig != "" {
				h.Set(StripeSignatureHeader, c.sig)
			}
			err := Stripe{Secrets: c.secrets, Tolerance: 300 * time.Second, Now: c.now}.Verify(h, []byte(c.body))
			wantReason(t, err, c.want)
		})
	}
}

func TestStripeToleranceIsASetting(t *testing.T) {
	at := time.Unix(1700000000, 0)
	secret := []byte("s")
	sig := SignStripe([]byte(stripeBody), at, secret)
	v := Stripe{Secrets: [][]byte{secret}, Tolerance: 10 * time.Second, Now: func() time.Time { return at.Add(11 * time.Second) }}
	wantReason(t, v.Verify(header(StripeSignatureHeader, sig), []byte(stripeBody)), ReasonStaleTimestamp)
}

func TestRazorpay(t *testing.T) {
	vector := "f319873a9e24a2c408a984b05d9283b61f10b9567aa72bd2b51c5b04944e315e"
	secret := []byte("razorpay_secret")
	cases := []struct {
		name    string
		secrets [][]byte
		sig     string
		body    string
		want    Reason
	}{
		{"openssl vector", [][]byte{secret}, vector, stripeBody, ""},
		{"signer agrees", [][]byte{secret}, SignRazorpay([]byte(stripeBody), secret), stripeBody, ""},
		{"old secret still listed (retries of older events)", [][]byte{[]byte("new"), secret}, vector, stripeBody, ""},
		{"tampered body", [][]byte{secret}, vector, `{"id":"evt_test","object":"Event"}`, ReasonBadSignature},
		{"wrong secret", [][]byte{[]byte("other")}, vector, stripeBody, ReasonBadSignature},
		{"missing", [][]byte{secret}, "", stripeBody, ReasonMissingSignature},
		{"not hex", [][]byte{secret}, "zz" + vector[2:], stripeBody, ReasonMalformed},
		{"truncated", [][]byte{secret}, vector[:62], stripeBody, ReasonBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.sig != "" {
				h.Set(RazorpaySignatureHeader, c.sig)
			}
			wantReason(t, Razorpay{Secrets: c.secrets}.Verify(h, []byte(c.body)), c.want)
		})
	}
}

func TestSquare(t *testing.T) {
	// square/square-go-sdk webhooks/client/verify_signature_test.go
	body := `{"data":{"type":"webhooks","id":"fake_id"}}`
	url := "https://webhook.site/webhooks"
	vector := "W3FlCNk5IA3ZQ2LHTWoajvzfaDu/OwY2tNHIHC3IUOA="
	key := []byte("signature-key")
	cases := []struct {
		name string
		keys [][]byte
		url  string
		sig  string
		body string
		want Reason
	}{
		{"Square's vector", [][]byte{key}, url, vector, body, ""},
		{"signer agrees", [][]byte{key}, url, SignSquare([]byte(body), url, key), body, ""},
		{"rotated key", [][]byte{[]byte("new-key"), key}, url, vector, body, ""},
		{"URL not as registered", [][]byte{key}, url + "/", vector, body, ReasonBadSignature},
		{"tampered body", [][]byte{key}, url, vector, strings.Replace(body, "fake_id", "fake_iD", 1), ReasonBadSignature},
		{"wrong key", [][]byte{[]byte("other")}, url, vector, body, ReasonBadSignature},
		{"missing", [][]byte{key}, url, "", body, ReasonMissingSignature},
		{"empty body", [][]byte{key}, url, SignSquare(nil, url, key), "", ReasonMalformed},
		{"not base64", [][]byte{key}, url, "!!" + vector, body, ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.sig != "" {
				h.Set(SquareSignatureHeader, c.sig)
			}
			wantReason(t, Square{Keys: c.keys, URL: c.url}.Verify(h, []byte(c.body)), c.want)
		})
	}
}

const adyenHexKey = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"

func TestAdyenPublishedVector(t *testing.T) {
	// Adyen/adyen-go-api-library src/hmacvalidator/hmacvalidator_test.go
	value := int64(1000)
	it := AdyenItem{PspReference: "pspReference", OriginalReference: "originalReference",
		MerchantAccountCode: "merchantAccount", MerchantReference: "reference", EventCode: "EVENT", Success: "true"}
	it.Amount.Value, it.Amount.Currency = &value, "EUR"
	if got, want := it.SignedString(), "pspReference:originalReference:merchantAccount:reference:1000:EUR:EVENT:true"; got != want {
		t.Fatalf("signed string %q, want %q", got, want)
	}
	keys, err := AdyenKeys(adyenHexKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := AdyenSignature(it, keys[0]), "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func adyenBody(items ...string) string {
	var parts []string
	for _, it := range items {
		parts = append(parts, `{"NotificationRequestItem":`+it+`}`)
	}
	return `{"live":"false","notificationItems":[` + strings.Join(parts, ",") + `]}`
}

// The published vector's fields inside a real body, with its signature.
const adyenVectorItem = `{"additionalData":{"hmacSignature":"ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="},"amount":{"currency":"EUR","value":1000},"eventCode":"EVENT","merchantAccountCode":"merchantAccount","merchantReference":"reference","originalReference":"originalReference","pspReference":"pspReference","success":"true"}`

func TestAdyen(t *testing.T) {
	keys, _ := AdyenKeys(adyenHexKey)
	other, _ := AdyenKeys("00112233")
	second := strings.Replace(adyenVectorItem, `"value":1000`, `"value":2000`, 1)
	signedSecond, err := SignAdyen([]byte(adyenBody(second)), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		keys [][]byte
		body string
		want Reason
	}{
		{"published vector in a body", keys, adyenBody(adyenVectorItem), ""},
		{"signer agrees", keys, string(signedSecond), ""},
		{"rotated key", append(other, keys...), adyenBody(adyenVectorItem), ""},
		{"wrong key", other, adyenBody(adyenVectorItem), ReasonBadSignature},
		{"signed field changed", keys, adyenBody(second), ReasonBadSignature},
		{"second item unsigned", keys, adyenBody(adyenVectorItem, strings.Replace(adyenVectorItem, `"hmacSignature":"ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="`, `"x":"y"`, 1)), ReasonMissingSignature},
		{"second item forged", keys, adyenBody(adyenVectorItem, second), ReasonBadSignature},
		{"no items", keys, `{"live":"false","notificationItems":[]}`, ReasonMalformed},
		{"not JSON", keys, `not json`, ReasonMalformed},
		{"field given twice (which one would the normalizer read?)", keys, adyenBody(strings.Replace(adyenVectorItem, `"eventCode":"EVENT"`, `"eventCode":"EVENT","eventCode":"REFUND"`, 1)), ReasonMalformed},
		{"field given twice in another case", keys, adyenBody(strings.Replace(adyenVectorItem, `"eventCode":"EVENT"`, `"eventCode":"EVENT","EVENTCODE":"REFUND"`, 1)), ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantReason(t, Adyen{Keys: c.keys}.Verify(nil, []byte(c.body)), c.want)
		})
	}
}

func TestAdyenKeysMustBeHex(t *testing.T) {
	if _, err := AdyenKeys("not-hex"); err == nil {
		t.Fatal("a key that is not hex was accepted")
	}
	keys, err := AdyenKeys(" " + adyenHexKey + " , 0011 ")
	if err != nil || len(keys) != 2 || hex.EncodeToString(keys[1]) != "0011" {
		t.Fatalf("keys %x, %v", keys, err)
	}
}

func TestSecretsList(t *testing.T) {
	got := Secrets(" a, ,b ,")
	if len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("Secrets = %q", got)
	}
}
