//! The local channel between the tray process and the settings window process: JSON lines over
//! loopback TCP, opened with a random token. The tray binds `127.0.0.1:0` and writes
//! `{port, token}` to [`endpoint_path`] (a file only the user can read: mode 0600 in a 0700
//! folder under `$XDG_RUNTIME_DIR` on Linux, the per-user local app data folder elsewhere). A
//! client's first line is the token; then it sends [`Request`]s and receives [`Message`]s:
//! replies to its requests and pushed events (`proxy://status`, `app://autostart`,
//! `app://show`). A second start of the tray uses the same channel to ask the first to show
//! its window.

use crate::error::CommandError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Where the tray publishes its endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Loopback port.
    pub port: u16,
    /// The secret a client sends first.
    pub token: String,
}

/// A command from a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// Echoed in the reply.
    pub id: u64,
    /// The command name (the window's `#[tauri::command]` names).
    pub cmd: String,
    /// The command's arguments, as the window received them.
    #[serde(default)]
    pub args: Value,
}

/// What the tray sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Message {
    /// The answer to request `id`: `Ok` value or `Err` [`CommandError`] as JSON.
    Reply {
        /// The request's id.
        id: u64,
        /// The outcome.
        result: Result<Value, Value>,
    },
    /// Something happened; forwarded to the window under `name`.
    Event {
        /// The event name, e.g. `proxy://status`.
        name: String,
        /// Its payload.
        payload: Value,
    },
}

/// The endpoint file's path, when the OS gives a folder for it.
pub fn endpoint_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "openwebui-ollama-proxy")?;
    let dir = dirs
        .runtime_dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dirs.data_local_dir().to_path_buf());
    Some(dir.join("ipc.json"))
}

/// Writes `endpoint` to `path`, readable by the user only.
pub fn write_endpoint(path: &Path, endpoint: &Endpoint) -> io::Result<()> {
    private_parent(path)?;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let text = serde_json::to_string(endpoint).map_err(io::Error::other)?;
    std::io::Write::write_all(&mut file, text.as_bytes())
}

/// Reads the endpoint file.
pub fn read_endpoint(path: &Path) -> io::Result<Endpoint> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Handles one command for a client.
pub type Handler = Arc<
    dyn Fn(String, Value) -> Pin<Box<dyn Future<Output = Result<Value, CommandError>> + Send>>
        + Send
        + Sync,
>;

/// The role a settings window process announces after the token.
pub const WINDOW_ROLE: &str = "window";

/// The tray's side: accepts clients, answers their commands, pushes events to all of them.
pub struct Server {
    endpoint: Endpoint,
    events: broadcast::Sender<(String, Value)>,
    windows: Arc<AtomicUsize>,
}

impl Server {
    /// Binds a loopback port with a fresh token and serves `handler` on the current runtime.
    pub async fn bind(handler: Handler) -> io::Result<Self> {
        use rand::RngCore as _;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let endpoint = Endpoint {
            port: listener.local_addr()?.port(),
            token,
        };
        let (events, _) = broadcast::channel(64);
        let windows = Arc::new(AtomicUsize::new(0));
        let (token, tx, count) = (endpoint.token.clone(), events.clone(), windows.clone());
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        let conn = Connection {
                            token: token.clone(),
                            handler: handler.clone(),
                            events: tx.subscribe(),
                            windows: count.clone(),
                        };
                        tokio::spawn(conn.serve(stream));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ipc accept failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        Ok(Server {
            endpoint,
            events,
            windows,
        })
    }

    /// Port and token for the endpoint file.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends an event to every connected client.
    pub fn emit(&self, name: &str, payload: Value) {
        let _ = self.events.send((name.to_string(), payload));
    }

    /// How many settings window processes are connected.
    pub fn windows(&self) -> usize {
        self.windows.load(Ordering::SeqCst)
    }
}

struct Connection {
    token: String,
    handler: Handler,
    events: broadcast::Receiver<(String, Value)>,
    windows: Arc<AtomicUsize>,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        let (read, mut write) = stream.into_split();
        // The first line is short (token and role); nothing longer is read before it checks.
        let mut reader = BufReader::new(read).take(256);
        let mut line = String::new();
        let hello = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await;
        if !matches!(hello, Ok(Ok(n)) if n > 0 && line.ends_with('\n')) {
            return;
        }
        reader.set_limit(u64::MAX);
        let mut lines = reader.lines();
        let (token, role) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        if !same(token, &self.token) {
            tracing::warn!("ipc client refused: wrong token");
            return;
        }
        let window = role == WINDOW_ROLE;
        if window {
            self.windows.fetch_add(1, Ordering::SeqCst);
        }
        let (replies, mut outbox) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    m = outbox.recv() => match m { Some(m) => m, None => break },
                    e = self.events.recv() => match e {
                        Ok((name, payload)) => Message::Event { name, payload },
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                };
                if write_line(&mut write, &message).await.is_err() {
                    break;
                }
            }
        });
        while let Ok(Some(line)) = lines.next_line().await {
            let request: Request = match serde_json::from_str(&line) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "ipc: bad request");
                    continue;
                }
            };
            let (handler, replies) = (self.handler.clone(), replies.clone());
            tokio::spawn(async move {
                let result = handler(request.cmd, request.args)
                    .await
                    .map_err(|e| serde_json::to_value(e).unwrap_or(Value::Null));
                let _ = replies.send(Message::Reply {
                    id: request.id,
                    result,
                });
            });
        }
        writer.abort();
        if window {
            self.windows.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

async fn write_line(write: &mut OwnedWriteHalf, value: &impl Serialize) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, Value>>>>>;

/// Creates `path`'s folder, private to the user.
pub(crate) fn private_parent(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    Ok(())
}

/// The window's side (and a second tray start's): sends commands, receives events.
pub struct Client {
    write: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    closed: Arc<AtomicBool>,
    next: AtomicU64,
}

impl Client {
    /// Connects to `endpoint` as `role` ([`WINDOW_ROLE`] or ""); events arrive on the returned
    /// receiver, which closes when the tray goes away.
    pub async fn connect(
        endpoint: &Endpoint,
        role: &str,
    ) -> io::Result<(Self, mpsc::UnboundedReceiver<(String, Value)>)> {
        let stream = TcpStream::connect(("127.0.0.1", endpoint.port)).await?;
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("{} {role}\n", endpoint.token).as_bytes())
            .await?;
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let (events, rx) = mpsc::unbounded_channel();
        let (waiting, done) = (pending.clone(), closed.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Message>(&line) {
                    Ok(Message::Reply { id, result }) => {
                        let tx = waiting.lock().ok().and_then(|mut p| p.remove(&id));
                        if let Some(tx) = tx {
                            let _ = tx.send(result);
                        }
                    }
                    Ok(Message::Event { name, payload }) => {
                        let _ = events.send((name, payload));
                    }
                    Err(e) => tracing::warn!(error = %e, "ipc: bad message"),
                }
            }
            done.store(true, Ordering::SeqCst);
            if let Ok(mut p) = waiting.lock() {
                p.clear();
            }
        });
        let client = Client {
            write: tokio::sync::Mutex::new(write),
            pending,
            closed,
            next: AtomicU64::new(1),
        };
        Ok((client, rx))
    }

    /// Runs `cmd` in the tray; `Err` carries the [`CommandError`] as JSON.
    pub async fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        let gone = || {
            serde_json::to_value(CommandError::internal("the tray app is not running"))
                .unwrap_or(Value::Null)
        };
        if self.closed.load(Ordering::SeqCst) {
            return Err(gone());
        }
        let request = Request {
            id,
            cmd: cmd.to_string(),
            args,
        };
        if write_line(&mut *self.write.lock().await, &request)
            .await
            .is_err()
        {
            return Err(gone());
        }
        rx.await.unwrap_or_else(|_| Err(gone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    #[tokio::test]
    async fn commands_replies_and_events_round_trip() {
        let handler: Handler = Arc::new(|cmd, args| {
            Box::pin(async move {
                match cmd.as_str() {
                    "echo" => Ok(args),
                    _ => Err(CommandError::new("unknown_command", cmd)),
                }
            })
        });
        let server = Server::bind(handler).await.unwrap();
        let (client, mut events) = Client::connect(server.endpoint(), WINDOW_ROLE)
            .await
            .unwrap();
        assert_eq!(
            client.call("echo", json!({"a": 1})).await,
            Ok(json!({"a": 1}))
        );
        let err = client.call("nope", Value::Null).await.unwrap_err();
        assert_eq!(err["kind"], "unknown_command");
        assert_eq!(server.windows(), 1);
        server.emit("proxy://status", json!({"proxy": "running"}));
        let (name, payload) = events.recv().await.unwrap();
        assert_eq!(name, "proxy://status");
        assert_eq!(payload["proxy"], "running");
    }

    #[tokio::test]
    async fn a_wrong_token_is_refused() {
        let handler: Handler = Arc::new(|_, args| Box::pin(async move { Ok(args) }));
        let server = Server::bind(handler).await.unwrap();
        let mut endpoint = server.endpoint().clone();
        endpoint.token = "0".repeat(64);
        let (client, _events) = Client::connect(&endpoint, WINDOW_ROLE).await.unwrap();
        assert!(client.call("echo", Value::Null).await.is_err());
        assert_eq!(server.windows(), 0);
    }

    #[test]
    fn the_endpoint_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("ipc.json");
        let endpoint = Endpoint {
            port: 4242,
            token: "t".into(),
        };
        write_endpoint(&path, &endpoint).unwrap();
        write_endpoint(&path, &endpoint).unwrap();
        assert_eq!(read_endpoint(&path).unwrap(), endpoint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
