package webapp

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// msgNoOrder is GET /orders/{id}'s answer for an unknown order.
const msgNoOrder = "no such order (a new order shows once the worker has taken it)"

// orderRequest is the JSON body of POST /orders.
type orderRequest struct {
	Email   string `json:"email"`
	Event   string `json:"event"`
	Tickets int    `json:"tickets"`
}

// order enqueues one ticket_order job for the whole order, whatever its
// size, and answers 202 with the order's id: a JSON body, or the page of
// the demo's order form (which then shows the order's progress).
func (a *app) order(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	asJSON := isJSON(r)
	fail := func(code int, msg string) {
		if asJSON {
			a.writeJSON(w, code, answer{Error: msg})
			return
		}
		a.writePage(w, code, page{Title: "Something went wrong", Message: msg, Form: true})
	}
	req, err := postedOrder(r, asJSON)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes))
		return
	case err != nil:
		fail(http.StatusBadRequest, err.Error())
		return
	}
	job := jobs.TicketOrder{OrderID: newOrderID(), Email: jobs.NormalizeEmail(req.Email), Event: strings.TrimSpace(req.Event), Tickets: req.Tickets}
	if err := job.Validate(); err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	if _, err := a.sender.Send(r.Context(), job); err != nil {
		if errors.Is(err, producer.ErrInvalidJob) {
			fail(http.StatusBadRequest, err.Error())
			return
		}
		a.log.Warn("enqueue ticket_order job", "error", err)
		w.Header().Set("Retry-After", "1")
		fail(http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	w.Header().Set("Location", "/orders/"+job.OrderID)
	if asJSON {
		a.writeJSON(w, http.StatusAccepted, struct {
			OrderID string `json:"order_id"`
		}{job.OrderID})
		return
	}
	a.writePage(w, http.StatusAccepted, page{Title: "Order placed",
		Message: fmt.Sprintf("Your %d tickets for %s are being made; they will be emailed to %s.", job.Tickets, job.Event, job.Email),
		OrderID: job.OrderID})
}

// postedOrder reads a JSON body or the form fields email, event and
// tickets.
func postedOrder(r *http.Request, asJSON bool) (orderRequest, error) {
	var req orderRequest
	if asJSON {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return req, fmt.Errorf("JSON body: %w", err)
		}
		return req, nil
	}
	if err := r.ParseForm(); err != nil {
		return req, fmt.Errorf("form: %w", err)
	}
	req.Email, req.Event = r.PostForm.Get("email"), r.PostForm.Get("event")
	n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("tickets")))
	if err != nil {
		return req, fmt.Errorf("tickets: %q is not a whole number", r.PostForm.Get("tickets"))
	}
	req.Tickets = n
	return req, nil
}

// newOrderID returns a fresh order id: 26 letters and digits.
func newOrderID() string { return strings.ToLower(rand.Text()) }

// orderStatus answers the progress of an order as JSON; 404 for an id no
// worker has taken (an order just placed shows once its job has run) and
// for one no order can have, which is not looked up.
func (a *app) orderStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if jobs.ValidateOrderID(id) != nil {
		a.writeJSON(w, http.StatusNotFound, answer{Error: msgNoOrder})
		return
	}
	st, err := a.store.OrderStatus(r.Context(), id)
	switch {
	case errors.Is(err, ddb.ErrNotFound):
		a.writeJSON(w, http.StatusNotFound, answer{Error: msgNoOrder})
	case err != nil:
		a.log.Error("read order status", "error", err)
		w.Header().Set("Retry-After", "1")
		a.writeJSON(w, http.StatusServiceUnavailable, answer{Error: msgUnavailable})
	default:
		w.Header().Set("Cache-Control", "no-store")
		a.writeJSON(w, http.StatusOK, st)
	}
}
