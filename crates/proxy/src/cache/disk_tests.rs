//! The disk tier: private modes, atomic writes, bad files dropped, sweeping and clearing.

use super::*;

fn open(dir: &Path) -> DiskCache {
    DiskCache::open(dir, &CacheKey::generate()).unwrap()
}

fn only_file(dir: &Path) -> PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn entries_round_trip_with_private_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("cache");
    let c = open(&dir);
    assert!(c.write_json("ns", &vec![1, 2, 3]));
    assert_eq!(c.read_json::<Vec<u32>>("ns"), Some(vec![1, 2, 3]));
    assert_eq!(c.read("other"), None);
    let file = only_file(&dir);
    assert!(is_entry_name(&file.file_name().unwrap().to_string_lossy()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&file), 0o600);
    }
}

#[test]
fn tampered_file_is_deleted_and_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let c = open(tmp.path());
    c.write("ns", b"payload");
    let file = only_file(tmp.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(c.read("ns"), None);
    assert!(!file.exists(), "the tampered file must be deleted");
}

#[test]
fn foreign_key_truncated_and_garbage_files_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let key = CacheKey::generate();
    let c = DiskCache::open(tmp.path(), &key).unwrap();
    let name = c.envelope().file_name("ns");
    let other = tempfile::tempdir().unwrap();
    let stranger = open(other.path());
    stranger.write("ns", b"from another key");
    let foreign = other.path().join(stranger.envelope().file_name("ns"));
    std::fs::copy(foreign, tmp.path().join(&name)).unwrap();
    assert_eq!(c.read("ns"), None, "an entry under another key");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    for junk in [
        &b""[..],
        b"OWPc",
        b"not an envelope at all, clearly not",
        &[0u8; 100],
    ] {
        std::fs::write(tmp.path().join(&name), junk).unwrap();
        assert_eq!(c.read("ns"), None);
        assert!(!tmp.path().join(&name).exists());
    }
    c.write("ns", b"good");
    let sealed = std::fs::read(tmp.path().join(&name)).unwrap();
    std::fs::write(tmp.path().join(&name), &sealed[..sealed.len() - 1]).unwrap();
    assert_eq!(c.read("ns"), None, "truncated");
    std::fs::write(tmp.path().join(&name), b"{not json").unwrap();
    assert_eq!(c.read_json::<u32>("ns"), None);
}

#[test]
fn undecodable_json_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let c = open(tmp.path());
    c.write("ns", b"{not json");
    assert_eq!(c.read_json::<Vec<u32>>("ns"), None);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn sweep_removes_old_entries_and_foreign_envelopes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let c = open(tmp.path());
    c.write("keep", b"fresh");
    c.write("old", b"old");
    let old = tmp.path().join(c.envelope().file_name("old"));
    let f = std::fs::File::options().write(true).open(&old).unwrap();
    f.set_modified(SystemTime::now() - MAX_AGE - Duration::from_secs(60))
        .unwrap();
    let junk = tmp.path().join(format!("{}.bin", "ab".repeat(32)));
    std::fs::write(&junk, b"GIF89a not ours").unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"user file").unwrap();
    assert_eq!(c.sweep(), 2);
    assert!(!old.exists() && !junk.exists());
    assert_eq!(
        c.read("keep").as_deref().map(Vec::as_slice),
        Some(&b"fresh"[..])
    );
    assert!(
        tmp.path().join("notes.txt").exists(),
        "files that are not ours stay"
    );
}

#[test]
fn clear_removes_our_files_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let c = open(&dir);
    c.write("a", b"1");
    c.write("b", b"2");
    assert_eq!(c.clear().unwrap(), 2);
    assert!(!dir.exists(), "the emptied folder goes too");
    assert_eq!(clear_dir(&dir).unwrap(), 0, "a missing folder is fine");
    let c = open(&dir);
    c.write("a", b"1");
    std::fs::write(dir.join("mine.txt"), b"x").unwrap();
    assert_eq!(clear_dir(&dir).unwrap(), 1);
    assert!(dir.join("mine.txt").exists());
}

#[test]
fn the_system_temp_folder_is_refused() {
    let err = DiskCache::open(std::env::temp_dir(), &CacheKey::generate()).unwrap_err();
    assert!(matches!(err, DiskError::Shared(_)), "{err}");
}

#[test]
fn writes_are_atomic_and_leave_no_temp_files() {
    let tmp = tempfile::tempdir().unwrap();
    let c = open(tmp.path());
    for i in 0..20u32 {
        assert!(c.write_json("ns", &i));
    }
    assert_eq!(c.read_json::<u32>("ns"), Some(19));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn a_closed_cache_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path());
    assert!(cache.write("ns", b"first"));
    cache.clear().unwrap();
    assert!(
        !cache.write("ns", b"after the clear"),
        "a write after clear must be skipped"
    );
    let left = std::fs::read_dir(tmp.path())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "nothing may be left in the cache folder");
}
