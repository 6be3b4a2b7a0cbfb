//! The browser's files under `/pkg/`: content-hashed names when the build made them (then
//! cached for a year, `immutable`), plain names otherwise (revalidated on every use). The
//! brotli and gzip copies a release build writes beside them are served by `ServeDir` with the
//! matching `Content-Encoding` (see `router::fallback`).

use std::path::Path;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use leptos::config::LeptosOptions;

/// Whether the site was built with hashed file names: `hash.txt` (written by cargo-leptos
/// beside the binary) names a hash for the js, wasm and css, and those files exist in
/// `site_root/pkg`. A hash file left by another build, or a site built without hashes, falls
/// back to the plain names instead of linking files that are not there.
pub fn hashed_site(options: &LeptosOptions, exe_dir: &Path) -> bool {
    let Ok(hashes) = std::fs::read_to_string(exe_dir.join(options.hash_file.as_ref())) else {
        return false;
    };
    let pkg = Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let mut found = 0;
    for line in hashes.lines() {
        let Some((ext, hash)) = line.split_once(':') else {
            continue;
        };
        let (ext, hash) = (ext.trim(), hash.trim());
        if !matches!(ext, "js" | "wasm" | "css") {
            continue;
        }
        let name = format!("{}.{hash}.{ext}", options.output_name);
        if !pkg.join(name).is_file() {
            return false;
        }
        found += 1;
    }
    found == 3
}

/// `Cache-Control` for a file served from `/pkg/`: a year and `immutable` for a hashed name
/// (a new build has new names), `no-cache` (revalidate) for a plain one. Hashed names are
/// `<stem>.<hash>.<ext>`: the bundle (`argus.…`) and, in a split build, its loader, manifest
/// and the per-route chunks.
pub fn cache_control(path: &str, options: &LeptosOptions) -> Option<HeaderValue> {
    let prefix = format!("/{}/", options.site_pkg_dir);
    let file = path.strip_prefix(&prefix)?;
    let hashed = options.hash_files
        && file
            .rsplit_once('.')
            .filter(|(_, ext)| matches!(*ext, "js" | "wasm" | "css" | "json"))
            .and_then(|(rest, _)| rest.rsplit_once('.'))
            .is_some_and(|(stem, hash)| {
                !stem.is_empty()
                    && hash.len() >= 16
                    && hash
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
    Some(HeaderValue::from_static(if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }))
}

/// Sets `Cache-Control` on a successful (or not-modified) response for a `/pkg/` file.
pub fn with_cache_control(path: &str, options: &LeptosOptions, mut res: Response) -> Response {
    if matches!(res.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) {
        if let Some(value) = cache_control(path, options) {
            res.headers_mut().insert(header::CACHE_CONTROL, value);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(hash_files: bool, root: &str) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("argus")
            .site_root(root)
            .site_pkg_dir("pkg")
            .hash_files(hash_files)
            .build()
    }

    #[test]
    fn hashed_names_are_immutable_plain_ones_revalidate() {
        let o = options(true, "target/site");
        let long = "/pkg/argus.Jk3q9xZ_a1b2c3d4e5f6.wasm";
        assert_eq!(
            cache_control(long, &o).unwrap(),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("/pkg/argus.wasm", &o).unwrap(), "no-cache");
        // A split build's chunks, loader and manifest are hashed too.
        for f in [
            "/pkg/chunk_25.QU45WMv6TTRt0KF81_5opQ.wasm",
            "/pkg/__wasm_split.tGBJpbNMox_noppFkolCPQ.js",
            "/pkg/__wasm_split_manifest.00klhl0MEYVv2TE3BfISHA.json",
        ] {
            assert_eq!(
                cache_control(f, &o).unwrap(),
                "public, max-age=31536000, immutable",
                "{f}"
            );
        }
        for f in [
            "/pkg/chunk_25.wasm",
            "/pkg/argus.short.js",
            "/pkg/.Jk3q9xZ_a1b2c3d4e5f6.js",
        ] {
            assert_eq!(cache_control(f, &o).unwrap(), "no-cache", "{f}");
        }
        assert_eq!(cache_control("/favicon.svg", &o), None);
        let plain = options(false, "target/site");
        assert_eq!(cache_control(long, &plain).unwrap(), "no-cache");
    }

    #[test]
    fn a_hash_file_counts_only_when_its_files_exist() {
        let dir = std::env::temp_dir().join(format!("argus-assets-{}", std::process::id()));
        let pkg = dir.join("site").join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let o = options(false, dir.join("site").to_str().unwrap());
        assert!(!hashed_site(&o, &dir), "no hash file");
        std::fs::write(dir.join("hash.txt"), "js: aaaa\nwasm: bbbb\ncss: cccc\n").unwrap();
        assert!(!hashed_site(&o, &dir), "files missing");
        for f in ["argus.aaaa.js", "argus.bbbb.wasm", "argus.cccc.css"] {
            std::fs::write(pkg.join(f), "x").unwrap();
        }
        assert!(hashed_site(&o, &dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
