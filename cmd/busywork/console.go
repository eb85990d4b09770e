package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
)

// describeOrders is the demo's App.DescribeGroups: the console shows a
// group that is a ticket order as one, with its event, its tickets and
// what finishes it in the order's words (handlers.OrderAction, as batch
// status and GET /orders/{id} give it).
func describeOrders(ctx context.Context, inv *busywork.Invocation) (busywork.GroupDescriber, error) {
	settings, err := inv.Settings()
	if err != nil {
		return nil, err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return nil, err
	}
	routes, err := inv.Routes(ctx)
	if err != nil {
		return nil, err
	}
	store := ddb.New(awsclient.NewDynamoDB(awsCfg), settings.Table)
	return func(ctx context.Context, g ddb.Batch) (busywork.GroupView, bool, error) {
		st, err := store.OrderStatus(ctx, g.ID)
		switch {
		case errors.Is(err, ddb.ErrNotFound):
			return busywork.GroupView{}, false, nil // a group, not an order
		case err != nil:
			return busywork.GroupView{}, false, err
		}
		return busywork.GroupView{
			Kind:   "ticket order",
			Title:  fmt.Sprintf("%s, %d tickets", st.Event, st.Total),
			Action: handlers.OrderAction(st, time.Now(), routes.Lane),
		}, true, nil
	}, nil
}
