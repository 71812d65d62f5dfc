//! Envelope round trips and every way a file can be wrong.

use super::*;
use crate::credentials::MemoryStore;

fn env() -> Envelope {
    Envelope::new(&CacheKey::generate())
}

#[test]
fn round_trip() {
    let e = env();
    for msg in [&b""[..], b"x", &[7u8; 10_000]] {
        let sealed = e.seal("models\nhttp://h\nu@x", msg).unwrap();
        assert_eq!(&sealed[..4], &MAGIC);
        assert_eq!(sealed[4], VERSION);
        assert_eq!(sealed.len(), MIN_LEN + msg.len());
        assert_eq!(
            e.open("models\nhttp://h\nu@x", &sealed).unwrap().as_slice(),
            msg
        );
    }
}

#[test]
fn nonces_are_fresh_per_write() {
    let e = env();
    let a = e.seal("ns", b"same").unwrap();
    let b = e.seal("ns", b"same").unwrap();
    assert_ne!(a, b);
}

#[test]
fn wrong_key_fails() {
    let sealed = env().seal("ns", b"secret").unwrap();
    assert_eq!(
        env().open("ns", &sealed).unwrap_err(),
        CryptoError::Authentication
    );
}

#[test]
fn wrong_namespace_fails() {
    let e = env();
    let sealed = e.seal("session\nhttp://a\nx", b"secret").unwrap();
    assert_eq!(
        e.open("session\nhttp://b\nx", &sealed).unwrap_err(),
        CryptoError::Authentication
    );
}

#[test]
fn wrong_magic_and_version_fail() {
    let e = env();
    let mut sealed = e.seal("ns", b"secret").unwrap();
    sealed[0] ^= 1;
    assert_eq!(e.open("ns", &sealed).unwrap_err(), CryptoError::BadMagic);
    sealed[0] ^= 1;
    sealed[4] = 2;
    assert_eq!(e.open("ns", &sealed).unwrap_err(), CryptoError::Version(2));
}

#[test]
fn every_flipped_bit_fails() {
    let e = env();
    let sealed = e.seal("ns", b"a short secret").unwrap();
    for i in 0..sealed.len() {
        for bit in 0..8 {
            let mut t = sealed.clone();
            t[i] ^= 1 << bit;
            assert!(e.open("ns", &t).is_err(), "byte {i} bit {bit}");
        }
    }
}

#[test]
fn truncated_files_fail() {
    let e = env();
    let sealed = e.seal("ns", b"a short secret").unwrap();
    for len in 0..sealed.len() {
        assert!(e.open("ns", &sealed[..len]).is_err(), "length {len}");
    }
    assert!(matches!(
        e.open("ns", &sealed[..3]),
        Err(CryptoError::TooShort(3))
    ));
}

#[test]
fn names_are_keyed_and_bindings_separate_parts() {
    let key = CacheKey::generate();
    let (a, b) = (Envelope::new(&key), Envelope::new(&key));
    assert_eq!(a.file_name("ns"), b.file_name("ns"));
    assert_ne!(a.file_name("ns"), env().file_name("ns"));
    assert_eq!(a.file_name("ns").len(), 64 + 4);
    assert_ne!(a.bind(&[b"ab", b"c"]), a.bind(&[b"a", b"bc"]));
    assert!(ct_eq(&a.bind(&[b"x"]), &b.bind(&[b"x"])));
}

#[test]
fn key_is_created_once_in_the_store_and_never_printed() {
    let store = MemoryStore::new();
    let k1 = CacheKey::from_store(&store).unwrap();
    let k2 = CacheKey::from_store(&store).unwrap();
    assert_eq!(k1.encode().expose_secret(), k2.encode().expose_secret());
    assert_eq!(format!("{k1:?}"), "CacheKey([REDACTED])");
    store
        .set(names::CACHE_KEY, &SecretString::from("not base64!"))
        .unwrap();
    let k3 = CacheKey::from_store(&store).unwrap();
    assert_ne!(k3.encode().expose_secret(), k1.encode().expose_secret());
}

#[test]
fn key_file_is_private_and_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("cache.key");
    let k1 = CacheKey::from_file(&path).unwrap();
    let k2 = CacheKey::from_file(&path).unwrap();
    assert_eq!(k1.encode().expose_secret(), k2.encode().expose_secret());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = CacheKey::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        CacheKey::from_file(&shared.join("k")).unwrap();
        let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "an existing folder is left alone");
    }
}
