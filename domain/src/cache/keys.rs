//! Cache keys: `{domain}:{workspace}:{scope}`, their TTL tiers, the encoding of a scope's parts,
//! and Redis-style glob matching for the in-process backend's pattern invalidation.

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

/// A cache key: `{domain}:{workspace_id}:{scope}`.
///
/// The domain is a static name (`home_kpis`, `usage`, …) so hit/miss counters stay bounded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    domain: &'static str,
    key: String,
}

impl CacheKey {
    pub fn new(
        domain: &'static str,
        workspace_id: impl fmt::Display,
        scope: impl AsRef<str>,
    ) -> Self {
        debug_assert!(
            !domain.is_empty() && !domain.contains([':', '*', '?', '[']),
            "cache domain must be a plain name"
        );
        CacheKey {
            domain,
            key: format!("{domain}:{workspace_id}:{}", scope.as_ref()),
        }
    }

    pub fn domain(&self) -> &'static str {
        self.domain
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The pattern matching every key of one domain in one workspace.
    pub fn domain_pattern(domain: &str, workspace_id: impl fmt::Display) -> String {
        format!(
            "{}:{}:*",
            escape_glob(domain),
            escape_glob(&workspace_id.to_string())
        )
    }

    /// The pattern matching every key of one workspace, whatever the domain.
    pub fn workspace_pattern(workspace_id: impl fmt::Display) -> String {
        format!("*:{}:*", escape_glob(&workspace_id.to_string()))
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

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Redis-style glob matching (`*`, `?`, `[abc]`, `[a-z]`, `[^a]`, `\x`), for the in-process
/// backend's pattern invalidation.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    // The pattern index after the last `*` and the text index it currently absorbs up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if p.get(pi) == Some(&'*') {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if let Some(next) = p.get(pi).and_then(|_| match_one(p, pi, t[ti])) {
            pi = next;
            ti += 1;
        } else if let Some((after_star, absorbed)) = star {
            // Let the last `*` absorb one more character and retry from there.
            pi = after_star;
            ti = absorbed + 1;
            star = Some((after_star, absorbed + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// If the pattern element at `pi` matches `c`, the index of the next element.
fn match_one(p: &[char], pi: usize, c: char) -> Option<usize> {
    match p[pi] {
        '?' => Some(pi + 1),
        '\\' if pi + 1 < p.len() => (p[pi + 1] == c).then_some(pi + 2),
        '[' => {
            let mut i = pi + 1;
            let negate = p.get(i) == Some(&'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            while i < p.len() && p[i] != ']' {
                if p[i] == '\\' && i + 1 < p.len() {
                    matched |= p[i + 1] == c;
                    i += 2;
                } else if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                    let (lo, hi) = if p[i] <= p[i + 2] {
                        (p[i], p[i + 2])
                    } else {
                        (p[i + 2], p[i])
                    };
                    matched |= lo <= c && c <= hi;
                    i += 3;
                } else {
                    matched |= p[i] == c;
                    i += 1;
                }
            }
            // An unterminated class matches like Redis: up to the end of the pattern.
            let next = if i < p.len() { i + 1 } else { i };
            (matched != negate).then_some(next)
        }
        other => (other == c).then_some(pi + 1),
    }
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
        assert_eq!(k.as_str(), "home_kpis:550e8400:range=24h&dept=engineering");
        assert_eq!(k.domain(), "home_kpis");
        assert_eq!(
            CacheKey::domain_pattern("home_kpis", "550e8400"),
            "home_kpis:550e8400:*"
        );
        assert_eq!(CacheKey::workspace_pattern("550e8400"), "*:550e8400:*");
    }

    #[test]
    fn glob_matches_like_redis() {
        assert!(glob_match("home_kpis:ws1:*", "home_kpis:ws1:range=24h"));
        assert!(!glob_match("home_kpis:ws1:*", "home_kpis:ws2:range=24h"));
        assert!(glob_match("*:ws1:*", "usage:ws1:x"));
        assert!(!glob_match("*:ws1:*", "usage:ws10:x"));
        assert!(glob_match("h?llo", "hello"));
        assert!(glob_match("h[ae]llo", "hallo"));
        assert!(!glob_match("h[^e]llo", "hello"));
        assert!(glob_match("h[a-c]llo", "hbllo"));
        assert!(glob_match("a\\*b", "a*b"));
        assert!(!glob_match("a\\*b", "axb"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a-b-x-c"));
        assert!(!glob_match("a*b*c", "a-b-x-d"));
        assert!(glob_match(&CacheKey::workspace_pattern("w*1"), "d:w*1:s"));
        assert!(!glob_match(&CacheKey::workspace_pattern("w*1"), "d:wX1:s"));
    }
}
