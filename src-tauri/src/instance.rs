//! One tray process per user: an exclusive lock on a file beside the local channel's
//! endpoint, held for the life of the process (the OS releases it when the process ends), so
//! two starts at the same instant cannot both become the tray.

use std::io;
use std::path::Path;

/// Whether this process may be the tray.
#[derive(Debug)]
pub enum Instance {
    /// This process holds the lock (kept open for the process's life).
    First(std::fs::File),
    /// Another tray process holds it.
    Taken,
}

/// Takes the exclusive lock that makes one tray process per user: a file beside the
/// endpoint, locked for the life of the process (the OS releases it when the process ends).
pub fn claim_instance(endpoint_path: &Path) -> io::Result<Instance> {
    crate::ipc::private_parent(endpoint_path)?;
    let lock = endpoint_path.with_file_name("tray.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock)?;
    match file.try_lock() {
        Ok(()) => Ok(Instance::First(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Instance::Taken),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tray_process_holds_the_instance_lock() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = dir.path().join("run").join("ipc.json");
        let first = claim_instance(&endpoint).unwrap();
        assert!(matches!(first, Instance::First(_)), "{first:?}");
        let second = claim_instance(&endpoint).unwrap();
        assert!(matches!(second, Instance::Taken), "{second:?}");
        drop(first);
        let third = claim_instance(&endpoint).unwrap();
        assert!(
            matches!(third, Instance::First(_)),
            "the lock ends with its holder"
        );
    }
}
