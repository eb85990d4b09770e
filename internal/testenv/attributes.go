package testenv

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Attr returns the string value of m's message attribute name, or "" when
// m has none by that name.
func Attr(m types.Message, name string) string {
	return aws.ToString(m.MessageAttributes[name].StringValue)
}
