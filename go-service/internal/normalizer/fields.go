package normalizer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// decode parses a webhook document into v. Amounts and times are read as
// number, so they are never rounded through float64. Bytes that are not JSON
// are malformed_json; JSON with a field of the wrong type is invalid_field. A
// document with a key twice is refused: which of two amounts is the payment's?
func decode(doc []byte, v any) error {
	err := json.Unmarshal(doc, v, decodeOptions)
	var semErr *json.SemanticError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jsontext.ErrDuplicateName):
		return errorf(CodeInvalidField, "a field appears twice: %s", strings.TrimPrefix(err.Error(), "jsontext: "))
	case errors.As(err, &semErr) && semErr.JSONPointer != "":
		return errorf(CodeInvalidField, "field %s has the wrong type: %s", fieldPath(semErr.JSONPointer), wrongType(semErr))
	case errors.As(err, &semErr):
		return errorf(CodeInvalidField, "the document has the wrong type: %s", wrongType(semErr))
	}
	return errorf(CodeMalformedJSON, "not valid JSON: %s", strings.TrimPrefix(err.Error(), "jsontext: "))
}

// decodeOptions keep what encoding/json, which gateways' documents are
// written against, accepted: keys match fields whatever their case (but
// "created_at" is not "createdAt"), and a string with bytes that are not
// UTF-8, or half of a surrogate pair (a description cut in the middle of an
// emoji), reads with U+FFFD in their place instead of failing the payment.
var decodeOptions = json.JoinOptions(
	json.MatchCaseInsensitiveNames(true),
	jsonv1.MatchCaseSensitiveDelimiter(true),
	jsontext.AllowInvalidUTF8(true),
)

// fieldPath turns a JSON pointer (/payload/payment/entity/amount) into the
// dotted path the gateways' docs use (payload.payment.entity.amount).
func fieldPath(p jsontext.Pointer) string {
	return strings.ReplaceAll(strings.TrimPrefix(string(p), "/"), "/", ".")
}

func wrongType(e *json.SemanticError) string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("want %v, got %s", e.GoType, jsonKind(e.JSONKind))
}

func require(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return errorf(CodeMissingField, "%s is missing", field)
	}
	return nil
}

// unixTime converts a Unix-seconds field (Stripe, Razorpay). Zero means absent.
func unixTime(field string, n number) (*timestamppb.Timestamp, error) {
	if n == "" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || sec < 0 || sec > 253402300799 { // 9999-12-31
		return nil, errorf(CodeInvalidTime, "%s %q is not a Unix time in seconds", field, n)
	}
	if sec == 0 {
		return nil, nil
	}
	return timestamppb.New(time.Unix(sec, 0).UTC()), nil
}

// rfc3339Time converts an RFC 3339 timestamp with any offset to UTC (PayPal,
// Adyen, Square). Empty means absent.
func rfc3339Time(field, s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, errorf(CodeInvalidTime, "%s %q is not an RFC 3339 time", field, s)
	}
	return timestamppb.New(t.UTC()), nil
}

// metadata flattens a gateway's free-form key/value object into strings.
// Nested values are kept as their JSON text. Razorpay sends an empty list
// ([]) when there are no notes, so an array with nothing in it is no metadata.
func metadata(raw jsontext.Value) (map[string]string, error) {
	switch raw.Kind() {
	case 0, 'n':
		return nil, nil
	case '[':
		var list []jsontext.Value
		if json.Unmarshal(raw, &list, decodeOptions) == nil && len(list) == 0 {
			return nil, nil
		}
	case '{':
		var obj map[string]jsontext.Value
		if err := json.Unmarshal(raw, &obj, decodeOptions); err != nil {
			return nil, errorf(CodeInvalidField, "metadata: %v", err)
		}
		if len(obj) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(obj))
		for k, v := range obj {
			switch v.Kind() {
			case 'n': // a note set to null is an empty note
				out[k] = ""
			case '"':
				var s string
				if err := json.Unmarshal(v, &s, decodeOptions); err != nil {
					return nil, errorf(CodeInvalidField, "metadata %q: %v", k, err)
				}
				out[k] = s
			default:
				// Compact, so that the same value reads the same however it was indented.
				if err := v.Compact(); err != nil {
					return nil, errorf(CodeInvalidField, "metadata %q: %v", k, err)
				}
				out[k] = strings.ToValidUTF8(string(v), "\uFFFD")
			}
		}
		return out, nil
	}
	return nil, errorf(CodeInvalidField, "metadata is neither an object nor an empty list")
}

// lower normalizes a payment method name: "UPI" and "upi" are one method.
func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// unsupported is the error for an event type a normalizer does not know.
func unsupported(gateway, eventType string) error {
	if eventType == "" {
		return errorf(CodeMissingField, "%s event type is missing", gateway)
	}
	return errorf(CodeUnsupportedEvent, "%s event type %q is not supported", gateway, eventType)
}

// ignored wraps ErrIgnored with the event type, for the skip counter's logs.
func ignored(gateway, eventType string) error {
	return fmt.Errorf("%s %s: %w", gateway, eventType, ErrIgnored)
}

// number is a JSON number kept as its exact text. Unlike json.Number it
// refuses a quoted "100": a gateway that sends a string where its API has a
// number sent something else, and it goes to the DLQ as invalid_field.
type number string

func (n *number) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		return nil
	case '0':
		// The decoder has already checked that v is a valid number literal;
		// minorAmount and unixTime decide whether it is a whole int64.
		*n = number(v)
		return nil
	}
	return fmt.Errorf("want a number, got %s", jsonKind(v.Kind()))
}

// jsonKind names the kind of a JSON value for a wrong-type error.
func jsonKind(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "nothing"
}
