//! Rendered `/api/show` replies in memory. Entries exist only for models in the current list
//! (a client cannot add names), belong to one fetched list (a new list invalidates them), expire
//! after the show TTL, and are bounded in count and total bytes; expired entries are removed
//! on every insert. Never written to disk: the model list they derive from already is.

use super::ModelSet;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Default bound on the number of entries.
pub const MAX_ENTRIES: usize = 1024;
/// Default bound on the bytes held.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

struct Entry {
    body: Bytes,
    list: Instant,
    at: Instant,
}

/// The bounded show cache.
pub struct ShowCache {
    entries: Mutex<HashMap<String, Entry>>,
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
}

impl ShowCache {
    /// A cache with the default bounds whose entries live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self::with_bounds(ttl, MAX_ENTRIES, MAX_BYTES)
    }

    /// A cache with explicit bounds.
    pub fn with_bounds(ttl: Duration, max_entries: usize, max_bytes: usize) -> Self {
        ShowCache {
            entries: Mutex::new(HashMap::new()),
            ttl,
            max_entries,
            max_bytes,
        }
    }

    /// The reply for model `index` of `set`, rendered by `render` on a miss.
    pub fn get_or_render(
        &self,
        set: &ModelSet,
        index: usize,
        render: impl FnOnce(&crate::openai::Model) -> Bytes,
    ) -> Bytes {
        let Some(model) = set.models.get(index) else {
            return render(&Default::default());
        };
        let key = model.id.as_str();
        if let Some(body) = self.lookup(key, set.fetched_at) {
            return body;
        }
        let body = render(model);
        self.insert(key, set.fetched_at, body.clone());
        body
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().values().map(|e| e.body.len()).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, key: &str, list: Instant) -> Option<Bytes> {
        let map = self.lock();
        let e = map.get(key)?;
        (e.list == list && e.at.elapsed() < self.ttl).then(|| e.body.clone())
    }

    fn insert(&self, key: &str, list: Instant, body: Bytes) {
        if body.len() > self.max_bytes || self.max_entries == 0 {
            return;
        }
        let mut map = self.lock();
        map.retain(|_, e| e.list == list && e.at.elapsed() < self.ttl);
        map.remove(key);
        let mut bytes: usize = map.values().map(|e| e.body.len()).sum();
        while map.len() >= self.max_entries || bytes + body.len() > self.max_bytes {
            let oldest = map.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            if let Some(e) = map.remove(&k) {
                bytes -= e.body.len();
            }
        }
        map.insert(
            key.to_string(),
            Entry {
                body,
                list,
                at: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::Model;
    use std::cell::Cell;

    fn set(n: usize) -> ModelSet {
        let models = (0..n)
            .map(|i| Model {
                id: format!("m{i}"),
                ..Default::default()
            })
            .collect();
        ModelSet::new(models)
    }

    #[test]
    fn hits_render_once_and_new_lists_invalidate() {
        let c = ShowCache::new(Duration::from_secs(60));
        let s = set(2);
        let renders = Cell::new(0);
        let render = |m: &Model| {
            renders.set(renders.get() + 1);
            Bytes::from(m.id.clone())
        };
        assert_eq!(c.get_or_render(&s, 1, render), "m1");
        assert_eq!(c.get_or_render(&s, 1, render), "m1");
        assert_eq!(renders.get(), 1);
        let newer = ModelSet::fetched_at(s.models.clone(), s.fetched_at + Duration::from_secs(1));
        c.get_or_render(&newer, 1, render);
        assert_eq!(renders.get(), 2);
    }

    #[test]
    fn expired_entries_are_rendered_again_and_removed() {
        let c = ShowCache::new(Duration::ZERO);
        let s = set(3);
        let renders = Cell::new(0);
        for i in 0..3 {
            c.get_or_render(&s, i, |_| {
                renders.set(renders.get() + 1);
                Bytes::from_static(b"x")
            });
        }
        c.get_or_render(&s, 0, |_| Bytes::from_static(b"x"));
        assert_eq!(renders.get(), 3);
        assert_eq!(c.len(), 1, "expired entries are dropped on insert");
    }

    #[test]
    fn count_and_size_are_bounded() {
        let c = ShowCache::with_bounds(Duration::from_secs(60), 3, 10);
        let s = set(10);
        for i in 0..10 {
            c.get_or_render(&s, i, |_| Bytes::from_static(b"abcd"));
        }
        assert!(
            c.len() <= 3 && c.bytes() <= 10,
            "{} entries, {} bytes",
            c.len(),
            c.bytes()
        );
        c.get_or_render(&s, 0, |_| Bytes::from(vec![0; 11]));
        assert!(c.bytes() <= 10, "an oversized reply is not kept");
    }
}
