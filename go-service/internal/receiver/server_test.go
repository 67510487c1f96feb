package receiver

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type reach struct {
	up  bool
	err error
}

func (r reach) Up() (bool, error) { return r.up, r.err }

func TestReadyzFollowsKafka(t *testing.T) {
	for _, c := range []struct {
		r      reach
		status int
		body   string
	}{
		{reach{true, nil}, 200, "ready"},
		{reach{false, errors.New("kafka unreachable: timed out")}, 503, "not ready: kafka unreachable: timed out"},
		{reach{false, nil}, 503, "not checked yet"},
	} {
		h := HealthHandler(prometheus.NewRegistry(), c.r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%+v: %d %q, want %d %q", c.r, w.Code, w.Body.String(), c.status, c.body)
		}
	}
}
