package ddb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Order and ticket items share one partition per order (see the package
// comment for the other kinds):
//
//	order            ORDER#<id>             ORDER                email, event, tickets, created_at, ttl
//	ticket file      ORDER#<id>             TICKET#<n, 5 digits> number, pdf, ttl
//
// so that one Query, in sort key order, reads an order's tickets in number
// order.

// MaxTicketBytes is the largest ticket PDF PutTicket stores: with its key
// and attributes the item stays inside DynamoDB's 400 KB item limit.
const MaxTicketBytes = 350 << 10

// ErrTicketTooLarge means a ticket's PDF is over MaxTicketBytes.
var ErrTicketTooLarge = errors.New("ddb: ticket is larger than 350 KB")

const (
	skOrder       = "ORDER"
	ticketPrefix  = "TICKET#"
	attrEmail     = "email"
	attrEvent     = "event"
	attrTickets   = "tickets"
	attrNumber    = "number"
	attrPDF       = "pdf"
	maxTicketNums = 99999 // what five digits of sort key hold
)

// Order is a ticket order as the web app took it.
type Order struct {
	// ID is the order's id.
	ID string
	// Email is the buyer's address, where the tickets go.
	Email string
	// Event is the event the tickets are for.
	Event string
	// Tickets is how many tickets were ordered.
	Tickets int
	// CreatedAt is when the order was taken; PutOrder sets it to now when
	// it is zero.
	CreatedAt time.Time
}

// Ticket is one stored ticket file of an order.
type Ticket struct {
	// Number is the ticket's number, from 1.
	Number int
	// PDF is the rendered ticket.
	PDF []byte
}

func orderPK(id string) string { return "ORDER#" + id }

func ticketKey(orderID string, n int) map[string]types.AttributeValue {
	return key(orderPK(orderID), fmt.Sprintf("%s%05d", ticketPrefix, n))
}

// PutOrder stores o, kept for ttl (Options.JobRetention when ttl <= 0),
// unless an order with its id exists: then it changes nothing and returns
// created false.
func (s *Store) PutOrder(ctx context.Context, o Order, ttl time.Duration) (created bool, err error) {
	if o.ID == "" {
		return false, errors.New("ddb: put order: id is empty")
	}
	now := s.opts.Now()
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now
	}
	item := key(orderPK(o.ID), skOrder)
	item[attrEmail] = str(o.Email)
	item[attrEvent] = str(o.Event)
	item[attrTickets] = num(int64(o.Tickets))
	item[attrCreatedAt] = num(o.CreatedAt.Unix())
	item[attrTTL] = num(epoch(now.Add(s.retention(ttl))))
	created, _, err = s.putNew(ctx, item, now)
	if err != nil {
		return false, fmt.Errorf("ddb: put order %s: %w", o.ID, err)
	}
	return created, nil
}

// GetOrder returns order id, or an error wrapping ErrNotFound when it is
// unknown or expired.
func (s *Store) GetOrder(ctx context.Context, id string) (Order, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(orderPK(id), skOrder),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Order{}, fmt.Errorf("ddb: get order %s: %w", id, err)
	}
	if !live(out.Item, s.opts.Now().Unix()) {
		return Order{}, fmt.Errorf("ddb: get order %s: %w", id, ErrNotFound)
	}
	return Order{
		ID:        id,
		Email:     getS(out.Item, attrEmail),
		Event:     getS(out.Item, attrEvent),
		Tickets:   int(getN(out.Item, attrTickets)),
		CreatedAt: time.Unix(getN(out.Item, attrCreatedAt), 0),
	}, nil
}

// PutTicket stores ticket n's PDF unless the ticket is stored already (and
// not expired): a ticket is stored once and never overwritten, so a
// duplicate delivery of its job changes nothing. stored reports whether
// this call stored it. A PDF over MaxTicketBytes is ErrTicketTooLarge.
func (s *Store) PutTicket(ctx context.Context, orderID string, n int, pdf []byte, ttl time.Duration) (stored bool, err error) {
	op := fmt.Sprintf("ddb: put ticket %d of order %s", n, orderID)
	if err := checkTicket(orderID, n); err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if len(pdf) > MaxTicketBytes {
		return false, fmt.Errorf("%s: %d bytes: %w", op, len(pdf), ErrTicketTooLarge)
	}
	now := s.opts.Now()
	item := ticketKey(orderID, n)
	item[attrNumber] = num(int64(n))
	item[attrPDF] = &types.AttributeValueMemberB{Value: pdf}
	item[attrTTL] = num(epoch(now.Add(s.retention(ttl))))
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #ttl <= :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
	})
	if _, exists := conditionFailed(err); exists {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return true, nil
}

// HasTicket reports whether ticket n of order orderID is stored (and not
// expired). It is one GetItem that projects only the ttl, so the PDF does
// not cross the wire (DynamoDB still bills the read by the item's size).
func (s *Store) HasTicket(ctx context.Context, orderID string, n int) (bool, error) {
	op := fmt.Sprintf("ddb: has ticket %d of order %s", n, orderID)
	if err := checkTicket(orderID, n); err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      ticketKey(orderID, n),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#ttl"),
		ExpressionAttributeNames: map[string]string{"#ttl": attrTTL},
	})
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return live(out.Item, s.opts.Now().Unix()), nil
}

// Tickets returns the stored (unexpired) tickets of order orderID in
// number order, read with strongly consistent Query calls, one per page of
// up to 1 MB.
func (s *Store) Tickets(ctx context.Context, orderID string) ([]Ticket, error) {
	now := s.opts.Now().Unix()
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(orderPK(orderID)), ":prefix": str(ticketPrefix),
		},
		ConsistentRead: aws.Bool(true),
	}
	var tickets []Ticket
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ddb: tickets of order %s: %w", orderID, err)
		}
		for _, item := range out.Items {
			pdf, ok := item[attrPDF].(*types.AttributeValueMemberB)
			if !ok || !live(item, now) {
				continue
			}
			tickets = append(tickets, Ticket{Number: int(getN(item, attrNumber)), PDF: pdf.Value})
		}
		if len(out.LastEvaluatedKey) == 0 {
			return tickets, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// checkTicket checks an order id and ticket number before they make a key.
func checkTicket(orderID string, n int) error {
	if orderID == "" {
		return errors.New("order id is empty")
	}
	if n < 1 || n > maxTicketNums {
		return fmt.Errorf("ticket number %d is not between 1 and %d", n, maxTicketNums)
	}
	return nil
}
