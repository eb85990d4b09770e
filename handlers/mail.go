package handlers

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

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
