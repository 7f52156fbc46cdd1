// The minimal OpenAI API every engine serves once ready: GET /v1/models,
// POST /v1/chat/completions (plain and "stream": true as SSE) and
// POST /v1/completions. Answers are deterministic so tests can assert on them.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

var completionCounter atomic.Int64

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// modelList renders /v1/models in each engine's own shape.
func modelList(kind engineKind, served string, created int64) map[string]any {
	if kind == ktransformers {
		return map[string]any{"data": []any{map[string]any{"id": served, "name": served}}, "object": "list"}
	}
	owner := map[engineKind]string{vllm: "vllm", sglang: "sglang", llamaServer: "llamacpp"}[kind]
	return map[string]any{"object": "list", "data": []any{map[string]any{
		"id": served, "object": "model", "created": created, "owned_by": owner, "root": served,
	}}}
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	Prompt   any           `json:"prompt"`
	Stream   bool          `json:"stream"`
}

// text extracts plain text from a message content (string or content parts).
func (m chatMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return ""
}

func mockReply(kind engineKind, model, prompt string) string {
	if len(prompt) > 200 {
		prompt = prompt[:200]
	}
	return fmt.Sprintf("Mock %s reply from %s. You said: %s", kind, model, prompt)
}

// decodeChat validates a request body the way the engines' pydantic/json layer would.
func decodeChat(r *http.Request, needMessages bool) (chatRequest, error) {
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return req, fmt.Errorf("invalid JSON body: %v", err)
	}
	if needMessages && len(req.Messages) == 0 {
		return req, fmt.Errorf("'messages' must be a non-empty list")
	}
	return req, nil
}

func (s *server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	req, err := decodeChat(r, true)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": err.Error(), "type": "BadRequestError", "code": 400}})
		return
	}
	if !s.modelAccepted(w, req.Model) {
		return
	}
	prompt := req.Messages[len(req.Messages)-1].text()
	reply := mockReply(s.eng.kind, s.cfg.servedModel, prompt)
	id := fmt.Sprintf("chatcmpl-mock-%d", completionCounter.Add(1))
	created := time.Now().Unix()
	if !req.Stream {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": s.cfg.servedModel,
			"choices": []any{map[string]any{
				"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": reply},
			}},
			"usage": usage(prompt, reply),
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(delta map[string]any, finish any) {
		chunk := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": s.cfg.servedModel,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
		b, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send(map[string]any{"role": "assistant", "content": ""}, nil)
	words := strings.SplitAfter(reply, " ")
	for _, word := range words {
		send(map[string]any{"content": word}, nil)
	}
	send(map[string]any{}, "stop")
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func (s *server) completions(w http.ResponseWriter, r *http.Request) {
	req, err := decodeChat(r, false)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": err.Error(), "type": "BadRequestError", "code": 400}})
		return
	}
	if !s.modelAccepted(w, req.Model) {
		return
	}
	prompt := fmt.Sprint(req.Prompt)
	reply := mockReply(s.eng.kind, s.cfg.servedModel, prompt)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("cmpl-mock-%d", completionCounter.Add(1)), "object": "text_completion",
		"created": time.Now().Unix(), "model": s.cfg.servedModel,
		"choices": []any{map[string]any{"index": 0, "text": reply, "finish_reason": "stop"}},
		"usage":   usage(prompt, reply),
	})
}

// modelAccepted: vLLM rejects a request naming a model it does not serve (404);
// the other engines ignore the field.
func (s *server) modelAccepted(w http.ResponseWriter, model string) bool {
	if s.eng.kind != vllm || model == "" || model == s.cfg.servedModel {
		return true
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{
		"message": fmt.Sprintf("The model `%s` does not exist.", model), "type": "NotFoundError", "param": nil, "code": 404,
	}})
	return false
}

func usage(prompt, reply string) map[string]int {
	p, c := len(strings.Fields(prompt)), len(strings.Fields(reply))
	return map[string]int{"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
}
