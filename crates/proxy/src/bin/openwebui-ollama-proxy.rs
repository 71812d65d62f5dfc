//! The headless proxy: flags and environment → a validated [`proxy::Config`], credentials from
//! the environment, a file, stdin or the OS keychain (never required on the command line), a
//! tracing subscriber, and [`proxy::serve`] until SIGINT/SIGTERM. Accepts every flag of the
//! older Go program of the same name, Go-style single-dash spellings included.

use anyhow::{bail, Context};
use clap::Parser;
use proxy::config::{self, human_bytes, parse_duration, parse_host, Config};
use proxy::credentials::names;
use proxy::events::EventSink;
use proxy::{AppState, Credentials};
use secrecy::SecretString;
use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "openwebui-ollama-proxy/security.rs"]
mod security;

const NAME: &str = "openwebui-ollama-proxy";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const BUILD: &str = match option_env!("OPENWEBUI_PROXY_BUILD") {
    Some(b) => b,
    None => "00000000",
};
const UPDATED: &str = match option_env!("OPENWEBUI_PROXY_UPDATED") {
    Some(d) => d,
    None => "unknown",
};
const DESCRIPTION: &str = "Serves the Ollama HTTP API on this machine and answers it with the \
models of an Open WebUI server, so any Ollama client can use them.";

/// Command-line flags; each also reads an environment variable.
#[derive(Parser, Debug)]
#[command(name = NAME, version, about = DESCRIPTION, disable_version_flag = true)]
struct Args {
    /// Open WebUI base URL (a path prefix is kept)
    #[arg(long, env = "OPENWEBUI_URL", value_name = "URL")]
    openwebui_url: Option<String>,
    /// Account email for password sign-in
    #[arg(long, env = "OPENWEBUI_EMAIL")]
    email: Option<String>,
    /// Password (prefer OPENWEBUI_PASSWORD, --password-file or --password-stdin)
    #[arg(long, env = "OPENWEBUI_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Read the password from this file (first line)
    #[arg(long, env = "OPENWEBUI_PASSWORD_FILE", value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// Read the password from standard input (first line)
    #[arg(long)]
    password_stdin: bool,
    /// Open WebUI API key, instead of email and password (prefer OPENWEBUI_API_KEY)
    #[arg(long, env = "OPENWEBUI_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Read the API key from this file (first line)
    #[arg(long, env = "OPENWEBUI_API_KEY_FILE", value_name = "PATH")]
    api_key_file: Option<PathBuf>,
    /// Address to listen on (IPv4, IPv6 or localhost)
    #[arg(long, env = "OPENWEBUI_PROXY_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one)
    #[arg(long, env = "OPENWEBUI_PROXY_PORT", default_value_t = 11434)]
    port: u16,
    /// Cache folder (default: the OS cache folder)
    #[arg(long, env = "OPENWEBUI_PROXY_CACHE_DIR", value_name = "PATH")]
    cache_dir: Option<PathBuf>,
    /// Largest request body in bytes
    #[arg(long, env = "OPENWEBUI_PROXY_MAX_BODY", default_value_t = 104_857_600)]
    max_body: usize,
    /// Largest upstream error body read, in bytes
    #[arg(
        long,
        env = "OPENWEBUI_PROXY_MAX_ERROR_BODY",
        default_value_t = 1_048_576
    )]
    max_error_body: usize,
    /// How long the model list stays fresh
    #[arg(long, env = "OPENWEBUI_PROXY_TAGS_TTL", default_value = "10m")]
    tags_ttl: String,
    /// How long model details stay fresh
    #[arg(long, env = "OPENWEBUI_PROXY_SHOW_TTL", default_value = "30m")]
    show_ttl: String,
    /// Limit for sign-in, the model list and a stream's first byte
    #[arg(long, env = "OPENWEBUI_PROXY_TIMEOUT", default_value = "30s")]
    timeout: String,
    /// Longest silence inside a stream (0 = none); also bounds non-streamed answers
    #[arg(
        long,
        env = "OPENWEBUI_PROXY_STREAM_IDLE_TIMEOUT",
        default_value = "5m"
    )]
    stream_idle_timeout: String,
    /// How long open requests may finish at shutdown
    #[arg(long, env = "OPENWEBUI_PROXY_SHUTDOWN_TIMEOUT", default_value = "5s")]
    shutdown_timeout: String,
    /// Extra allowed browser origins, comma-separated (e.g. chrome-extension://*)
    #[arg(long, env = "OLLAMA_ORIGINS", default_value = "")]
    cors_origins: String,
    /// Requests per second per client address (0 = no limit)
    #[arg(long, env = "OPENWEBUI_PROXY_RATE_LIMIT", default_value_t = 0)]
    rate_limit: u32,
    #[command(flatten)]
    security: security::SecurityArgs,
    /// Version reported by /api/version
    #[arg(long, env = "OPENWEBUI_PROXY_OLLAMA_VERSION", default_value = config::DEFAULT_OLLAMA_VERSION)]
    ollama_version: String,
    /// Worker threads: 1 runs everything on one thread (lowest CPU per request), 0 = one per CPU
    #[arg(long, env = "OPENWEBUI_PROXY_THREADS", default_value_t = 1)]
    threads: usize,
    /// Print build information and exit
    #[arg(short = 'i')]
    info_short: bool,
    /// Print build information (`json` for JSON) and exit
    #[arg(long, value_name = "FORMAT")]
    info: Option<String>,
    /// Print the version and exit
    #[arg(short = 'V', long = "version")]
    version: bool,
}

fn main() -> ExitCode {
    proxy::memory::return_large_allocations_when_freed();
    let argv = go_style_args(std::env::args());
    let args = match Args::try_parse_from(&argv) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    if args.version {
        println!("{NAME} {VERSION}");
        return ExitCode::SUCCESS;
    }
    if args.info_short || args.info.as_deref().is_some_and(|s| !s.is_empty()) {
        print_info(args.info.as_deref() == Some("json"));
        return ExitCode::SUCCESS;
    }
    init_tracing();
    if args.security.clear_data {
        return match clear_data(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("Error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(args, &argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Go's flag package accepts `-flag` for `--flag`; clap does not, so rewrite those.
fn go_style_args(args: impl Iterator<Item = String>) -> Vec<String> {
    args.enumerate()
        .map(|(i, a)| {
            let single = a.starts_with('-') && !a.starts_with("--") && a.len() > 2;
            let is_flag = single && a[1..].starts_with(|c: char| c.is_ascii_alphabetic());
            if i > 0 && is_flag {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

fn print_info(json: bool) {
    if json {
        let v = serde_json::json!({
            "name": NAME, "version": VERSION, "updated": UPDATED, "build": BUILD,
            "description": DESCRIPTION,
        });
        println!("{v}");
    } else {
        println!("Name: {NAME} {VERSION}\nUpdated: {UPDATED}\nBuild: {BUILD}\n\n{DESCRIPTION}");
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("openwebui_ollama_proxy=info,proxy=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn run(args: Args, argv: &[String]) -> anyhow::Result<()> {
    let (config, creds) = configure(&args)?;
    security::warn_exposure(&config, argv);
    let key = security::cache_key(&args.security, &config, NAME)?;
    let rt = runtime(args.threads)?;
    rt.block_on(serve(config, creds, key))
}

/// One thread serves a local proxy's load with the least CPU per request (no cross-thread
/// wake-ups); more threads are for proxies shared by many clients.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if threads > 1 {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

fn configure(args: &Args) -> anyhow::Result<(Config, Credentials)> {
    let Some(url) = args
        .openwebui_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    else {
        bail!(
            "required flags: --openwebui-url, and --email with a password or an API key\n\n{}",
            usage()
        );
    };
    let upstream = config::parse_upstream_url(url)?;
    let mut c = Config::new(upstream);
    c.listen = SocketAddr::new(parse_host(&args.host)?, args.port);
    c.max_body = args.max_body;
    c.max_error_body = args.max_error_body;
    c.tags_ttl = parse_duration(&args.tags_ttl).context("--tags-ttl")?;
    c.show_ttl = parse_duration(&args.show_ttl).context("--show-ttl")?;
    c.timeout = parse_duration(&args.timeout).context("--timeout")?;
    let idle = parse_duration(&args.stream_idle_timeout).context("--stream-idle-timeout")?;
    c.stream_idle_timeout = (!idle.is_zero()).then_some(idle);
    c.shutdown_timeout = parse_duration(&args.shutdown_timeout).context("--shutdown-timeout")?;
    c.cors_origins = config::parse_origins(&args.cors_origins).context("--cors-origins")?;
    c.rate_limit = (args.rate_limit > 0).then_some(args.rate_limit);
    c.ollama_version = args.ollama_version.clone();
    security::apply(&args.security, args.cache_dir.clone(), &mut c)?;
    let creds = credentials(args, c.upstream.as_str())?;
    Ok((c, creds))
}

fn usage() -> String {
    format!("{NAME} {VERSION}  (build: {BUILD})\n\nRun with --help for all flags.")
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('\r')
        .to_string()
}

fn read_secret_file(path: &PathBuf, what: &str) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} file {}", path.display()))?;
    let line = first_line(&text);
    if line.is_empty() {
        bail!("the {what} file {} is empty", path.display());
    }
    Ok(SecretString::from(line))
}

fn credentials(args: &Args, server: &str) -> anyhow::Result<Credentials> {
    let key = match (&args.api_key, &args.api_key_file) {
        (Some(k), _) if !k.is_empty() => Some(SecretString::from(k.clone())),
        (_, Some(p)) => Some(read_secret_file(p, "API key")?),
        _ => None,
    };
    if let Some(k) = key {
        return Ok(Credentials::ApiKey(k));
    }
    let Some(email) = args.email.clone().filter(|e| !e.is_empty()) else {
        if let Some(k) = keychain(&names::api_key(server)) {
            return Ok(Credentials::ApiKey(k));
        }
        bail!("required flags: --email with a password (OPENWEBUI_PASSWORD, --password-file, --password-stdin), or an API key (OPENWEBUI_API_KEY)\n\n{}", usage());
    };
    let password = if let Some(p) = args.password.clone().filter(|p| !p.is_empty()) {
        SecretString::from(p)
    } else if let Some(p) = &args.password_file {
        read_secret_file(p, "password")?
    } else if args.password_stdin {
        read_stdin_password()?
    } else if let Some(p) = keychain(&names::password(server, &email)) {
        p
    } else {
        bail!("required flags: a password for {email}: set OPENWEBUI_PASSWORD, or use --password-file or --password-stdin\n\n{}", usage());
    };
    Ok(Credentials::Password { email, password })
}

fn read_stdin_password() -> anyhow::Result<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Open WebUI password: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let line = first_line(&line);
    if line.is_empty() {
        bail!("no password on standard input");
    }
    Ok(SecretString::from(line))
}

/// `--clear-data` with the OS keychain (or nothing, without keychain support).
fn clear_data(args: &Args) -> anyhow::Result<()> {
    #[cfg(feature = "keyring")]
    let store = proxy::credentials::KeyringStore::new(NAME);
    #[cfg(not(feature = "keyring"))]
    let store = proxy::MemoryStore::new();
    security::clear_data(&args.security, args.cache_dir.clone(), &store)
}

/// A secret the tray app stored in the OS keychain, if any.
fn keychain(name: &str) -> Option<SecretString> {
    #[cfg(feature = "keyring")]
    {
        use proxy::credentials::SecretStore;
        proxy::credentials::KeyringStore::new(NAME)
            .get(name)
            .ok()
            .flatten()
    }
    #[cfg(not(feature = "keyring"))]
    {
        let _ = name;
        None
    }
}

async fn serve(
    config: Config,
    creds: Credentials,
    key: Option<proxy::cache::CacheKey>,
) -> anyhow::Result<()> {
    let addr = config.listen;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "cannot listen on {addr}: the address is in use (another Ollama may be running on port {}): use --port",
            addr.port()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
    };
    tracing::info!(
        upstream = %config.upstream,
        max_body = %human_bytes(config.max_body),
        timeout = ?config.timeout,
        stream_idle = ?config.stream_idle_timeout,
        "Open WebUI: {}", config.upstream
    );
    let state = match &key {
        Some(key) => AppState::with_disk_cache(config, creds, EventSink::default(), key)?,
        None => AppState::new(config, creds, EventSink::default())?,
    };
    let check = state.clone();
    tokio::spawn(async move {
        match check.check_upstream().await {
            Ok(set) => tracing::info!(models = set.models.len(), "Open WebUI OK"),
            Err(e) => {
                tracing::warn!(error = %e, "Open WebUI not available yet; requests will retry")
            }
        }
    });
    proxy::serve(listener, state, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received, stopping");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_single_dash_flags_become_long_flags() {
        let args = [
            "bin",
            "-openwebui-url",
            "http://x",
            "-i",
            "--port",
            "1",
            "-port=2",
            "-1",
        ];
        let out = go_style_args(args.iter().map(|s| s.to_string()));
        assert_eq!(
            out,
            [
                "bin",
                "--openwebui-url",
                "http://x",
                "-i",
                "--port",
                "1",
                "--port=2",
                "-1"
            ]
        );
    }
}
