package handlers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
)

func TestTicketEmail_SESStoresOneMailWithThreePDFAttachments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	to := recipient(t)
	var files []handlers.TicketFile
	for n := 1; n <= 3; n++ {
		doc, err := handlers.RenderTicket(ctx, ticketKey, handlers.TicketPDF{OrderID: "ord-mail", Event: "Go Days", Attendee: to, Number: n, Total: 3})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, handlers.TicketFile{Name: fmt.Sprintf("ticket-%d.pdf", n), PDF: doc})
	}
	groups, err := handlers.SplitTicketFiles(files, handlers.DefaultMaxEmailBytes)
	if err != nil || len(groups) != 1 {
		t.Fatalf("SplitTicketFiles = %d groups, %v; want 1", len(groups), err)
	}

	since := time.Now()
	if _, err := testenv.SESv2(t).SendEmail(ctx, handlers.TicketEmail("tickets@example.com", to, "Go Days", 1, 1, groups[0])); err != nil {
		t.Fatalf("SendEmail: %v", err)
	}

	mails := mailsTo(t, since, to)
	if len(mails) != 1 {
		t.Fatalf("%d mails to %s, want 1", len(mails), to)
	}
	m := mails[0]
	if m.Subject != "Your tickets for Go Days" {
		t.Errorf("subject = %q", m.Subject)
	}
	if len(m.Attachments) != 3 {
		t.Fatalf("%d attachments, want 3", len(m.Attachments))
	}
	for i, a := range m.Attachments {
		if a.Filename != files[i].Name || a.ContentType != "application/pdf" {
			t.Errorf("attachment %d: %s (%s), want %s (application/pdf)", i, a.Filename, a.ContentType, files[i].Name)
		}
		doc, err := base64.StdEncoding.DecodeString(a.Content)
		if err != nil {
			t.Fatalf("attachment %s: %v", a.Filename, err)
		}
		if content := readPDF(t, doc); !shownText(content, fmt.Sprintf("Ticket %d of 3", i+1)) {
			t.Errorf("attachment %s does not show its ticket number", a.Filename)
		}
	}
}
