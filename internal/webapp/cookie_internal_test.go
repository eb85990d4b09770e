package webapp

import (
	"net/http"
	"testing"
	"time"
)

func TestSessionCookie_IsSecureOnlyBehindHTTPS(t *testing.T) {
	tests := []struct {
		baseURL string
		secure  bool
	}{
		{"http://127.0.0.1:8080", false},
		{"", false},
		{"https://busywork.example.com", true},
		{"HTTPS://busywork.example.com/", true},
	}
	for _, tt := range tests {
		t.Run(tt.baseURL, func(t *testing.T) {
			c := sessionCookie("id", 24*time.Hour, isHTTPS(tt.baseURL))
			if c.Secure != tt.secure {
				t.Errorf("Secure = %v, want %v", c.Secure, tt.secure)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 86400 || c.Name != SessionCookie {
				t.Errorf("cookie %s: want HttpOnly, SameSite=Lax, Path=/, Max-Age=86400", c)
			}
		})
	}
}
