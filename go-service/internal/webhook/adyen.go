package webhook

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Adyen verifies a Standard webhook: every NotificationRequestItem carries
// its own additionalData.hmacSignature, the Base64 HMAC-SHA256, keyed with
// the hex-decoded HMAC key, of
// pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success
// (absent fields are empty). Adyen signs these parsed fields, not the body,
// so the body is read here the way the normalizer reads it: a field the
// signature does not cover cannot be swapped for one it does.
type Adyen struct {
	Keys [][]byte // hex-decoded; see AdyenKeys
}

// AdyenKeys parses a comma-separated list of hex HMAC keys.
func AdyenKeys(list string) ([][]byte, error) {
	var keys [][]byte
	for i, s := range Secrets(list) {
		k, err := hex.DecodeString(string(s))
		if err != nil || len(k) == 0 {
			return nil, fmt.Errorf("key %d of the list is not hex (Adyen shows the HMAC key as hex digits)", i+1)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// AdyenItem is what one NotificationRequestItem's signature covers.
type AdyenItem struct {
	PspReference        string `json:"pspReference"`
	OriginalReference   string `json:"originalReference"`
	MerchantAccountCode string `json:"merchantAccountCode"`
	MerchantReference   string `json:"merchantReference"`
	Amount              struct {
		Value    *int64 `json:"value"`
		Currency string `json:"currency"`
	} `json:"amount"`
	EventCode      string `json:"eventCode"`
	Success        string `json:"success"`
	AdditionalData struct {
		HmacSignature string `json:"hmacSignature"`
	} `json:"additionalData"`
}

// adyenDecode reads like the normalizer (internal/normalizer decodeOptions):
// names match whatever their case, and a name given twice is refused.
var adyenDecode = json.JoinOptions(
	json.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
	jsontext.AllowInvalidUTF8(true),
)

// ParseAdyen returns the items of a Standard webhook body; a body with no
// item is an error.
func ParseAdyen(body []byte) ([]AdyenItem, error) {
	var doc struct {
		NotificationItems []struct {
			Item *AdyenItem `json:"NotificationRequestItem"`
		} `json:"notificationItems"`
	}
	if err := json.Unmarshal(body, &doc, adyenDecode); err != nil {
		return nil, refuse(ReasonMalformed, "body is not an Adyen notification: %v", err)
	}
	if len(doc.NotificationItems) == 0 {
		return nil, refuse(ReasonMalformed, "body has no notificationItems")
	}
	items := make([]AdyenItem, 0, len(doc.NotificationItems))
	for i, n := range doc.NotificationItems {
		if n.Item == nil {
			return nil, refuse(ReasonMalformed, "notificationItems[%d] has no NotificationRequestItem", i)
		}
		items = append(items, *n.Item)
	}
	return items, nil
}

// SignedString is the text the item's signature covers.
func (it AdyenItem) SignedString() string {
	value := ""
	if it.Amount.Value != nil {
		value = strconv.FormatInt(*it.Amount.Value, 10)
	}
	return strings.Join([]string{it.PspReference, it.OriginalReference, it.MerchantAccountCode,
		it.MerchantReference, value, it.Amount.Currency, it.EventCode, it.Success}, ":")
}

// Verify checks that every item carries a signature one of the keys gives.
func (a Adyen) Verify(_ http.Header, body []byte) error {
	items, err := ParseAdyen(body)
	if err != nil {
		return err
	}
	for i, it := range items {
		v := it.AdditionalData.HmacSignature
		if v == "" {
			return refuse(ReasonMissingSignature, "notificationItems[%d] has no additionalData.hmacSignature", i)
		}
		sig, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return refuse(ReasonMalformed, "notificationItems[%d]: hmacSignature is not Base64", i)
		}
		if !anyMatches(a.Keys, sig, []byte(it.SignedString())) {
			return refuse(ReasonBadSignature, "notificationItems[%d]: hmacSignature does not match a configured ADYEN_HMAC_KEY", i)
		}
	}
	return nil
}

// AdyenSignature is the hmacSignature of one item under a hex-decoded key.
func AdyenSignature(it AdyenItem, key []byte) string {
	return base64.StdEncoding.EncodeToString(hmacSHA256(key, []byte(it.SignedString())))
}

// SignAdyen returns body with every item's additionalData.hmacSignature set
// as Adyen would sign it. The result is re-encoded JSON: what Adyen signs
// is the fields, so the bytes around them are free.
func SignAdyen(body []byte, key []byte) ([]byte, error) {
	items, err := ParseAdyen(body)
	if err != nil {
		return nil, err
	}
	var doc map[string]jsontext.Value
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	var raw []map[string]map[string]jsontext.Value
	if err := json.Unmarshal(doc["notificationItems"], &raw); err != nil {
		return nil, fmt.Errorf("notificationItems: %w", err)
	}
	for i := range raw {
		item := raw[i]["NotificationRequestItem"]
		additional := map[string]jsontext.Value{}
		if ad, ok := item["additionalData"]; ok {
			if err := json.Unmarshal(ad, &additional); err != nil {
				return nil, fmt.Errorf("notificationItems[%d].additionalData: %w", i, err)
			}
		}
		sig, _ := json.Marshal(AdyenSignature(items[i], key))
		additional["hmacSignature"] = sig
		if item["additionalData"], err = json.Marshal(additional, json.Deterministic(true)); err != nil {
			return nil, err
		}
	}
	if doc["notificationItems"], err = json.Marshal(raw, json.Deterministic(true)); err != nil {
		return nil, err
	}
	return json.Marshal(doc, json.Deterministic(true))
}
