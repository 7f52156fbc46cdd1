package main

import (
	"testing"
	"time"
)

func TestTimelinePhases(t *testing.T) {
	tl := timeline{load: 3 * time.Second, warmup: 2 * time.Second}
	cases := map[time.Duration]phase{0: phaseLoading, 2999 * time.Millisecond: phaseLoading, 3 * time.Second: phaseWarming,
		4 * time.Second: phaseWarming, 5 * time.Second: phaseReady, time.Hour: phaseReady}
	for elapsed, want := range cases {
		if got := tl.phaseAt(elapsed); got != want {
			t.Errorf("phaseAt(%s) = %s, want %s", elapsed, got, want)
		}
	}
	if (timeline{load: time.Second}).phaseAt(time.Second) != phaseReady {
		t.Error("no warmup: ready right after load")
	}
}

// fakeClock lets the tests move time without sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestHangAfterCountsFromReady(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	s := newEngineState(clock.now, timeline{load: 2 * time.Second, warmup: time.Second}, 5*time.Second)
	clock.advance(7 * time.Second)
	if s.isHung() {
		t.Fatal("hung before ready+hangAfter")
	}
	clock.advance(time.Second)
	if !s.isHung() {
		t.Fatal("not hung at ready+hangAfter")
	}
}

func TestManualHangAndNeverWithoutIt(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	s := newEngineState(clock.now, timeline{}, 0)
	clock.advance(1000 * time.Hour)
	if s.isHung() {
		t.Fatal("hung without a switch")
	}
	s.hung.Store(true)
	if !s.isHung() {
		t.Fatal("manual switch ignored")
	}
}

func TestControlsFromEnv(t *testing.T) {
	env := map[string]string{"MOCK_LOAD_SECONDS": "0.25", "MOCK_HANG_AFTER_SECONDS": "4", "MOCK_REQUIRE_PATHS": "1"}
	c, err := controlsFromEnv(func(k string) string { return env[k] })
	if err != nil || c.load != 250*time.Millisecond || c.warmup != time.Second || c.hangAfter != 4*time.Second || !c.requirePaths {
		t.Fatalf("controls %+v err %v", c, err)
	}
	env["MOCK_LOAD_SECONDS"] = "soon"
	if _, err := controlsFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("bad MOCK_LOAD_SECONDS accepted")
	}
}

func TestVllmPortURIIsRejected(t *testing.T) {
	env := map[string]string{"VLLM_PORT": "tcp://10.0.0.1:8000"}
	if err := vllmEnvError(func(k string) string { return env[k] }); err == nil {
		t.Fatal("URI accepted")
	}
	env["VLLM_PORT"] = "abc"
	if err := vllmEnvError(func(k string) string { return env[k] }); err == nil {
		t.Fatal("non-integer accepted")
	}
	env["VLLM_PORT"] = "29500"
	if err := vllmEnvError(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
}
