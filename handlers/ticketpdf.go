package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"image/png"
	"sync"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"
)

// TicketPDF is what one ticket shows.
type TicketPDF struct {
	// OrderID is the order the ticket belongs to.
	OrderID string
	// Event is the event's name.
	Event string
	// Attendee is who the ticket is for (the buyer's address).
	Attendee string
	// Number is the ticket's number in its order, from 1 to Total.
	Number int
	// Total is how many tickets the order holds.
	Total int
}

// verificationCodeBytes is how much of the HMAC a verification code keeps:
// 80 bits, 16 base32 characters.
const verificationCodeBytes = 10

// VerificationCode returns the code the ticket's QR code holds:
// deterministic from key, order id and number, so a gate can check a
// ticket offline with the key. It is the first 10 bytes of
// HMAC-SHA256(key, orderID followed by n as 8 big-endian bytes), in
// base32 (RFC 4648, upper case, no padding): 16 characters of A-Z and 2-7,
// which QR codes store in their compact alphanumeric mode.
func VerificationCode(key []byte, orderID string, n int) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(orderID))
	mac.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
	sum := mac.Sum(nil)[:verificationCodeBytes]
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum)
}

// The ticket's page, in millimetres: A6 portrait, taller when its text
// needs it.
const (
	ticketPageW  = 105.0
	ticketPageH  = 148.0
	ticketMargin = 10.0
	ticketQRSize = 45.0
	// qrModulePixels is the width of one QR module in the embedded PNG:
	// enough for any viewer, small enough to keep the file small.
	qrModulePixels = 4
)

// RenderTicket renders t as a one-page PDF: event, attendee, "Ticket n of
// N", the order id, a QR code of VerificationCode(key, t.OrderID,
// t.Number) and that code printed under it. It uses only the PDF core
// fonts (nothing is embedded but the QR image, so a ticket is a few KB);
// text is written in Windows-1252, and a character that encoding lacks is
// shown as '.'. It honours ctx: when ctx ends before the PDF is done it
// returns ctx.Err().
func RenderTicket(ctx context.Context, key []byte, t TicketPDF) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	code := VerificationCode(key, t.OrderID, t.Number)
	qr, err := qrcode.New(code, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("render ticket: QR code: %w", err)
	}
	var qrPNG bytes.Buffer
	if err := qrEncoder.Encode(&qrPNG, qr.Image(-qrModulePixels)); err != nil {
		return nil, fmt.Errorf("render ticket: QR code: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// Lay the ticket out once on a page long enough for any text to learn
	// its height, then for real on a page of that height: one page always.
	measure := newTicketDoc(ticketPageW * 10)
	text := ticketLines(measure, t, code)
	height := drawTicket(measure, text, nil)
	pdf := newTicketDoc(max(ticketPageH, height+ticketMargin))
	drawTicket(pdf, text, qrPNG.Bytes())
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("render ticket %d of order %s: %w", t.Number, t.OrderID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// newTicketDoc returns a document of one page height millimetres tall.
func newTicketDoc(height float64) *fpdf.Fpdf {
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: fpdf.SizeType{Wd: ticketPageW, Ht: height}})
	pdf.SetMargins(ticketMargin, ticketMargin, ticketMargin)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddPage()
	return pdf
}

// ticketText is a ticket's text in the core fonts' encoding.
type ticketText struct {
	event, title, attendee, order, code string
}

// ticketLines returns t's text in Windows-1252, the encoding of the core
// fonts, with what it lacks replaced by '.'. The translator comes from
// pdf but keeps a buffer of its own: one per render, so that concurrent
// renders share nothing.
func ticketLines(pdf *fpdf.Fpdf, t TicketPDF, code string) ticketText {
	latin := pdf.UnicodeTranslatorFromDescriptor("")
	return ticketText{
		event:    latin(t.Event),
		title:    fmt.Sprintf("Ticket %d of %d", t.Number, t.Total),
		attendee: latin("Attendee: " + t.Attendee),
		order:    latin("Order: " + t.OrderID),
		code:     code,
	}
}

// drawTicket draws text on pdf's page, with the QR code's PNG (none when
// png is nil, to measure), and returns where the ticket ends.
func drawTicket(pdf *fpdf.Fpdf, text ticketText, png []byte) float64 {
	pdf.SetTitle(text.title, false)
	width := ticketPageW - 2*ticketMargin

	pdf.SetFont("Helvetica", "B", 16)
	pdf.MultiCell(width, 7, text.event, "", "L", false)
	pdf.Ln(3)
	pdf.SetFont("Helvetica", "B", 13)
	pdf.CellFormat(width, 7, text.title, "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	pdf.MultiCell(width, 5, text.attendee, "", "L", false)
	pdf.MultiCell(width, 5, text.order, "", "L", false)
	pdf.Ln(4)

	y := pdf.GetY()
	if png != nil {
		opts := fpdf.ImageOptions{ImageType: "PNG"}
		pdf.RegisterImageOptionsReader("qr", opts, bytes.NewReader(png))
		pdf.ImageOptions("qr", (ticketPageW-ticketQRSize)/2, y, ticketQRSize, ticketQRSize, false, opts, 0, "")
	}
	pdf.SetXY(ticketMargin, y+ticketQRSize+2)
	pdf.SetFont("Courier", "B", 12)
	pdf.CellFormat(width, 6, text.code, "", 1, "C", false, 0, "")
	return pdf.GetY()
}

// qrEncoder writes QR images as PNG: fast compression (a QR image is a
// few hundred bytes either way), with its buffers reused across renders.
var qrEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}}

// pngBuffers is a png.EncoderBufferPool on a sync.Pool.
type pngBuffers struct{ pool sync.Pool }

// Get returns a reused buffer, or nil for the encoder to make one.
func (p *pngBuffers) Get() *png.EncoderBuffer {
	b, _ := p.pool.Get().(*png.EncoderBuffer)
	return b
}

// Put keeps b for a later render.
func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.pool.Put(b) }
