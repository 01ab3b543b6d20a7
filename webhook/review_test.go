package webhook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/setwarden/setwarden/internal/server"
)

func TestReviewHandlerAnswersABodyOverTheLimit413(t *testing.T) {
	// A chunked body (length unknown) passes LimitBody's length check and
	// runs over the limit only while the review handler reads it.
	req := httptest.NewRequest(http.MethodPost, ValidatePath, strings.NewReader("0123456789a"))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	server.LimitBody(&ReviewHandler{}, 10).ServeHTTP(rec, req)
	want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Request entity too large: the admission request body is over the 10-byte limit (--max-request-bytes)","reason":"RequestEntityTooLarge","code":413}`
	if rec.Code != http.StatusRequestEntityTooLarge || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("answer %d %s\nwant 413 %s", rec.Code, rec.Body.String(), want)
	}
}
