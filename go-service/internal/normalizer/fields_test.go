package normalizer

import (
	"strings"
	"testing"
)

// TestDecode pins what the JSON decoder accepts: keys in any case (as
// encoding/json did), and never a document whose meaning is unclear.
func TestDecode(t *testing.T) {
	type inner struct {
		Amount   number `json:"amount"`
		Currency string `json:"currency"`
	}
	type doc struct {
		ID      string `json:"id"`
		Payload struct {
			Entity inner `json:"entity"`
		} `json:"payload"`
	}
	tests := []struct {
		name, doc string
		wantErr   string // "" means it decodes
		wantCode  Code   // the DLQ code when wantErr is set: malformed_json only for bytes that are not JSON
		wantID    string
	}{
		{name: "plain", doc: `{"id":"pay_1","payload":{"entity":{"amount":100}}}`, wantID: "pay_1"},
		{name: "keys in another case", doc: `{"ID":"pay_1","PayLoad":{"entity":{"amount":100}}}`, wantID: "pay_1"},
		{name: "unknown fields skipped", doc: `{"id":"pay_1","links":[{"rel":"self"}],"x":{"y":null}}`, wantID: "pay_1"},
		{name: "duplicate key", doc: `{"id":"pay_1","id":"pay_2"}`, wantErr: `a field appears twice: duplicate object member name "id"`, wantCode: CodeInvalidField},
		{name: "duplicate amount deep down", doc: `{"payload":{"entity":{"amount":1,"amount":100}}}`, wantErr: "duplicate object member name", wantCode: CodeInvalidField},
		{name: "invalid UTF-8 becomes U+FFFD", doc: "{\"id\":\"pay_\xff\"}", wantID: "pay_\uFFFD"},
		{name: "half a surrogate pair becomes U+FFFD", doc: `{"id":"pay_\ud83d"}`, wantID: "pay_\uFFFD"},
		{name: "underscores are not ignored", doc: `{"id":"pay_1","payload":{"entity":{"amount":1}},"pay_load":{"entity":{"amount":"x"}}}`, wantID: "pay_1"},
		{name: "truncated", doc: `{"id":"pay_1","payload":{`, wantErr: "not valid JSON: unexpected EOF", wantCode: CodeMalformedJSON},
		{name: "not JSON at all", doc: `this is not json`, wantErr: "not valid JSON", wantCode: CodeMalformedJSON},
		{name: "an array, not an object", doc: `[1,2]`, wantErr: "the document has the wrong type", wantCode: CodeInvalidField},
		{name: "amount as a string", doc: `{"payload":{"entity":{"amount":"100"}}}`, wantErr: "field payload.entity.amount has the wrong type: want a number, got string", wantCode: CodeInvalidField},
		{name: "id as a number", doc: `{"id":7}`, wantErr: "field id has the wrong type", wantCode: CodeInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := decode([]byte(tt.doc), &d)
			if tt.wantErr == "" {
				if err != nil || d.ID != tt.wantID {
					t.Fatalf("decode = %v, id %q; want id %q", err, d.ID, tt.wantID)
				}
				return
			}
			if CodeOf(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decode error = %v (code %q); want %s containing %q", err, CodeOf(err), tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	tests := []struct {
		raw  string
		want map[string]string
		bad  bool
	}{
		{raw: ``, want: nil},
		{raw: `null`, want: nil},
		{raw: `[]`, want: nil},
		{raw: `{}`, want: nil},
		{raw: `{"order":"A-1","n":1,"nested":{ "a" : [1, 2] }}`, want: map[string]string{"order": "A-1", "n": "1", "nested": `{"a":[1,2]}`}},
		{raw: `{"note":null,"x":"y"}`, want: map[string]string{"note": "", "x": "y"}},
		{raw: "{\"bad\":\"a\xffb\",\"deep\":[\"c\xffd\"]}", want: map[string]string{"bad": "a\uFFFDb", "deep": "[\"c\uFFFDd\"]"}},
		{raw: `[1]`, bad: true},
		{raw: `"x"`, bad: true},
	}
	for _, tt := range tests {
		got, err := metadata([]byte(tt.raw))
		if tt.bad {
			if CodeOf(err) != CodeInvalidField {
				t.Errorf("metadata(%s) error = %v; want %s", tt.raw, err, CodeInvalidField)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("metadata(%s) = %v, %v; want %v", tt.raw, got, err, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("metadata(%s)[%q] = %q; want %q", tt.raw, k, got[k], v)
			}
		}
	}
}
