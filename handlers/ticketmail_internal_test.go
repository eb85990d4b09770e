package handlers

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/demo"
)

// mimePart writes f as multipart writes an attachment part (a boundary of
// the longest length allowed, base64 at 76-character lines) and returns
// its size in bytes.
func mimePart(t *testing.T, f TicketFile) int {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(strings.Repeat("b", mimeBoundaryLen)); err != nil {
		t.Fatal(err)
	}
	// A first part, so that the measured one starts with CRLF as every
	// part but the first does.
	if _, err := w.CreatePart(textproto.MIMEHeader{}); err != nil {
		t.Fatal(err)
	}
	before := buf.Len()
	part, err := w.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {fmt.Sprintf("application/pdf; name=%q", f.Name)},
		"Content-Disposition":       {fmt.Sprintf("attachment; filename=%q", f.Name)},
		"Content-Transfer-Encoding": {"base64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString(f.PDF)
	for len(enc) > 0 {
		n := min(len(enc), 76)
		fmt.Fprintf(part, "%s\r\n", enc[:n])
		enc = enc[n:]
	}
	return buf.Len() - before
}

func TestAttachmentMIMEBytes_IsARealPartsSizePlusTheNamesEncodingAllowance(t *testing.T) {
	// 57 bytes are one full base64 line of 76 characters.
	for _, n := range []int{0, 1, 2, 3, 56, 57, 58, 570, 2300, 100_000} {
		f := TicketFile{Name: "ticket-0001.pdf", PDF: bytes.Repeat([]byte{0xA5}, n)}
		actual := mimePart(t, f)
		nameAllowance := 2 * (mimeNameBytes(len(f.Name)) - len(f.Name))
		if got := attachmentMIMEBytes(f); got != actual+nameAllowance {
			t.Errorf("%d-byte file: attachmentMIMEBytes = %d, want the real part's %d + %d for the name", n, got, actual, nameAllowance)
		}
	}
	// By hand: 570 bytes are 760 base64 characters, 10 lines of 76 + CRLF.
	if got := mimeBase64Bytes(570); got != 780 {
		t.Errorf("mimeBase64Bytes(570) = %d, want 780", got)
	}
}

func TestSplitTicketFiles_FillsEachEmailUpToTheLimitInOrder(t *testing.T) {
	file := func(name string, n int) TicketFile { return TicketFile{Name: name, PDF: make([]byte, n)} }
	a, b, c := file("a.pdf", 1000), file("b.pdf", 1000), file("c.pdf", 1000)
	big := file("big.pdf", 5000)
	s, sBig := attachmentMIMEBytes(a), attachmentMIMEBytes(big)
	names := func(groups [][]TicketFile) [][]string {
		var out [][]string
		for _, g := range groups {
			var ns []string
			for _, f := range g {
				ns = append(ns, f.Name)
			}
			out = append(out, ns)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		files []TicketFile
		limit int
		want  [][]string
	}{
		{"no files, no emails", nil, DefaultMaxEmailBytes, nil},
		{"all fit exactly at the limit", []TicketFile{a, b, c}, ticketMailAllowance + 3*s, [][]string{{"a.pdf", "b.pdf", "c.pdf"}}},
		{"one byte short of three", []TicketFile{a, b, c}, ticketMailAllowance + 3*s - 1, [][]string{{"a.pdf", "b.pdf"}, {"c.pdf"}}},
		{"two a mail", []TicketFile{a, b, c}, ticketMailAllowance + 2*s, [][]string{{"a.pdf", "b.pdf"}, {"c.pdf"}}},
		{"one a mail, exactly", []TicketFile{a, b, c}, ticketMailAllowance + s, [][]string{{"a.pdf"}, {"b.pdf"}, {"c.pdf"}}},
		{"order kept around a big file", []TicketFile{a, big, b, c}, ticketMailAllowance + sBig + s - 1,
			[][]string{{"a.pdf"}, {"big.pdf"}, {"b.pdf", "c.pdf"}}},
		{"limit 0 is the default", []TicketFile{a, b, c}, 0, [][]string{{"a.pdf", "b.pdf", "c.pdf"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups, err := SplitTicketFiles(tc.files, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(groups); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("groups = %v, want %v", got, tc.want)
			}
			for i, g := range groups {
				size := ticketMailAllowance
				for _, f := range g {
					size += attachmentMIMEBytes(f)
				}
				if limit := effectiveLimit(tc.limit); size > limit {
					t.Errorf("email %d takes %d bytes, over the limit %d", i+1, size, limit)
				}
			}
		})
	}
}

// effectiveLimit is the limit SplitTicketFiles applies for limit.
func effectiveLimit(limit int) int {
	if limit <= 0 {
		return DefaultMaxEmailBytes
	}
	return limit
}

func TestSplitTicketFiles_AFileLargerThanAnEmailIsAnError(t *testing.T) {
	small := TicketFile{Name: "small.pdf", PDF: make([]byte, 100)}
	huge := TicketFile{Name: "huge.pdf", PDF: make([]byte, 3000)}
	limit := ticketMailAllowance + attachmentMIMEBytes(huge) - 1
	groups, err := SplitTicketFiles([]TicketFile{small, huge}, limit)
	if !errors.Is(err, ErrTicketFileTooLarge) || !strings.Contains(err.Error(), "huge.pdf") || groups != nil {
		t.Fatalf("SplitTicketFiles = %v, %v; want nil and ErrTicketFileTooLarge naming huge.pdf", groups, err)
	}
}

func TestTicketMailAllowance_CoversTheLargestEmailsBodiesAndHeaders(t *testing.T) {
	// The longest event (demo.MaxEventBytes), of the character HTML
	// escapes longest; addresses of the longest length (254); the most
	// tickets (demo.MaxTickets), named as a run in an email of many.
	event := strings.Repeat(`"`, demo.MaxEventBytes)
	addr := strings.Repeat("a", 254-len("@example.com")) + "@example.com"
	files := make([]TicketFile, demo.MaxTickets)
	for i := range files {
		files[i].Number = i + 1
	}
	in := TicketEmail(addr, addr, event, demo.MaxTickets, demo.MaxTickets, files)
	msg := in.Content.Simple
	html, text := aws.ToString(msg.Body.Html.Data), aws.ToString(msg.Body.Text.Data)
	if !strings.Contains(html, strings.Repeat("&#34;", demo.MaxEventBytes)) || !strings.Contains(html, "Tickets 1–1000") {
		t.Fatalf("worst case not reached: the HTML body does not escape the event or name the tickets as expected:\n%s", html)
	}
	boundaryLine := len("\r\n--") + mimeBoundaryLen + len("\r\n")
	bodyPart := func(body, contentType string) int {
		return boundaryLine + len("Content-Type: "+contentType+"; charset=UTF-8\r\n") +
			len("Content-Transfer-Encoding: base64\r\n\r\n") + mimeBase64Bytes(len(body))
	}
	need := mailHeaderBytes +
		len("Subject: \r\n") + mimeNameBytes(len(aws.ToString(msg.Subject.Data))) +
		len("From: \r\n") + mimeNameBytes(len(addr)) +
		len("To: \r\n") + mimeNameBytes(len(addr)) +
		// The multipart/alternative part holding both bodies, and the
		// closing boundaries of both multiparts.
		boundaryLine + len("Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n") + mimeBoundaryLen +
		bodyPart(text, "text/plain") + bodyPart(html, "text/html") + 2*boundaryLine
	t.Logf("the largest email needs %d bytes besides its attachments; ticketMailAllowance is %d", need, ticketMailAllowance)
	if need > ticketMailAllowance {
		t.Errorf("the largest email needs %d bytes besides its attachments, over ticketMailAllowance %d", need, ticketMailAllowance)
	}
}

func TestTicketEmail_SubjectNamesThePartOnlyWhenThereAreSeveral(t *testing.T) {
	files := []TicketFile{{Name: "ticket-0001.pdf", PDF: []byte("%PDF-1")}, {Name: "ticket-0002.pdf", PDF: []byte("%PDF-2")}}
	for _, tc := range []struct {
		part, parts       int
		subject, partLine string
	}{
		{1, 1, "Your tickets for Go & Gophers", ""},
		{2, 3, "Your tickets for Go & Gophers (part 2 of 3)", "This is email 2 of 3"},
	} {
		in := TicketEmail("from@example.com", "to@example.com", "Go & Gophers", tc.part, tc.parts, files)
		msg := in.Content.Simple
		if got := aws.ToString(msg.Subject.Data); got != tc.subject {
			t.Errorf("subject = %q, want %q", got, tc.subject)
		}
		html, text := aws.ToString(msg.Body.Html.Data), aws.ToString(msg.Body.Text.Data)
		if !strings.Contains(html, "Go &amp; Gophers") || !strings.Contains(text, "Go & Gophers") ||
			!strings.Contains(html, "2 PDF files") || !strings.Contains(text, "2 PDF files") {
			t.Errorf("bodies lack the escaped event or the count:\nHTML: %s\ntext: %s", html, text)
		}
		if hasPart := strings.Contains(text, "This is email"); hasPart != (tc.partLine != "") ||
			(tc.partLine != "" && (!strings.Contains(text, tc.partLine) || !strings.Contains(html, tc.partLine))) {
			t.Errorf("part %d of %d: want line %q in both bodies:\nHTML: %s\ntext: %s", tc.part, tc.parts, tc.partLine, html, text)
		}
		if got := in.Destination.ToAddresses; !slices.Equal(got, []string{"to@example.com"}) || aws.ToString(in.FromEmailAddress) != "from@example.com" {
			t.Errorf("from %q to %v", aws.ToString(in.FromEmailAddress), got)
		}
		if len(msg.Attachments) != len(files) {
			t.Fatalf("%d attachments, want %d", len(msg.Attachments), len(files))
		}
		for i, a := range msg.Attachments {
			if aws.ToString(a.FileName) != files[i].Name || !bytes.Equal(a.RawContent, files[i].PDF) ||
				aws.ToString(a.ContentType) != "application/pdf" {
				t.Errorf("attachment %d = %s %q %s, want %s %q application/pdf",
					i, aws.ToString(a.FileName), a.RawContent, aws.ToString(a.ContentType), files[i].Name, files[i].PDF)
			}
		}
	}
}

func TestTicketRun_NamesOnlyARunOfNumberedTickets(t *testing.T) {
	numbered := func(numbers ...int) []TicketFile {
		files := make([]TicketFile, len(numbers))
		for i, n := range numbers {
			files[i] = TicketFile{Name: fmt.Sprintf("ticket-%d.pdf", n), Number: n}
		}
		return files
	}
	for _, tc := range []struct {
		name        string
		files       []TicketFile
		first, last int
	}{
		{"no files", nil, 0, 0},
		{"unnumbered files", []TicketFile{{Name: "a.pdf"}, {Name: "b.pdf"}}, 0, 0},
		{"one ticket", numbered(7), 7, 7},
		{"a run", numbered(41, 42, 43), 41, 43},
		{"a gap", numbered(1, 2, 4), 0, 0},
		{"out of order", numbered(2, 1), 0, 0},
		{"a repeat", numbered(3, 3), 0, 0},
		{"some unnumbered", append(numbered(1), TicketFile{Name: "b.pdf"}), 0, 0},
	} {
		if first, last := ticketRun(tc.files); first != tc.first || last != tc.last {
			t.Errorf("%s: ticketRun = %d, %d; want %d, %d", tc.name, first, last, tc.first, tc.last)
		}
	}
}

func TestTicketEmail_AnEmailOfManyNamesTheTicketsItCarries(t *testing.T) {
	files := []TicketFile{{Name: "t-41.pdf", Number: 41}, {Name: "t-42.pdf", Number: 42}, {Name: "t-43.pdf", Number: 43}}
	for _, tc := range []struct {
		name        string
		part, parts int
		files       []TicketFile
		html, text  string // "" for no tickets named
	}{
		{"email 2 of 3", 2, 3, files, "Tickets 41–43", "This is email 2 of 3, with tickets 41–43; the others"},
		{"one ticket", 3, 3, files[2:], "Ticket 43<", "This is email 3 of 3, with ticket 43; the others"},
		{"the only email", 1, 1, files, "", ""},
		{"not a run", 2, 3, []TicketFile{files[0], files[2]}, "", ""},
	} {
		msg := TicketEmail("from@example.com", "to@example.com", "Go Days", tc.part, tc.parts, tc.files).Content.Simple
		html, text := aws.ToString(msg.Body.Html.Data), aws.ToString(msg.Body.Text.Data)
		if tc.html == "" {
			if strings.Contains(html, "Ticket 4") || strings.Contains(html, "Tickets 4") || strings.Contains(text, "with ticket") {
				t.Errorf("%s: the bodies name tickets:\nHTML: %s\ntext: %s", tc.name, html, text)
			}
			continue
		}
		if !strings.Contains(html, tc.html) || !strings.Contains(text, tc.text) {
			t.Errorf("%s: want %q in the HTML and %q in the text:\nHTML: %s\ntext: %s", tc.name, tc.html, tc.text, html, text)
		}
	}
}
