package handlers

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// TicketFile is one attachment.
type TicketFile struct {
	// Name is the attachment's file name, such as "ticket-0003.pdf".
	Name string
	// Number is the ticket's number in its order, counted from 1; 0 if
	// it has none. When an order takes several emails, each names the
	// tickets it carries ("Tickets 41–80") if its files are numbered
	// tickets in a run without gaps.
	Number int
	// PDF is the file's content.
	PDF []byte
}

// DefaultMaxEmailBytes is the default limit of one email's raw size (10 MB).
const DefaultMaxEmailBytes = 10 << 20

// ErrTicketFileTooLarge is returned, wrapped, by SplitTicketFiles for a
// file that does not fit in an email by itself.
var ErrTicketFileTooLarge = errors.New("ticket file too large for one email")

// ticketMailAllowance is the room an email's raw MIME keeps for all but
// its attachments: mailHeaderBytes of headers, its own and those SES adds
// (DKIM signatures, Feedback-ID), the subject, and the text and HTML
// bodies, base64-encoded with their part headers, for the longest event
// name. TestTicketMailAllowance_CoversTheLargestEmailsBodiesAndHeaders
// checks it against a rendered worst case, which needs about 18 KiB
// (8 KiB of it mailHeaderBytes): the styled HTML body, inline styles in a
// table layout as mail clients need, is about 3 KB besides the event,
// where the bare one was 0.5 KB. 20 KiB leaves room for small changes of
// wording, at 0.2% of a 10 MB email's room for tickets.
const ticketMailAllowance = 20 << 10

// mailHeaderBytes is the part of ticketMailAllowance kept for the
// message's headers other than the subject.
const mailHeaderBytes = 8 << 10

// MIME's wire shape (RFC 2045, 2046): base64 lines of at most 76
// characters, each ended by CRLF; boundaries of at most 70 characters.
const (
	mimeLineLen     = 76
	mimeBoundaryLen = 70
	// mimeAttachmentHeaders is an attachment part's fixed text: its
	// boundary line, its headers around the file name (written twice) and
	// the blank line before the content.
	mimeAttachmentHeaders = len("\r\n--") + mimeBoundaryLen + len("\r\n") +
		len("Content-Type: application/pdf; name=\"\"\r\n") +
		len("Content-Disposition: attachment; filename=\"\"\r\n") +
		len("Content-Transfer-Encoding: base64\r\n") +
		len("\r\n")
)

// mimeBase64Bytes is the size of n bytes in base64 at 76-character lines,
// each ended by CRLF.
func mimeBase64Bytes(n int) int {
	enc := base64.StdEncoding.EncodedLen(n)
	lines := (enc + mimeLineLen - 1) / mimeLineLen
	return enc + len("\r\n")*lines
}

// mimeNameBytes bounds the size of a file name of n bytes in a header:
// 3 bytes a byte when percent-encoded (RFC 2231), at most one more a byte
// for the continuations a long name is folded into, and 32 for the
// charset prefix.
func mimeNameBytes(n int) int {
	return 4*n + 32
}

// attachmentMIMEBytes is the most raw bytes f takes as an attachment part.
func attachmentMIMEBytes(f TicketFile) int {
	return mimeAttachmentHeaders + 2*mimeNameBytes(len(f.Name)) + mimeBase64Bytes(len(f.PDF))
}

// SplitTicketFiles groups files, in order, into as few emails as keep each
// email's raw MIME size within limit: each attachment counts its base64
// content at 76-character lines and its part headers, and each email
// ticketMailAllowance (20 KiB) for its headers and bodies. Filling each
// email in turn is optimal for groups that keep the files' order. A
// limit of 0 or less means DefaultMaxEmailBytes; no files give no
// groups. A file that does not fit in an email by itself is an error
// wrapping ErrTicketFileTooLarge.
func SplitTicketFiles(files []TicketFile, limit int) ([][]TicketFile, error) {
	if limit <= 0 {
		limit = DefaultMaxEmailBytes
	}
	var groups [][]TicketFile
	size, start := ticketMailAllowance, 0
	for i, f := range files {
		n := attachmentMIMEBytes(f)
		if ticketMailAllowance+n > limit {
			return nil, fmt.Errorf("%w: %s takes %d bytes of MIME, and an email has %d for attachments",
				ErrTicketFileTooLarge, f.Name, n, limit-ticketMailAllowance)
		}
		if size+n > limit {
			groups = append(groups, files[start:i:i])
			size, start = ticketMailAllowance, i
		}
		size += n
	}
	if start < len(files) {
		groups = append(groups, files[start:len(files):len(files)])
	}
	return groups, nil
}

var (
	ticketsHTML = mailHTML("tickets")
	ticketsText = mailText("tickets")
)

// ticketMailData is what the ticket email's templates see.
type ticketMailData struct {
	Event       string
	Part, Parts int
	Count       int
	// First and Last are the numbers of the email's first and last
	// tickets, from ticketRun; 0 when they are not a run.
	First, Last int
}

// ticketRun returns the numbers of the first and last of files when they
// are numbered tickets in a run without gaps (41, 42, ..., 80), and 0, 0
// otherwise, so that an email names only a range that holds.
func ticketRun(files []TicketFile) (first, last int) {
	if len(files) == 0 || files[0].Number < 1 {
		return 0, 0
	}
	for i, f := range files {
		if f.Number != files[0].Number+i {
			return 0, 0
		}
	}
	return files[0].Number, files[len(files)-1].Number
}

// ticketSubject returns the subject of email part of parts for event:
// "Your tickets for EVENT", and " (part k of n)" when parts > 1.
func ticketSubject(event string, part, parts int) string {
	subject := "Your tickets for " + event
	if parts > 1 {
		subject += fmt.Sprintf(" (part %d of %d)", part, parts)
	}
	return subject
}

// TicketEmail builds the SES v2 SendEmailInput of email part of parts
// (counted from 1) that carries files to to for event: Simple content with
// the subject "Your tickets for EVENT" (and " (part k of n)" when
// parts > 1), HTML and text bodies (which, when parts > 1, name the
// tickets this email carries if the files' Numbers are a run), and each
// file as an application/pdf attachment. Group the files with
// SplitTicketFiles first. It panics only if the embedded templates are
// broken, which the package's tests would show.
func TicketEmail(from, to, event string, part, parts int, files []TicketFile) *sesv2.SendEmailInput {
	data := ticketMailData{Event: event, Part: part, Parts: parts, Count: len(files)}
	data.First, data.Last = ticketRun(files)
	html, text, err := renderMail(ticketsHTML, ticketsText, data)
	if err != nil {
		panic("handlers: ticket email templates: " + err.Error())
	}
	in := simpleEmail(from, to, ticketSubject(event, part, parts), html, text)
	attachments := make([]sestypes.Attachment, len(files))
	for i, f := range files {
		attachments[i] = sestypes.Attachment{
			FileName:                aws.String(f.Name),
			RawContent:              f.PDF,
			ContentType:             aws.String("application/pdf"),
			ContentDisposition:      sestypes.AttachmentContentDispositionAttachment,
			ContentTransferEncoding: sestypes.AttachmentContentTransferEncodingBase64,
		}
	}
	in.Content.Simple.Attachments = attachments
	return in
}
