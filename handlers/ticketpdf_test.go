package handlers_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/png" // pdfcpu hands the QR image back as a PNG
	"strings"
	"sync"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/busywork/busywork/handlers"
)

var ticketKey = []byte("gate key of the test")

var disablePDFConfig sync.Once

// pdfConfig returns a pdfcpu configuration that reads no config folder.
func pdfConfig() *model.Configuration {
	disablePDFConfig.Do(api.DisableConfigDir)
	return model.NewDefaultConfiguration()
}

// readPDF parses and validates doc with pdfcpu, checks that it has
// exactly one page, and returns that page's decoded content stream.
func readPDF(t *testing.T, doc []byte) []byte {
	t.Helper()
	ctx, err := api.ReadAndValidate(bytes.NewReader(doc), pdfConfig())
	if err != nil {
		t.Fatalf("pdfcpu cannot read the PDF: %v", err)
	}
	if ctx.PageCount != 1 {
		t.Fatalf("the PDF has %d pages, want 1", ctx.PageCount)
	}
	page, _, _, err := ctx.PageDict(1, false)
	if err != nil {
		t.Fatalf("page 1: %v", err)
	}
	content, err := ctx.PageContent(page, 1)
	if err != nil {
		t.Fatalf("content of page 1: %v", err)
	}
	return content
}

// shownText reports whether content draws s as one string (fpdf writes
// each line of text as "(line)Tj").
func shownText(content []byte, s string) bool {
	return bytes.Contains(content, []byte("("+s+")Tj"))
}

// qrCodeOf extracts the one image of doc's page and decodes it as a QR
// code.
func qrCodeOf(t *testing.T, doc []byte) string {
	t.Helper()
	images, err := api.ExtractImagesRaw(bytes.NewReader(doc), nil, pdfConfig())
	if err != nil {
		t.Fatalf("extract images: %v", err)
	}
	if len(images) != 1 || len(images[0]) != 1 {
		t.Fatalf("want one image on one page, got %v", images)
	}
	for _, im := range images[0] {
		img, _, err := image.Decode(im)
		if err != nil {
			t.Fatalf("decode image %s (%s): %v", im.Name, im.FileType, err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("the ticket's image is not a readable QR code: %v", err)
		}
		return res.GetText()
	}
	panic("unreachable")
}

func TestRenderTicket_OnePageShowingTheTicketAndAQRCodeOfItsVerificationCode(t *testing.T) {
	tk := handlers.TicketPDF{OrderID: "ord-7f3a", Event: "Gophercon Zurich 2027", Attendee: "ada@example.com", Number: 3, Total: 40}
	doc, err := handlers.RenderTicket(context.Background(), ticketKey, tk)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) > 20<<10 {
		t.Errorf("ticket is %d bytes: a 1000-ticket order is emailed, keep each within 20 KB", len(doc))
	}
	code := handlers.VerificationCode(ticketKey, tk.OrderID, tk.Number)
	content := readPDF(t, doc)
	for _, want := range []string{tk.Event, "Ticket 3 of 40", "Attendee: ada@example.com", "Order: ord-7f3a", code} {
		if !shownText(content, want) {
			t.Errorf("the page does not show %q; content:\n%s", want, content)
		}
	}
	if got := qrCodeOf(t, doc); got != code {
		t.Errorf("QR code holds %q, want the verification code %q", got, code)
	}
}

func TestRenderTicket_LongNonLatinEventStaysOnOnePage(t *testing.T) {
	// 200 bytes, as demo.MaxEventBytes allows: Latin-1 accents (shown),
	// CJK and an emoji (not in the core fonts: replaced), then wide
	// letters that wrap over many lines.
	event := "Zürich Ørsted café — 東京🎫 " + strings.Repeat("W", 200)
	event = event[:200]
	tk := handlers.TicketPDF{OrderID: "ord-long", Event: event, Attendee: "Ådá <ada@example.com>", Number: 1000, Total: 1000}
	doc, err := handlers.RenderTicket(context.Background(), ticketKey, tk)
	if err != nil {
		t.Fatal(err)
	}
	content := readPDF(t, doc)
	if code := handlers.VerificationCode(ticketKey, tk.OrderID, tk.Number); !shownText(content, code) {
		t.Errorf("the code %s is not on the page", code)
	}
	if got, want := qrCodeOf(t, doc), handlers.VerificationCode(ticketKey, tk.OrderID, tk.Number); got != want {
		t.Errorf("QR code holds %q, want %q", got, want)
	}
	// "ü" is written in Windows-1252 (0xFC); what it lacks becomes '.'.
	if !bytes.Contains(content, []byte("(Z\xfcrich \xd8rsted caf\xe9 \x97 ...)Tj")) {
		t.Errorf("event not written in Windows-1252 with replacements; content:\n%s", content)
	}
}

func TestRenderTicket_CancelledContextReturnsItsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	doc, err := handlers.RenderTicket(ctx, ticketKey, handlers.TicketPDF{OrderID: "o", Event: "e", Attendee: "a", Number: 1, Total: 1})
	if !errors.Is(err, context.Canceled) || doc != nil {
		t.Fatalf("RenderTicket(cancelled) = %d bytes, %v; want nil, context.Canceled", len(doc), err)
	}
}

func TestVerificationCode_StableAndDistinctByKeyOrderAndNumber(t *testing.T) {
	base := handlers.VerificationCode(ticketKey, "ord-1", 1)
	if len(base) != 16 || strings.Trim(base, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Fatalf("code %q: want 16 base32 characters", base)
	}
	if again := handlers.VerificationCode(ticketKey, "ord-1", 1); again != base {
		t.Fatalf("code not stable: %q then %q", base, again)
	}
	for _, tc := range []struct {
		name    string
		key     []byte
		orderID string
		n       int
	}{
		{"other number", ticketKey, "ord-1", 2},
		{"other order", ticketKey, "ord-2", 1},
		{"other key", []byte("another gate key"), "ord-1", 1},
		{"order id and number not run together", ticketKey, "ord-", 11},
		{"empty key", nil, "ord-1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := handlers.VerificationCode(tc.key, tc.orderID, tc.n); got == base {
				t.Errorf("VerificationCode(%q, %q, %d) = %q, the same as for ord-1 ticket 1", tc.key, tc.orderID, tc.n, got)
			}
		})
	}
}

// BenchmarkRenderTicket renders ticket 3 of 40 and reports its size.
func BenchmarkRenderTicket(b *testing.B) {
	tk := handlers.TicketPDF{OrderID: "ord-bench", Event: "Gophercon Zurich 2027", Attendee: "ada@example.com", Number: 3, Total: 40}
	var size int
	for b.Loop() {
		doc, err := handlers.RenderTicket(context.Background(), ticketKey, tk)
		if err != nil {
			b.Fatal(err)
		}
		size = len(doc)
	}
	b.ReportMetric(float64(size), "bytes/ticket")
}
