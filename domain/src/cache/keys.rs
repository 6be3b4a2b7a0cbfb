//! Cache keys: `{domain}:{{workspace}}:{scope}` and their domain's generation key, their TTL
//! tiers, and the encoding of a scope's parts.

use std::fmt;
use std::time::Duration;

/// How long a cached value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// 30 s: live metrics, the activity stream, alerts, membership checks.
    Hot,
    /// 5 min: dashboard KPIs, usage and cost overviews.
    Warm,
    /// 30 min: historical aggregates and trends.
    Cold,
}

impl Ttl {
    pub const fn duration(self) -> Duration {
        match self {
            Ttl::Hot => Duration::from_secs(30),
            Ttl::Warm => Duration::from_secs(300),
            Ttl::Cold => Duration::from_secs(1800),
        }
    }
}

/// How long one process reuses what it read from the shared cache for every request (a busy
/// API key's verification, a workspace's active flag) before asking again: a change made on
/// another replica is seen within this long.
pub const IN_PROCESS: Duration = Duration::from_secs(1);

/// How long a generation lives (see [`CacheKey::generation_key`]): longer than any entry, so
/// when one expires and a fresh one is drawn, every entry written under the old one is gone.
pub const GENERATION_TTL: Duration = Duration::from_secs(2 * 3600);
const _: () = assert!(GENERATION_TTL.as_secs() > Ttl::Cold.duration().as_secs());

/// A cache key: `{domain}:{{workspace_id}}:{scope}`.
///
/// The domain is a static name (`home_kpis`, `usage`, …) so hit/miss counters stay bounded.
/// The workspace is the key's Redis Cluster hash tag (in braces): every key of a workspace, and
/// the generations of its domains, live in one slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    domain: &'static str,
    key: String,
    /// Where the key's prefix `{domain}:{{workspace_id}}` ends.
    generation_len: usize,
}

impl CacheKey {
    pub fn new(
        domain: &'static str,
        workspace_id: impl fmt::Display,
        scope: impl AsRef<str>,
    ) -> Self {
        debug_assert!(
            !domain.is_empty() && !domain.contains([':', '{', '}']),
            "cache domain must be a plain name"
        );
        let generation = CacheKey::generation_of(domain, workspace_id);
        let generation_len = generation.len();
        let mut key = generation;
        key.push(':');
        key.push_str(scope.as_ref());
        CacheKey {
            domain,
            key,
            generation_len,
        }
    }

    pub fn domain(&self) -> &'static str {
        self.domain
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The key holding the current generation of this key's domain in its workspace: an entry
    /// counts only while it was written under the current generation, so the whole domain of
    /// a workspace is dropped by writing a new one ([`super::Cache::invalidate_domain`]).
    pub fn generation_key(&self) -> &str {
        &self.key[..self.generation_len]
    }

    /// The generation key of `domain` in `workspace_id`.
    pub fn generation_of(domain: &str, workspace_id: impl fmt::Display) -> String {
        // The workspace id is a UUID or an API key prefix: never braces. Were it to hold one,
        // the hash tag would end early, which only moves keys to another slot.
        format!("{domain}:{{{workspace_id}}}")
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// A key's scope from its parts (filters, ranges, user, role, URL), joined with `|`. Each part
/// is percent-encoded first — `%`, `|`, `:`, the glob characters `*?[]\\`, spaces and control
/// characters — so no value can imitate a separator, shift into another field, or match a
/// pattern it should not: different parts always make different keys.
pub fn scope(parts: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for c in part.chars() {
            if matches!(c, '%' | '|' | ':' | '*' | '?' | '[' | ']' | '\\' | ' ') || c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod scope_tests {
    use super::*;

    #[test]
    fn parts_holding_separators_never_collide() {
        let nasty = [
            "|", "||", ":", "%", "%7C", "*", "?", "[", "]", "\\", " ", "\n", "a|b", "",
        ];
        let mut seen = std::collections::HashMap::new();
        for a in nasty {
            for b in nasty {
                for c in nasty {
                    let key = scope(&[a, b, c]);
                    assert!(
                        !key.contains(['*', '?', '[', ']', '\\', ':', ' ', '\n']),
                        "{key:?}"
                    );
                    assert_eq!(key.matches('|').count(), 2, "{key:?}");
                    if let Some(before) = seen.insert(key.clone(), (a, b, c)) {
                        panic!("{before:?} and {:?} both make {key:?}", (a, b, c));
                    }
                }
            }
        }
        assert_eq!(scope(&["plain", "7d"]), "plain|7d");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_tiers() {
        assert_eq!(Ttl::Hot.duration(), Duration::from_secs(30));
        assert_eq!(Ttl::Warm.duration(), Duration::from_secs(300));
        assert_eq!(Ttl::Cold.duration(), Duration::from_secs(1800));
    }

    #[test]
    fn key_layout_is_domain_workspace_scope() {
        let k = CacheKey::new("home_kpis", "550e8400", "range=24h&dept=engineering");
        assert_eq!(
            k.as_str(),
            "home_kpis:{550e8400}:range=24h&dept=engineering"
        );
        assert_eq!(k.domain(), "home_kpis");
        assert_eq!(k.generation_key(), "home_kpis:{550e8400}");
        assert_eq!(
            CacheKey::generation_of("home_kpis", "550e8400"),
            k.generation_key()
        );
    }
}
