package style_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/busywork/busywork/internal/style"
)

func TestSheet_ServesTheBaseThenTheOwnRulesAsCSS(t *testing.T) {
	own := ".order { color: red; }\n"
	rec := httptest.NewRecorder()
	style.Sheet([]byte(own)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/static/app.css", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("%d %q, want 200 text/css", rec.Code, rec.Header().Get("Content-Type"))
	}
	base, rest, ok := strings.Cut(string(body), own)
	if !ok || rest != "" || !strings.Contains(base, "--accent:") || !strings.Contains(base, "progress") {
		t.Errorf("the sheet is not the base (colours, progress bars) followed by the own rules:\n%s", body)
	}
}
