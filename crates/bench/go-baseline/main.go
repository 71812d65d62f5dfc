// A Go baseline for the benchmark: the streamed /api/chat path of the older Go program, written
// from its documented design (shared/reference/predecessor.md, sections 2, 4.4, 4.9, 4.11 and
// 6), so that both can be measured on the same machine under the same load. It is not that
// program: it has its hot path and nothing else (streamed and whole /api/chat, no tags, no
// cache, no CORS).
//
// What it keeps from that design, because it sets the cost per request:
//   - one net/http server, Go's default transport for the upstream (2 idle connections per host);
//   - a synchronous access log line per request;
//   - SSE read with bufio.Scanner (lines up to 1 MiB) in its own goroutine, handed over through a
//     16-slot channel, with an idle timer reset per line;
//   - per event: json.Unmarshal into a struct, then one NDJSON line encoded with json.Encoder
//     and flushed on its own;
//   - the final done line however the loop ends.
//
// It prints "listening on http://ADDR" so that proxy-bench can drive it with --proxy.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

var (
	baseURL  = flag.String("openwebui-url", "", "Open WebUI base URL")
	email    = flag.String("email", "", "sign-in email")
	password = flag.String("password", "", "sign-in password (default: $OPENWEBUI_PASSWORD)")
	host     = flag.String("host", "127.0.0.1", "bind address")
	port     = flag.Int("port", 11434, "listen port")
	_        = flag.String("cache-dir", "", "ignored")
	idle     = flag.Duration("stream-idle-timeout", 5*time.Minute, "idle limit on an upstream SSE body")
	version  = flag.Bool("version", false, "print the version and exit")
)

var (
	token  string
	client = &http.Client{} // Go's default transport, as the older program used
)

type message struct {
	Role    string   `json:"role"`
	Content string   `json:"content"`
	Images  []string `json:"images,omitempty"`
}

type chatRequest struct {
	Model    string    `json:"model"`
	Messages []message `json:"messages"`
	Stream   *bool     `json:"stream"`
}

type upstreamMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type upstreamRequest struct {
	Model    string            `json:"model"`
	Messages []upstreamMessage `json:"messages"`
	Stream   bool              `json:"stream"`
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"delta"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

type outMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatLine struct {
	Model         string     `json:"model"`
	CreatedAt     string     `json:"created_at"`
	Message       outMessage `json:"message"`
	Done          bool       `json:"done"`
	DoneReason    string     `json:"done_reason,omitempty"`
	TotalDuration int64      `json:"total_duration,omitempty"`
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func signIn() error {
	body, _ := json.Marshal(map[string]string{"email": *email, "password": *password})
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Post(*baseURL+"/api/v1/auths/signin", "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("signin request: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("signin returned %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(data, &r); err != nil || r.Token == "" {
		return errors.New("signin: empty token")
	}
	token = r.Token
	return nil
}

// statusWriter remembers the first status for the access line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	log.Printf("[error] %s", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func chat(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	stream := req.Stream == nil || *req.Stream
	up := upstreamRequest{Model: req.Model, Stream: stream}
	for _, m := range req.Messages {
		up.Messages = append(up.Messages, upstreamMessage{Role: m.Role, Content: m.Content})
	}
	body, _ := json.Marshal(up)
	ureq, err := http.NewRequestWithContext(r.Context(), http.MethodPost, *baseURL+"/api/chat/completions", bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	ureq.Header.Set("Content-Type", "application/json")
	ureq.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(ureq)
	if err != nil {
		writeError(w, http.StatusBadGateway, "upstream: "+err.Error())
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		writeError(w, resp.StatusCode, strings.TrimSpace(string(data)))
		return
	}
	if !stream {
		whole(w, resp.Body, req.Model)
		return
	}
	relay(w, resp.Body, req.Model)
}

func whole(w http.ResponseWriter, body io.Reader, model string) {
	var c chunk
	if err := json.NewDecoder(body).Decode(&c); err != nil || len(c.Choices) == 0 {
		writeError(w, http.StatusBadGateway, "upstream reply")
		return
	}
	reason := "stop"
	if c.Choices[0].FinishReason != nil {
		reason = *c.Choices[0].FinishReason
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(chatLine{Model: model, CreatedAt: now(),
		Message: outMessage{Role: "assistant", Content: c.Choices[0].Message.Content},
		Done:    true, DoneReason: reason})
}

func relay(w http.ResponseWriter, body io.ReadCloser, model string) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	started := time.Now()
	lines := make(chan string, 16)
	timer := time.AfterFunc(*idle, func() { body.Close() })
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			timer.Reset(*idle)
			lines <- sc.Text()
		}
		if err := sc.Err(); err != nil {
			log.Printf("[chat/stream] SSE read error: %v", err)
		}
	}()

	enc := json.NewEncoder(w)
	reason := ""
	for line := range lines {
		if !strings.HasPrefix(line, "data:") {
			continue
		}
		data := strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		if data == "" {
			continue
		}
		if data == "[DONE]" {
			break
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			log.Printf("[chat/stream] chunk parse error")
			continue
		}
		if len(c.Choices) == 0 {
			continue
		}
		ch := c.Choices[0]
		if ch.FinishReason != nil {
			reason = *ch.FinishReason
		}
		if ch.Delta.Content == "" && ch.FinishReason == nil {
			continue
		}
		_ = enc.Encode(chatLine{Model: model, CreatedAt: now(),
			Message: outMessage{Role: "assistant", Content: ch.Delta.Content}})
		flusher.Flush()
	}
	timer.Stop()
	for range lines { // let the reader goroutine end
	}
	if reason == "" {
		reason = "stop"
	}
	_ = enc.Encode(chatLine{Model: model, CreatedAt: now(),
		Message: outMessage{Role: "assistant"}, Done: true, DoneReason: reason,
		TotalDuration: time.Since(started).Nanoseconds()})
	flusher.Flush()
}

func main() {
	flag.Parse()
	if *version {
		fmt.Println("go-baseline (the older program's streamed chat path)")
		return
	}
	if *password == "" {
		*password = os.Getenv("OPENWEBUI_PASSWORD")
	}
	if *baseURL == "" || *email == "" || *password == "" {
		fmt.Fprintln(os.Stderr, "Error: required flags: --openwebui-url, --email, --password")
		os.Exit(1)
	}
	*baseURL = strings.TrimRight(*baseURL, "/")
	if err := signIn(); err != nil {
		log.Fatalf("Upstream not available: authorization: %v", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("Server error: %v", err)
	}
	log.Printf("Ollama proxy started on %s", ln.Addr())
	log.Printf("listening on http://%s", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/api/chat", chat)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		mux.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		log.Printf("[%s] %s %s %d %v", r.RemoteAddr, r.Method, r.URL.Path, sw.status, time.Since(start))
	})
	log.Fatal(http.Serve(ln, handler))
}
