package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestServer(eng *engine, cfg engineConfig, tl timeline) (*server, *fakeClock) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	return newServer(eng, cfg, newEngineState(clock.now, tl, 0), io.Discard), clock
}

func do(s *server, method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

func TestLlamaAnswers503LoadingModelOnEveryRouteUntilReady(t *testing.T) {
	s, clock := newTestServer(llamaEngine(), engineConfig{servedModel: "kimi"}, timeline{load: time.Second, warmup: time.Second})
	for _, path := range []string{"/health", "/v1/models", "/v1/health"} {
		rec := do(s, "GET", path, "")
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"message":"Loading model"`) {
			t.Fatalf("%s while loading: %d %s", path, rec.Code, rec.Body)
		}
	}
	clock.advance(1500 * time.Millisecond) // warming: still 503
	if rec := do(s, "GET", "/health", ""); rec.Code != 503 {
		t.Fatalf("warmup health %d", rec.Code)
	}
	clock.advance(time.Second)
	rec := do(s, "GET", "/health", "")
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
		t.Fatalf("ready health %d %s", rec.Code, rec.Body)
	}
	if rec := do(s, "GET", "/metrics", ""); rec.Code != 501 {
		t.Fatalf("metrics without --metrics: %d", rec.Code)
	}
}

func TestSglangHealth503DuringWarmupButModelsAnswer(t *testing.T) {
	s, clock := newTestServer(sglangEngine(), engineConfig{servedModel: "kimi"}, timeline{load: time.Second, warmup: time.Second})
	clock.advance(1500 * time.Millisecond)
	for _, path := range []string{"/health", "/health_generate"} {
		if rec := do(s, "GET", path, ""); rec.Code != 503 {
			t.Fatalf("%s during warmup: %d", path, rec.Code)
		}
	}
	if rec := do(s, "GET", "/v1/models", ""); rec.Code != 200 {
		t.Fatalf("/v1/models during warmup: %d", rec.Code)
	}
	clock.advance(time.Second)
	if rec := do(s, "GET", "/health_generate", ""); rec.Code != 200 {
		t.Fatalf("ready: %d", rec.Code)
	}
}

func TestKTransformersHasNoHealthAndListsModel(t *testing.T) {
	s, _ := newTestServer(ktransformersEngine(), engineConfig{servedModel: "deepseek-v3"}, timeline{})
	if rec := do(s, "GET", "/health", ""); rec.Code != 404 {
		t.Fatalf("/health: %d", rec.Code)
	}
	rec := do(s, "GET", "/v1/models", "")
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	data := body["data"].([]any)[0].(map[string]any)
	if rec.Code != 200 || body["object"] != "list" || data["id"] != "deepseek-v3" || data["name"] != "deepseek-v3" {
		t.Fatalf("models %d %s", rec.Code, rec.Body)
	}
	if rec := do(s, "GET", "/metrics", ""); rec.Code != 404 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
}

func TestVllmChatAndModelCheckAndAPIKey(t *testing.T) {
	s, _ := newTestServer(vllmEngine(), engineConfig{servedModel: "kimi", apiKey: "sekrit"}, timeline{})
	if rec := do(s, "GET", "/health", ""); rec.Code != 200 {
		t.Fatalf("/health must stay public with an API key: %d", rec.Code)
	}
	body := `{"model":"kimi","messages":[{"role":"user","content":"ping"}]}`
	if rec := do(s, "POST", "/v1/chat/completions", body); rec.Code != 401 {
		t.Fatalf("no key: %d", rec.Code)
	}
	req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sekrit")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var resp struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	if rec.Code != 200 || resp.Object != "chat.completion" || !strings.Contains(resp.Choices[0].Message.Content, "You said: ping") {
		t.Fatalf("chat %d %s", rec.Code, rec.Body)
	}
	s.cfg.apiKey = ""
	if rec := do(s, "POST", "/v1/chat/completions", `{"model":"other","messages":[{"role":"user","content":"x"}]}`); rec.Code != 404 {
		t.Fatalf("wrong model: %d", rec.Code)
	}
	if rec := do(s, "POST", "/v1/chat/completions", `{"messages":[]}`); rec.Code != 400 {
		t.Fatalf("empty messages: %d", rec.Code)
	}
	if rec := do(s, "GET", "/v1/chat/completions", ""); rec.Code != 405 {
		t.Fatalf("GET chat: %d", rec.Code)
	}
}

func TestStreamingChatEmitsSSEAndDone(t *testing.T) {
	s, _ := newTestServer(llamaEngine(), engineConfig{servedModel: "kimi"}, timeline{})
	rec := do(s, "POST", "/v1/chat/completions", `{"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`)
	if rec.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
	}
	var text strings.Builder
	var events []string
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		payload := strings.TrimPrefix(line, "data: ")
		events = append(events, payload)
		if payload == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(payload), &chunk); err != nil {
			t.Fatalf("chunk %q: %v", payload, err)
		}
		text.WriteString(chunk.Choices[0].Delta.Content)
	}
	if events[len(events)-1] != "[DONE]" || !strings.HasSuffix(text.String(), "You said: hello") {
		t.Fatalf("events %v text %q", events, text.String())
	}
}

func TestHangSwitchStopsAnswering(t *testing.T) {
	s, _ := newTestServer(vllmEngine(), engineConfig{servedModel: "m"}, timeline{})
	if rec := do(s, "POST", "/mock/hang", ""); rec.Code != 200 {
		t.Fatalf("hang: %d", rec.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil).WithContext(ctx))
		close(done)
	}()
	select {
	case <-done:
		if rec.Body.Len() != 0 || rec.Code != http.StatusOK || rec.Flushed {
			t.Fatalf("hung engine wrote a response: %d %q", rec.Code, rec.Body)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("handler did not return after the client gave up")
	}
}
