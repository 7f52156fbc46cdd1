// HTTP behaviour per engine and phase, and the process lifecycle that opens
// the port at the moment the real engine would (engines.md §6).
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type server struct {
	eng     *engine
	cfg     engineConfig
	state   *engineState
	created int64
	log     io.Writer
	routes  map[string]http.HandlerFunc
}

func newServer(eng *engine, cfg engineConfig, state *engineState, log io.Writer) *server {
	s := &server{eng: eng, cfg: cfg, state: state, created: time.Now().Unix(), log: log}
	s.routes = s.routeTable()
	return s
}

func (s *server) ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func (s *server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, modelList(s.eng.kind, s.cfg.servedModel, s.created))
}

func (s *server) metricsText(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# HELP mock_engine_ready 1 once the mock engine is ready\n# TYPE mock_engine_ready gauge\nmock_engine_ready{engine=%q} 1\n", s.eng.kind)
}

// routeTable lists, per engine, the GET/POST routes the real server has (the subset the mock models).
func (s *server) routeTable() map[string]http.HandlerFunc {
	get, post := "GET ", "POST "
	routes := map[string]http.HandlerFunc{
		get + "/v1/models":            s.models,
		post + "/v1/chat/completions": s.chatCompletions,
		post + "/v1/completions":      s.completions,
	}
	switch s.eng.kind {
	case ktransformers:
		// No /health and no /metrics: the legacy server has neither.
		routes[get+"/api/tags"] = func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"models": []any{map[string]any{"name": s.cfg.servedModel}}})
		}
	case vllm:
		routes[get+"/health"] = s.ok
		routes[get+"/ping"] = s.ok
		routes[post+"/ping"] = s.ok
		routes[get+"/metrics"] = s.metricsText
		routes[get+"/version"] = func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"version": "mock"})
		}
	case sglang:
		routes[get+"/health"] = s.ok
		routes[get+"/health_generate"] = s.ok
		info := func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"model_path": s.cfg.servedModel, "is_generation": true})
		}
		routes[get+"/model_info"] = info
		routes[get+"/get_model_info"] = info
		if s.cfg.metrics {
			routes[get+"/metrics"] = s.metricsText
		}
	case llamaServer:
		health := func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}
		routes[get+"/health"] = health
		routes[get+"/v1/health"] = health
		routes[get+"/models"] = s.models
		routes[post+"/chat/completions"] = s.chatCompletions
		routes[get+"/metrics"] = s.metricsText
		if !s.cfg.metrics {
			routes[get+"/metrics"] = func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusNotImplemented, map[string]any{"error": map[string]any{
					"code": 501, "message": "This server does not support metrics endpoint. Start it with `--metrics`", "type": "not_supported_error"}})
			}
		}
	}
	return routes
}

// publicPath: paths the engines leave unauthenticated even with an API key.
func (s *server) publicPath(path string) bool {
	return !strings.HasPrefix(path, "/v1/") || path == "/v1/health"
}

func (s *server) notFound(w http.ResponseWriter, status int) {
	if s.eng.kind == llamaServer {
		writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": http.StatusText(status), "type": "not_found_error"}})
		return
	}
	// FastAPI's shape for the three Python engines.
	writeJSON(w, status, map[string]string{"detail": http.StatusText(status)})
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.state.isHung() {
		// A hung engine keeps accepting connections but never answers: wait
		// until the client gives up (a probe's timeoutSeconds).
		<-r.Context().Done()
		return
	}
	if r.URL.Path == "/mock/hang" && r.Method == http.MethodPost {
		s.state.hung.Store(true)
		fmt.Fprintln(s.log, "mock: hang switch on; from now on no request is answered")
		writeJSON(w, http.StatusOK, map[string]bool{"hung": true})
		return
	}
	ph := s.state.phase()
	if r.URL.Path == "/mock/state" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]string{"engine": string(s.eng.kind), "phase": ph.String()})
		return
	}
	if ph != phaseReady {
		switch s.eng.kind {
		case llamaServer: // middleware: every route answers 503 until the model is loaded and warmed
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]any{
				"code": 503, "message": "Loading model", "type": "unavailable_error"}})
			return
		case sglang: // ServerStatus.Starting: health is 503 until the warmup request finished
			if r.URL.Path == "/health" || r.URL.Path == "/health_generate" {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
	}
	if s.cfg.apiKey != "" && !s.publicPath(r.URL.Path) && r.Header.Get("Authorization") != "Bearer "+s.cfg.apiKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "Unauthorized", "type": "authentication_error", "code": 401}})
		return
	}
	if handler, ok := s.routes[r.Method+" "+r.URL.Path]; ok {
		handler(w, r)
		return
	}
	for key := range s.routes {
		if strings.HasSuffix(key, " "+r.URL.Path) {
			s.notFound(w, http.StatusMethodNotAllowed)
			return
		}
	}
	s.notFound(w, http.StatusNotFound)
}

// progress prints engine-flavoured loading lines while time passes.
func progress(kind engineKind, out io.Writer, d time.Duration) {
	const steps = 10
	for i := 1; i <= steps; i++ {
		time.Sleep(d / steps)
		pct := i * 100 / steps
		switch kind {
		case ktransformers:
			fmt.Fprintf(out, "loading blk.%d.ffn_up_exps.weight to cpu (%d%%)\n", i*6, pct)
		case vllm:
			fmt.Fprintf(out, "INFO [default_loader.py] Loading safetensors checkpoint shards: %3d%% Completed | %d/%d\n", pct, i, steps)
		case sglang:
			fmt.Fprintf(out, "[TP0] Loading safetensors checkpoint shards: %3d%% Completed | %d/%d\n", pct, i, steps)
		case llamaServer:
			fmt.Fprintf(out, "load_tensors: loading model tensors ... %3d%%\n", pct)
		}
	}
}

func listen(cfg engineConfig) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
}

// vllmEnvError reproduces vllm/envs.py get_vllm_port(): a Service named
// "vllm" makes Kubernetes inject VLLM_PORT=tcp://IP:PORT, which vLLM rejects.
func vllmEnvError(getenv func(string) string) error {
	raw := getenv("VLLM_PORT")
	if raw == "" {
		return nil
	}
	if _, err := strconv.Atoi(raw); err == nil {
		return nil
	}
	if scheme, _, found := strings.Cut(raw, "://"); found && scheme != "" {
		return fmt.Errorf("ValueError: VLLM_PORT '%s' appears to be a URI. This may be caused by a Kubernetes service discovery issue,check the warning in: https://docs.vllm.ai/en/stable/serving/env_vars.html", raw)
	}
	return fmt.Errorf("ValueError: VLLM_PORT '%s' must be a valid integer", raw)
}

// runEngine is the whole life of one mock engine process; it returns the exit code.
func runEngine(eng *engine, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if eng.kind == llamaServer {
		args = append(llamaEnvArgs(getenv), args...)
	}
	parsedArgs, err := eng.parser.parse(args)
	var cfg engineConfig
	if err == nil {
		cfg, err = eng.configure(parsedArgs)
	}
	var usageErr *usageError
	if errors.As(err, &usageErr) {
		fmt.Fprintln(stderr, usageErr.message)
		return usageErr.exitCode
	}
	ctl, err := controlsFromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "mock-engine:", err)
		return 2
	}
	fmt.Fprintf(stdout, "mock %s: model %q, load %s, listening on %s when %s\n", eng.kind, cfg.servedModel, ctl.load,
		net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)), map[bool]string{true: "started", false: "loaded"}[eng.listenWhileLoading])

	if eng.kind == vllm {
		if err := vllmEnvError(getenv); err != nil {
			fmt.Fprintf(stderr, "Traceback (most recent call last):\n  File \"vllm/envs.py\", in get_vllm_port\n%v\n", err)
			return 1
		}
		// vLLM 0.14.1 reads VLLM_ENGINE_READY_TIMEOUT_S with int(); it bounds only the short wait for
		// the engine's first message *after* the startup handshake (core_client.py), never the model
		// load (wait_for_engine_startup has no deadline). So the mock checks it and ignores it.
		if raw := getenv("VLLM_ENGINE_READY_TIMEOUT_S"); raw != "" {
			if _, err := strconv.Atoi(raw); err != nil {
				fmt.Fprintf(stderr, "ValueError: invalid literal for int() with base 10: '%s'\n", raw)
				return 1
			}
		}
	}
	if ctl.requirePaths {
		for _, path := range cfg.requiredPaths {
			if _, err := os.Stat(path); err != nil {
				fmt.Fprintln(stderr, eng.missingPathError(path))
				return 1
			}
		}
	}

	warmup := time.Duration(0)
	if eng.hasWarmup && !cfg.skipWarmup {
		warmup = ctl.warmup
	}
	state := newEngineState(time.Now, timeline{load: ctl.load, warmup: warmup}, ctl.hangAfter)
	httpServer := &http.Server{Handler: newServer(eng, cfg, state, stdout), ReadHeaderTimeout: 10 * time.Second}
	serve := func() int {
		ln, err := listen(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: [Errno 98] error while attempting to bind on address %s: %v\n", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)), err)
			return 1
		}
		go func() { _ = httpServer.Serve(ln) }()
		return 0
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	if eng.listenWhileLoading {
		if code := serve(); code != 0 {
			return code
		}
		fmt.Fprintf(stdout, "main: HTTP server is listening, hostname: %s, port: %d\nmain: loading model\n", cfg.host, cfg.port)
	}
	progress(eng.kind, stdout, ctl.load)
	if !eng.listenWhileLoading {
		if code := serve(); code != 0 {
			return code
		}
	}
	switch eng.kind {
	case ktransformers, vllm:
		fmt.Fprintf(stdout, "INFO:     Application startup complete.\nINFO:     Uvicorn running on http://%s (Press CTRL+C to quit)\n", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	case sglang:
		fmt.Fprintf(stdout, "INFO:     Uvicorn running on http://%s (Press CTRL+C to quit)\n", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	}
	go func() {
		time.Sleep(warmup)
		switch eng.kind {
		case sglang:
			fmt.Fprintln(stdout, "The server is fired up and ready to roll!")
		case llamaServer:
			fmt.Fprintln(stdout, "main: model loaded\nmain: server is listening - starting the main loop\nsrv  update_slots: all slots are idle")
		}
	}()
	sig := <-stop
	fmt.Fprintf(stdout, "mock %s: received %s, shutting down\n", eng.kind, sig)
	return 0
}
