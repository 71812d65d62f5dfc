//! Logging for the app: `tracing` to a daily-rotated file in the OS log folder (seven files
//! kept) and to stderr, filtered by `RUST_LOG` (default: info). The core never logs secrets or
//! prompts at these levels. Also "Open logs": the newest file, or the folder.

use crate::error::CommandError;
use std::path::{Path, PathBuf};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// File name prefix of the log files (`openwebui-ollama-proxy.2026-11-30.log`).
pub const PREFIX: &str = "openwebui-ollama-proxy";
const DEFAULT_FILTER: &str = "info,tower_http=info";

/// The app's log folder (where Tauri's `app_log_dir` put it): `~/Library/Logs/<id>` on macOS,
/// `<local data>/<id>/logs` elsewhere.
pub fn default_dir() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    if cfg!(target_os = "macos") {
        Some(base.home_dir().join("Library/Logs").join(crate::IDENTIFIER))
    } else {
        Some(base.data_local_dir().join(crate::IDENTIFIER).join("logs"))
    }
}

/// Installs the subscriber writing to `dir`; returns the folder.
pub fn init(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let file = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(PREFIX)
        .filename_suffix("log")
        .max_log_files(7)
        .build(dir)?;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_ansi(false).with_writer(file))
        .with(fmt::layer().with_writer(std::io::stderr))
        .try_init()?;
    Ok(dir.to_path_buf())
}

/// The newest log file in `dir`, if any.
pub fn newest(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// Opens the newest log file in `dir` (or the folder) with the system's default app.
pub fn open(dir: &Path) -> Result<(), CommandError> {
    let target = newest(dir).unwrap_or_else(|| dir.to_path_buf());
    open::that_detached(&target)
        .map_err(|e| CommandError::internal(format!("cannot open {}: {e}", target.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_picks_the_latest_log_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(newest(dir.path()).is_none());
        std::fs::write(dir.path().join(format!("{PREFIX}.2026-11-29.log")), "a").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join(format!("{PREFIX}.2026-11-30.log")), "b").unwrap();
        std::fs::write(dir.path().join("other.txt"), "c").unwrap();
        let got = newest(dir.path()).unwrap();
        assert!(
            got.ends_with(format!("{PREFIX}.2026-11-30.log")),
            "{}",
            got.display()
        );
    }
}
