package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
