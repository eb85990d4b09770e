package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// MaxMoveRate is the fastest a message move task moves: 500 messages a
// second.
const MaxMoveRate = 500

// ErrNoMoveTasks is wrapped by the errors of StartMove, MoveTasks and
// CancelMoveTasks when the endpoint has no message move tasks.
var ErrNoMoveTasks = errors.New("this SQS endpoint has no message move tasks")

// StartMove starts an SQS message move task that moves every message of
// the dead-letter queue to the queue, perSecond messages a second (1 to
// MaxMoveRate), and returns its task handle. The destination is given
// explicitly: the dead letters the consumer copies carry no
// DeadLetterQueueSourceArn for SQS to go by. The task keeps no filter and
// gives the messages new MessageIds; their attributes (job_id among them)
// stay, error and failed_at too.
func (q *Queue) StartMove(ctx context.Context, perSecond int) (string, error) {
	if perSecond < 1 || perSecond > MaxMoveRate {
		return "", fmt.Errorf("dlq: move rate %d is not between 1 and %d messages a second", perSecond, MaxMoveRate)
	}
	out, err := q.client.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{
		SourceArn:                    aws.String(q.DeadLetterARN),
		DestinationArn:               aws.String(q.ARN),
		MaxNumberOfMessagesPerSecond: aws.Int32(int32(perSecond)),
	})
	if err != nil {
		return "", moveError("StartMessageMoveTask", err)
	}
	return aws.ToString(out.TaskHandle), nil
}

// Task is one message move task of the dead-letter queue.
type Task struct {
	// Handle identifies a running task; SQS gives none for the others.
	Handle string `json:"task_handle,omitempty"`
	// Status is RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED.
	Status string `json:"status"`
	// Moved is about how many messages the task moved.
	Moved int64 `json:"moved"`
	// ToMove is about how many it had to move when it started; -1 when
	// SQS does not say.
	ToMove int64 `json:"to_move"`
	// Rate is its messages a second; 0 when SQS chose.
	Rate int32 `json:"rate,omitempty"`
	// Destination is the ARN of the queue it moves to.
	Destination string `json:"destination"`
	// Started is when it started.
	Started time.Time `json:"started"`
	// Failure says why a FAILED task failed.
	Failure string `json:"failure,omitempty"`
}

// MoveTasks lists the dead-letter queue's most recent move tasks (SQS
// keeps the last 10), newest first.
func (q *Queue) MoveTasks(ctx context.Context) ([]Task, error) {
	out, err := q.client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(q.DeadLetterARN), MaxResults: aws.Int32(10)})
	if err != nil {
		return nil, moveError("ListMessageMoveTasks", err)
	}
	tasks := make([]Task, len(out.Results))
	for i, e := range out.Results {
		tasks[i] = newTask(e)
	}
	return tasks, nil
}

func newTask(e types.ListMessageMoveTasksResultEntry) Task {
	t := Task{
		Handle:      aws.ToString(e.TaskHandle),
		Status:      aws.ToString(e.Status),
		Moved:       e.ApproximateNumberOfMessagesMoved,
		ToMove:      -1,
		Rate:        aws.ToInt32(e.MaxNumberOfMessagesPerSecond),
		Destination: aws.ToString(e.DestinationArn),
		Started:     time.UnixMilli(e.StartedTimestamp).UTC(),
		Failure:     aws.ToString(e.FailureReason),
	}
	if e.ApproximateNumberOfMessagesToMove != nil {
		t.ToMove = *e.ApproximateNumberOfMessagesToMove
	}
	return t
}

// CancelMoveTasks cancels the dead-letter queue's running move tasks and
// returns them, each with how many messages it had moved. Messages moved
// stay moved.
func (q *Queue) CancelMoveTasks(ctx context.Context) ([]Task, error) {
	tasks, err := q.MoveTasks(ctx)
	if err != nil {
		return nil, err
	}
	var cancelled []Task
	for _, t := range tasks {
		if t.Status != "RUNNING" || t.Handle == "" {
			continue
		}
		out, err := q.client.CancelMessageMoveTask(ctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: aws.String(t.Handle)})
		if err != nil {
			return cancelled, moveError("CancelMessageMoveTask", err)
		}
		t.Status, t.Moved = "CANCELLING", out.ApproximateNumberOfMessagesMoved
		cancelled = append(cancelled, t)
	}
	return cancelled, nil
}

// moveError wraps ErrNoMoveTasks into the error of an endpoint that does
// not know the action op.
func moveError(op string, err error) error {
	var unsupported *types.UnsupportedOperation
	var api smithy.APIError
	if errors.As(err, &unsupported) {
		return fmt.Errorf("%w (%s: %w)", ErrNoMoveTasks, op, err)
	}
	if errors.As(err, &api) {
		switch strings.TrimPrefix(api.ErrorCode(), "AWS.SimpleQueueService.") {
		case "InvalidAction", "UnknownOperationException", "NotImplemented":
			return fmt.Errorf("%w (%s: %w)", ErrNoMoveTasks, op, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// WriteTasks prints tasks as an aligned table.
func WriteTasks(w io.Writer, tasks []Task) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tMOVED\tTO_MOVE\tRATE\tSTARTED\tTASK_HANDLE\tFAILURE")
	for _, t := range tasks {
		toMove, rate := "?", "auto"
		if t.ToMove >= 0 {
			toMove = strconv.FormatInt(t.ToMove, 10)
		}
		if t.Rate > 0 {
			rate = strconv.Itoa(int(t.Rate)) + "/s"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", t.Status, t.Moved, toMove, rate,
			t.Started.Format(time.RFC3339), cmp.Or(t.Handle, "-"), cmp.Or(cell(t.Failure, 80), "-"))
	}
	return tw.Flush()
}
