package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// shutdown stops a consumer whose Run context has ended, within
// DrainTimeout + ShutdownMargin:
//
//  1. No new receive starts; receives in flight are let finish (the
//     long poll of an idle queue lasts WaitTime), and their messages are
//     queued like the others. A receive still waiting when DrainTimeout
//     ends is cancelled: with a DrainTimeout longer than WaitTime (the
//     defaults) none is.
//  2. Queued and running jobs get until DrainTimeout after ctx ended.
//  3. Then handlers still running are cancelled (context.Cause is
//     ErrShuttingDown) and get cancelGrace to return; a handler that
//     returns an error then is released (visible again at once), and
//     only then, so it never overlaps its own redelivery. Queued messages
//     are released without running. A handler that ignores cancellation is
//     left behind, and its message shows again when its lease runs out.
//  4. Deletes and visibility changes still pending are sent at once, and
//     confirmed within finalCalls, while the heartbeat keeps the messages
//     of pending deletes invisible.
func (c *Consumer) shutdown(s *stopping) error {
	log := c.cfg.Logger
	log.Info("shutting down: receiving no more jobs", "drain_timeout_s", c.cfg.DrainTimeout.Seconds(),
		"bound_s", (c.cfg.DrainTimeout + ShutdownMargin).Seconds())
	drain, cancelDrain := context.WithTimeout(context.Background(), c.cfg.DrainTimeout)
	defer cancelDrain()
	s.pollers.Wait()
	c.stopReceiving(s, drain)
	drained := true
	for _, l := range s.lanes {
		close(l.ready)
		if l.workers.wait(drain) != nil {
			drained = false
		}
	}
	if !drained {
		for _, l := range s.lanes {
			close(l.draining)
		}
		s.cancelJobs(ErrShuttingDown)
		grace, cancelGrace := context.WithTimeout(context.Background(), cancelGrace)
		defer cancelGrace()
		for _, l := range s.lanes {
			for m := range l.ready { // workers busy or hung: release the rest here
				l.finish(m, result{outcome: OutcomeReleased, err: ErrShuttingDown})
				l.poll.release(1)
			}
			if l.workers.wait(grace) != nil {
				l.abandon()
			}
		}
	}

	final, cancelFinal := context.WithTimeout(context.Background(), finalCalls)
	defer cancelFinal()
	var errs []error
	for _, l := range s.lanes {
		l.deletes.flush()
		l.changes.flush()
	}
	for _, l := range s.lanes {
		if l.held.wait(final) != nil {
			errs = append(errs, fmt.Errorf("lane %s: %d jobs' outcomes not confirmed by SQS within %s", l.name, l.held.count(), finalCalls))
		}
	}
	s.stopCalls()
	for _, l := range s.lanes {
		// The calls end at once now; wait for their done funcs.
		wait, cancel := context.WithTimeout(context.Background(), time.Second)
		errs = append(errs, l.deletes.close(wait), l.changes.close(wait))
		cancel()
		if n := l.unconfirmed.Load(); n > 0 {
			errs = append(errs, fmt.Errorf("lane %s: SQS did not confirm the outcome of %d jobs; they will run again", l.name, n))
		}
	}
	close(s.stopBeats)
	s.beats.Wait()
	if err := errors.Join(errs...); err != nil {
		log.Error("shut down with unconfirmed jobs", "error", err)
		return fmt.Errorf("consumer: %w", err)
	}
	log.Info("shut down")
	return nil
}

// stopReceiving waits until the receives in flight have returned, or
// drain ends: then it cancels those still waiting and waits for them.
func (c *Consumer) stopReceiving(s *stopping, drain context.Context) {
	done := make(chan struct{})
	go func() {
		for _, l := range s.lanes {
			l.poll.calls.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-drain.Done():
		s.stopReceives()
		<-done
	}
}

// abandon gives up on the handlers that ignored their cancellation at
// shutdown: their messages are not released (another worker would run the
// job beside them) but left to show again when their leases run out.
func (l *lane) abandon() {
	for _, m := range l.beat.tracked() {
		m.mu.Lock()
		running := m.state == stateRunning
		m.mu.Unlock()
		if running && m.settle(stateDone) {
			l.settled(m, result{outcome: OutcomeHung, err: errors.New("handler ignored its cancelled context at shutdown; its message shows again when its lease runs out")}, nil)
		}
	}
	l.log.Error("shutdown: handlers ignore their cancelled context; leaving them behind")
}
