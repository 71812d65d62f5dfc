# Shared environment for the scripts: build output and caches live outside the clone, so a
# fresh clone reuses them and a no-change run takes seconds.
export CACHE_ROOT="${OPENWEBUI_PROXY_CACHE_ROOT:-$HOME/.cache/openwebui-ollama-proxy}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_ROOT/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CACHE_ROOT"
