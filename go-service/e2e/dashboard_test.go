package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// DASHBOARD_ADDR set and empty turns the dashboard off (every other test's
// server runs so); set to an address, the binary serves the page there.
// The page itself is tested in a browser (make test-browser).
func TestDashboardSetting(t *testing.T) {
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	off := startServer(t, tt)
	if strings.Contains(off.out.String(), "Dashboard on") {
		t.Errorf("DASHBOARD_ADDR= still started the dashboard:\n%s", off.out.String())
	}
	off.stop(t)

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	on := startServer(t, tt, "DASHBOARD_ADDR="+addr, "GRPC_AUTH_TOKEN=e2e-dashboard-token")
	defer on.stop(t)
	if want := "Dashboard on http://" + addr + "/"; !strings.Contains(on.out.String(), want) {
		t.Errorf("no line %q:\n%s", want, on.out.String())
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "app.js") {
		t.Errorf("GET /: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(string(page), "e2e-dashboard-token") {
		t.Error("the served page carries the token")
	}
}
