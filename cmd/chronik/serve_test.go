package main

import (
	"context"
	"testing"
	"time"
)

// TestWatchStop: a stop that outlasts the timeout exits the process; one
// that finishes in time, or a timeout of 0, does not.
func TestWatchStop(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	run := func(done <-chan struct{}, timeout time.Duration) bool {
		exited := false
		watchStop(cancelled, done, timeout, func() { exited = true })
		return exited
	}
	hanging := make(chan struct{})
	start := time.Now()
	if !run(hanging, 20*time.Millisecond) {
		t.Fatal("a stop that hung past the timeout did not exit")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("exited after %s, before the 20ms timeout", d)
	}
	finished := make(chan struct{})
	close(finished)
	if run(finished, time.Hour) {
		t.Fatal("a stop that finished exited")
	}
	if run(hanging, 0) {
		t.Fatal("timeout 0 exited")
	}
}
