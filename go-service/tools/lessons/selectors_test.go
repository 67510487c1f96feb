package lessons

import (
	"strings"
	"testing"
)

func TestSelectors(t *testing.T) {
	tests := []struct {
		path, selector, first, last string
	}{
		{"proto/payment.proto", "Money", "// Money is an exact amount", "}"},
		{"proto/payment.proto", "Gateway", "// Gateway is where a payment was made", "}"},
		{"go-service/go.mod", "/^tool \\(/", "tool (", ")"},
		{"go-service/internal/kafka/offsets.go", "OffsetTracker.Done", "// Done records that offset is fully handled", "}"},
		{"node-service/src/money.ts", "toDecimal", "// toDecimal writes minor units", "}"},
	}
	for _, tc := range tests {
		got, err := excerpt(tc.path, tc.selector)
		if err != nil {
			t.Errorf("%s#%s: %v", tc.path, tc.selector, err)
			continue
		}
		lines := strings.Split(got, "\n")
		if !strings.HasPrefix(lines[0], tc.first) || lines[len(lines)-1] != tc.last {
			t.Errorf("%s#%s = first %q … last %q", tc.path, tc.selector, lines[0], lines[len(lines)-1])
		}
	}
}
