package busywork

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/bootstrap"
	"github.com/busywork/busywork/producer"
)

// LaneConfig is one lane's settings. The default lane reads them from
// BUSYWORK_QUEUE, BUSYWORK_CONCURRENCY and so on; the critical and bulk
// lanes from the same names with CRITICAL_ or BULK_ after BUSYWORK_, such
// as BUSYWORK_BULK_CONCURRENCY.
type LaneConfig struct {
	// Queue is the name of the lane's queue. Default busywork-jobs,
	// busywork-critical or busywork-bulk.
	Queue string `envconfig:"QUEUE"`
	// QueueURL, when set, is used instead of looking Queue's URL up.
	QueueURL string `envconfig:"QUEUE_URL"`
	// Concurrency is how many of the lane's jobs the worker runs at once.
	Concurrency int `envconfig:"CONCURRENCY" default:"10"`
	// MaxReceives is the most receives the worker keeps in flight on the
	// lane (it keeps what its pace needs below it); 0 means the
	// consumer's default.
	MaxReceives int `envconfig:"MAX_RECEIVES"`
	// MaxUnconfirmed is the most finished jobs of the lane whose delete
	// SQS has not confirmed; 0 means the consumer's default.
	MaxUnconfirmed int `envconfig:"MAX_UNCONFIRMED"`
	// Lease is the visibility the heartbeat keeps renewing; 0 means the
	// queue's visibility timeout.
	Lease time.Duration `envconfig:"LEASE"`
}

// lane is one lane's name and settings.
type lane struct {
	name string
	LaneConfig
}

// defaultQueues are the lanes' default queue names.
var defaultQueues = map[string]string{
	producer.LaneCritical: "busywork-critical",
	producer.LaneDefault:  bootstrap.DefaultQueue,
	producer.LaneBulk:     "busywork-bulk",
}

// lanes returns every lane, in the order of producer.Lanes, with default
// queue names filled in.
func (c config) lanes() []lane {
	settings := map[string]LaneConfig{
		producer.LaneCritical: c.Critical,
		producer.LaneDefault:  c.LaneConfig,
		producer.LaneBulk:     c.Bulk,
	}
	var ls []lane
	for _, name := range producer.Lanes() {
		l := lane{name, settings[name]}
		if l.Queue == "" {
			l.Queue = defaultQueues[name]
		}
		ls = append(ls, l)
	}
	return ls
}

// selectLanes returns the lanes named in list, a comma-separated list
// such as "critical,default", or every lane when list is empty.
func (c config) selectLanes(list string) ([]lane, error) {
	all := c.lanes()
	if strings.TrimSpace(list) == "" {
		return all, nil
	}
	var picked []lane
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(all, func(l lane) bool { return l.name == name })
		switch {
		case i < 0:
			return nil, fmt.Errorf("unknown lane %q (lanes: %s)", name, strings.Join(producer.Lanes(), ", "))
		case slices.ContainsFunc(picked, func(l lane) bool { return l.name == name }):
			return nil, fmt.Errorf("lane %q named twice", name)
		}
		picked = append(picked, all[i])
	}
	return picked, nil
}

// routes returns the routing table: app's Routes with the overrides of
// BUSYWORK_ROUTES, checked against the lanes and the App's job types.
func (c config) routes(app *App, types []string) (producer.Routes, error) {
	for typ, lane := range app.Routes {
		if !slices.Contains(producer.Lanes(), lane) {
			return nil, ConfigErrorf("%s: App.Routes: job type %q to unknown lane %q (lanes: %s)", app.name(), typ, lane, strings.Join(producer.Lanes(), ", "))
		}
	}
	overrides, err := producer.ParseRoutes(c.Routes, producer.Lanes())
	if err != nil {
		return nil, ConfigErrorf("%s_ROUTES: %v", envPrefix, err)
	}
	for typ := range overrides {
		if !slices.Contains(types, typ) {
			return nil, ConfigErrorf("%s_ROUTES: unknown job type %q (known: %s)", envPrefix, typ, strings.Join(types, ", "))
		}
	}
	return app.Routes.Merge(overrides), nil
}

// prefix is the start of the lane's variables' names, as in
// "BUSYWORK_BULK_".
func (l lane) prefix() string {
	if l.name == producer.LaneDefault {
		return envPrefix + "_"
	}
	return envPrefix + "_" + strings.ToUpper(l.name) + "_"
}

// check refuses settings out of range, naming the variable.
func (l lane) check() error {
	switch {
	case l.Concurrency < 1:
		return ConfigErrorf("%sCONCURRENCY=%d: want at least 1", l.prefix(), l.Concurrency)
	case l.MaxReceives < 0:
		return ConfigErrorf("%sMAX_RECEIVES=%d: want at least 2 (or unset)", l.prefix(), l.MaxReceives)
	case l.MaxUnconfirmed < 0:
		return ConfigErrorf("%sMAX_UNCONFIRMED=%d: want at least 1 (or unset)", l.prefix(), l.MaxUnconfirmed)
	}
	return nil
}

// queueName is the lane's queue name: the last part of QueueURL when that
// is set, else Queue.
func (l lane) queueName() string {
	if l.QueueURL != "" {
		return l.QueueURL[strings.LastIndexByte(l.QueueURL, '/')+1:]
	}
	return l.Queue
}

// queueURLGetter is the part of *sqs.Client that resolveLanes calls.
type queueURLGetter interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// resolveLanes returns the queue URL of each lane of ls by name: its
// QueueURL when set, else the URL SQS gives for its Queue. bin, the
// binary's name, goes into the hint of a queue that does not exist.
func resolveLanes(ctx context.Context, client queueURLGetter, ls []lane, bin string) (map[string]string, error) {
	urls := map[string]string{}
	for _, l := range ls {
		if l.QueueURL != "" {
			urls[l.name] = l.QueueURL
			continue
		}
		out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(l.Queue)})
		if err != nil {
			return nil, queueError(bin, l.Queue, err)
		}
		urls[l.name] = aws.ToString(out.QueueUrl)
	}
	return urls, nil
}

// newRouter returns the producer that sends each job to its lane's queue
// (urls, by lane) by routes, with the runtime's producer options
// (producerOptions) and opts.
func (c config) newRouter(client producer.SendAPI, awsCfg aws.Config, urls map[string]string, routes producer.Routes, opts ...func(*producer.Options)) (*producer.Router, error) {
	producers := map[string]*producer.Producer{}
	for name, url := range urls {
		producers[name] = producer.New(client, url, c.producerOptions(awsCfg, opts...)...)
	}
	return producer.NewRouter(producers, routes)
}

// queueConfigs returns the consumer's configuration of the lanes ls.
func queueConfigs(ls []lane, urls map[string]string) []consumer.QueueConfig {
	var qs []consumer.QueueConfig
	for _, l := range ls {
		qs = append(qs, consumer.QueueConfig{
			URL: urls[l.name], Name: l.name, Concurrency: l.Concurrency, MaxReceives: l.MaxReceives,
			MaxUnconfirmed: l.MaxUnconfirmed, Lease: l.Lease,
		})
	}
	return qs
}
