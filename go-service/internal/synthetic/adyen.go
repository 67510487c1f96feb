package synthetic

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func init() {
	register(gateway{
		pb:         pb.Gateway_GATEWAY_ADYEN,
		name:       "adyen",
		currencies: []string{"EUR", "EUR", "EUR", "USD", "GBP", "SEK", "CHF", "JPY", "KWD"},
		// Canonical methods, as the normalizer outputs them; the renderer
		// picks the Adyen paymentMethod (a card brand, ideal, googlepay…).
		methods: []string{"card", "card", "card", "ideal", "paypal", "wallet"},
		newID:   func(r *rand.Rand) string { return randomID(r, "", 16, upperAlnum) },
		// Adyen sends no event id; the normalizer builds one from eventCode,
		// pspReference and success, so the step carries none to compare.
		newEventID: func(r *rand.Rand) string { return "" },
		lifecycle:  adyenLifecycle,
		render:     renderAdyen,
	})
}

// adyenLifecycle: every payment starts with AUTHORISATION; a refusal is
// AUTHORISATION "false" alone; Adyen sends no PENDING.
func adyenLifecycle(outcome pb.PaymentStatus) []pb.PaymentStatus {
	auth := pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED
	switch outcome {
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED, pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:
		return []pb.PaymentStatus{outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_CANCELED:
		return []pb.PaymentStatus{auth, outcome}
	case pb.PaymentStatus_PAYMENT_STATUS_REFUNDED, pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED:
		return []pb.PaymentStatus{auth, pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, outcome}
	}
	return []pb.PaymentStatus{auth, pb.PaymentStatus_PAYMENT_STATUS_COMPLETED}
}

var adyenEventCode = map[pb.PaymentStatus]string{
	pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:         "AUTHORISATION",
	pb.PaymentStatus_PAYMENT_STATUS_FAILED:             "AUTHORISATION",
	pb.PaymentStatus_PAYMENT_STATUS_COMPLETED:          "CAPTURE",
	pb.PaymentStatus_PAYMENT_STATUS_CANCELED:           "CANCELLATION",
	pb.PaymentStatus_PAYMENT_STATUS_REFUNDED:           "REFUND",
	pb.PaymentStatus_PAYMENT_STATUS_PARTIALLY_REFUNDED: "REFUND",
}

// adyenBrand is the paymentMethod Adyen would name for a canonical method.
func adyenBrand(p Payment) string {
	switch p.Method {
	case "card":
		brands := []string{"visa", "visa", "mc", "amex", "maestro"}
		return brands[adyenHash(p.ID, "brand")[0]%byte(len(brands))]
	case "wallet":
		return "googlepay"
	}
	return p.Method // ideal, paypal
}

// eventDate zone: Adyen reports in the merchant account's time zone; a fixed
// +01:00 (CET) makes the normalizer's conversion to UTC visible.
var adyenZone = time.FixedZone("CET", 60*60)

func renderAdyen(p Payment, s Step) ([]byte, error) {
	code := adyenEventCode[s.Status]
	item := map[string]any{
		"amount":              map[string]any{"currency": p.Currency, "value": p.Amount},
		"eventCode":           code,
		"eventDate":           s.At.In(adyenZone).Format(time.RFC3339),
		"merchantAccountCode": "AggregatorDemoECOM",
		"merchantReference":   "ORDER-" + p.ID[:8],
		"paymentMethod":       adyenBrand(p),
		"pspReference":        p.ID,
		"reason":              "",
		"success":             "true",
	}
	additional := map[string]string{"hmacSignature": base64.StdEncoding.EncodeToString(adyenHash(p.ID, code, s.At.String()))}
	switch s.Status {
	case pb.PaymentStatus_PAYMENT_STATUS_AUTHORIZED:
		additional["shopperEmail"] = p.Email
		if p.Method == "card" {
			h := adyenHash(p.ID, "card")
			authCode := strconv.Itoa(100000 + int(h[1])<<8 + int(h[2]))
			item["reason"] = authCode + ":1111:03/2030"
			additional["authCode"] = authCode
			additional["cardSummary"] = "1111"
		}
	case pb.PaymentStatus_PAYMENT_STATUS_FAILED:
		additional["shopperEmail"] = p.Email
		item["success"] = "false"
		item["reason"] = s.FailureReason
	default:
		// A modification: its own pspReference, the payment's as originalReference.
		item["originalReference"] = p.ID
		item["pspReference"] = adyenModificationRef(p.ID, code)
	}
	if s.Refunded > 0 {
		// Adyen's REFUND amount is this refund's (the generator sends at most
		// one refund per payment, so it is also the cumulative total); the
		// original amount travels in additionalData for the normalizer.
		item["amount"] = map[string]any{"currency": p.Currency, "value": s.Refunded}
		additional["originalAmountValue"] = strconv.FormatInt(p.Amount, 10)
		additional["originalAmountCurrency"] = p.Currency
	}
	item["additionalData"] = additional
	return json.Marshal(map[string]any{
		"live":              "false",
		"notificationItems": []any{map[string]any{"NotificationRequestItem": item}},
	})
}

// adyenModificationRef is a stable 16-character pspReference for a
// modification of a payment: a re-sent record repeats it, as Adyen would.
func adyenModificationRef(paymentID, code string) string {
	h := adyenHash(paymentID, code)
	b := make([]byte, 16)
	for i := range b {
		b[i] = upperAlnum[int(h[i])%len(upperAlnum)]
	}
	return string(b)
}

func adyenHash(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}
