package delays_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/delays"
)

// Cancel stops a delayed job until it starts: a reminder the user no
// longer wants, say.
func ExampleDelays_Cancel() {
	var d *delays.Delays // delays.New(store, delays.Options{}), or the runtime's Env.Delays
	job, err := d.Cancel(context.Background(), "remind-u-1")
	switch {
	case errors.Is(err, ddb.ErrJobStarted):
		fmt.Println("too late: it runs")
	case errors.Is(err, ddb.ErrNotFound):
		fmt.Println("no such delayed job")
	case err != nil:
		log.Print(err) // DynamoDB failed: try again
	default:
		fmt.Println("cancelled", job.ID, "due", job.DueAt)
	}
}
