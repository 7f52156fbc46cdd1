// The mock's state machine: loading -> (warming) -> ready, plus the hang
// switch. Phases are a pure function of elapsed time so they can be unit-tested
// without sleeping.
package main

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

type phase int

const (
	phaseLoading phase = iota // weights loading: port closed, or 503 "Loading model" (llama.cpp)
	phaseWarming              // port open, health still 503 (SGLang warmup, llama.cpp warmup)
	phaseReady
)

func (p phase) String() string {
	return [...]string{"loading", "warming", "ready"}[p]
}

// controls are the MOCK_* knobs read from the environment.
type controls struct {
	load         time.Duration // MOCK_LOAD_SECONDS (default 3)
	warmup       time.Duration // MOCK_WARMUP_SECONDS (default 1), only engines with a warmup phase
	hangAfter    time.Duration // MOCK_HANG_AFTER_SECONDS after ready; 0 = never
	requirePaths bool          // MOCK_REQUIRE_PATHS=1
}

func seconds(getenv func(string) string, name string, fallback float64) (time.Duration, error) {
	raw := getenv(name)
	if raw == "" {
		return time.Duration(fallback * float64(time.Second)), nil
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s=%q is not a non-negative number of seconds", name, raw)
	}
	return time.Duration(v * float64(time.Second)), nil
}

func controlsFromEnv(getenv func(string) string) (controls, error) {
	var c controls
	var err error
	if c.load, err = seconds(getenv, "MOCK_LOAD_SECONDS", 3); err != nil {
		return c, err
	}
	if c.warmup, err = seconds(getenv, "MOCK_WARMUP_SECONDS", 1); err != nil {
		return c, err
	}
	if c.hangAfter, err = seconds(getenv, "MOCK_HANG_AFTER_SECONDS", 0); err != nil {
		return c, err
	}
	c.requirePaths = getenv("MOCK_REQUIRE_PATHS") == "1"
	return c, nil
}

// timeline is when each phase ends, relative to process start.
type timeline struct {
	load, warmup time.Duration
}

func (t timeline) phaseAt(elapsed time.Duration) phase {
	switch {
	case elapsed < t.load:
		return phaseLoading
	case elapsed < t.load+t.warmup:
		return phaseWarming
	default:
		return phaseReady
	}
}

func (t timeline) readyAt() time.Duration { return t.load + t.warmup }

// engineState is shared by the HTTP handlers.
type engineState struct {
	started   time.Time
	now       func() time.Time
	timeline  timeline
	hangAfter time.Duration
	hung      atomic.Bool // set by POST /mock/hang
}

func newEngineState(now func() time.Time, t timeline, hangAfter time.Duration) *engineState {
	return &engineState{started: now(), now: now, timeline: t, hangAfter: hangAfter}
}

func (s *engineState) phase() phase { return s.timeline.phaseAt(s.now().Sub(s.started)) }

// isHung: the manual switch, or MOCK_HANG_AFTER_SECONDS elapsed since ready.
func (s *engineState) isHung() bool {
	if s.hung.Load() {
		return true
	}
	return s.hangAfter > 0 && s.now().Sub(s.started) >= s.timeline.readyAt()+s.hangAfter
}
