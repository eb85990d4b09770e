package handlers

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// mailTemplates holds every email's templates. An email's HTML is its
// content (templates/NAME.html.tmpl, which defines "title", "preheader"
// and "content") in the frame all of them share
// (templates/mail_frame.html.tmpl: the brand line, the card, the footer,
// all styled inline, since mail clients drop style sheets); its text is
// templates/NAME.txt.tmpl by itself.
//
//go:embed templates/*.tmpl
var mailTemplates embed.FS

// mailFrame is the layout of every HTML email.
const mailFrame = "templates/mail_frame.html.tmpl"

// mailHTML parses the HTML template of the email name into the frame; it
// panics if the embedded templates are broken, which the package's tests
// would show.
func mailHTML(name string) *htmltemplate.Template {
	return htmltemplate.Must(htmltemplate.ParseFS(mailTemplates, mailFrame, "templates/"+name+".html.tmpl"))
}

// mailText parses the text template of the email name, panicking as
// mailHTML does.
func mailText(name string) *texttemplate.Template {
	return texttemplate.Must(texttemplate.ParseFS(mailTemplates, "templates/"+name+".txt.tmpl"))
}

// renderMail executes an email's HTML and text templates with data.
func renderMail(htmlTmpl *htmltemplate.Template, textTmpl *texttemplate.Template, data any) (html, text string, err error) {
	var hb, tb bytes.Buffer
	if err := htmlTmpl.Execute(&hb, data); err != nil {
		return "", "", fmt.Errorf("render HTML: %w", err)
	}
	if err := textTmpl.Execute(&tb, data); err != nil {
		return "", "", fmt.Errorf("render text: %w", err)
	}
	return hb.String(), tb.String(), nil
}

// simpleEmail returns the SES v2 input of an email from from to to with
// Simple content: subject, HTML and text bodies, all UTF-8.
func simpleEmail(from, to, subject, html, text string) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &sestypes.Destination{ToAddresses: []string{to}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(subject), Charset: aws.String("UTF-8")},
			Body: &sestypes.Body{
				Html: &sestypes.Content{Data: aws.String(html), Charset: aws.String("UTF-8")},
				Text: &sestypes.Content{Data: aws.String(text), Charset: aws.String("UTF-8")},
			},
		}},
	}
}
