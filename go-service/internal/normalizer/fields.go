package normalizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// decode parses a webhook document into v. Amounts and times are read as
// number, so they are never rounded through float64.
func decode(doc []byte, v any) error {
	if err := json.Unmarshal(doc, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return errorf(CodeMalformedJSON, "field %s has the wrong type: %v", typeErr.Field, err)
		}
		return errorf(CodeMalformedJSON, "not valid JSON: %v", err)
	}
	return nil
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
func metadata(raw json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil && len(list) == 0 {
			return nil, nil
		}
		return nil, errorf(CodeMalformedJSON, "metadata is neither an object nor an empty list")
	}
	if len(obj) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		// Compact, so that the same value reads the same however it was indented.
		var compact bytes.Buffer
		if err := json.Compact(&compact, v); err != nil {
			return nil, errorf(CodeMalformedJSON, "metadata %q: %v", k, err)
		}
		out[k] = compact.String()
	}
	return out, nil
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
// number sent something else, and it goes to the DLQ as malformed_json.
type number string

func (n *number) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		// The decoder has already checked that b is a valid number literal;
		// minorAmount and unixTime decide whether it is a whole int64.
		*n = number(b)
		return nil
	}
	return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[int64]()}
}

// jsonKind names the kind of a JSON value for a wrong-type error.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "empty"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	}
	return "value"
}
