package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

func TestWeb_ServesTheAppAndOnSIGTERMFinishesTheRequestInFlightThenExitsZero(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	lanes := newLanes(t, testenv.QueueOptions{NoDLQ: true})
	web := startBusywork(t, append(laneEnv(lanes), "BUSYWORK_WEB_ADDR=127.0.0.1:0"), "web")
	addr := web.await(t, "the web listener", func(l logLine) bool { return l["msg"] == "web listening" })["addr"].(string)

	if code, body := get(t, "http://"+addr+"/"); code != http.StatusOK || !strings.Contains(body, `action="/auth/magic-link"`) {
		t.Errorf("GET / = %d, want 200 with the login form:\n%s", code, body)
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}

	// A request in flight at SIGTERM: its handler runs (the server asked
	// for the body with 100 Continue) and waits for the body.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(stopHang)); err != nil { // a hang detector
		t.Fatal(err)
	}
	form := url.Values{"email": {"ada@example.com"}}.Encode()
	fmt.Fprintf(conn, "POST /auth/magic-link HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(form))
	br := bufio.NewReader(conn)
	if status, err := br.ReadString('\n'); err != nil || status != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("after the headers: %q, %v; want 100 Continue", status, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q, %v", blank, err)
	}

	if err := web.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	web.await(t, "the shutdown line", func(l logLine) bool { return l["msg"] == "web shutting down" })
	if _, err := io.WriteString(conn, form); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("the request in flight at SIGTERM: %s, want 202 Accepted", resp.Status)
	}
	if code := web.wait(t); code != 0 {
		t.Fatalf("web exited %d after SIGTERM, want 0; log:\n%s", code, web.text())
	}
	msgs := testenv.ReceiveAll(t.Context(), t, client, lanes[producer.LaneCritical], 1, 10*time.Second)
	if body := aws.ToString(msgs[0].Body); body != `{"type":"magic_link","email":"ada@example.com"}` {
		t.Errorf("the queue holds %s, want the magic_link job of the request in flight", body)
	}
}

// The web app's SQS client is made with awsclient.Interactive: a send
// whose first attempt hangs (in a proxy in front of the SQS emulator) is
// retried inside the 1 s deadline, and /metrics shows the send.
func TestWeb_RetriesAHungSendInsideTheDeadlineAndServesItsMetrics(t *testing.T) {
	testenv.Require(t)
	proxy := testenv.NewDelayProxy(t, os.Getenv(testenv.EnvSQS))
	lanes := newLanes(t, testenv.QueueOptions{NoDLQ: true})
	web := startBusywork(t, append(laneEnv(lanes), testenv.EnvSQS+"="+proxy.URL, "BUSYWORK_WEB_ADDR=127.0.0.1:0"), "web")
	addr := web.await(t, "the web listener", func(l logLine) bool { return l["msg"] == "web listening" })["addr"].(string)

	proxy.Set(testenv.Delay{Before: 5 * time.Second, Count: 1})
	before := proxy.Requests() // the lanes' queue URLs, looked up at start
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/auth/magic-link",
		strings.NewReader(url.Values{"email": {"ada@example.com"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first SQS attempt hung: %s, want 202 from a retry; log:\n%s", resp.Status, web.text())
	}
	if n := proxy.Requests() - before; n != 2 {
		t.Errorf("%d attempts reached SQS, want 2 (the hung one and its retry)", n)
	}
	msgs := testenv.ReceiveAll(t.Context(), t, testenv.SQS(t), lanes[producer.LaneCritical], 1, 10*time.Second)
	if body := aws.ToString(msgs[0].Body); body != `{"type":"magic_link","email":"ada@example.com"}` {
		t.Errorf("the critical lane holds %s, want the magic_link job", body)
	}
	code, body := get(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`busywork_web_send_duration_seconds_count{outcome="sent",type="magic_link"} 1`,
		`busywork_web_requests_total{code="202",route="POST /auth/magic-link"} 1`,
		"go_goroutines ",
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET /metrics: %d, want 200 with %s:\n%s", code, want, grep(body, "busywork_web_"))
		}
	}

	if err := web.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := web.wait(t); code != 0 {
		t.Fatalf("web exited %d after SIGTERM, want 0; log:\n%s", code, web.text())
	}
}
