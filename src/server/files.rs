//! Static files: the `static_dir` folder served under `static_prefix` (CSS, images,
//! scripts a page links to), so an app needs no second server for them.
//!
//! Only files inside the folder are served: the path is percent-decoded, and a
//! segment that is empty, `.`, `..`, hidden (`.env`), or holds a backslash or NUL is
//! refused, and the resolved file (symlinks followed) must still lie inside the
//! folder.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::http::{finish, text, Body};
use crate::options::Options;

/// Largest file served; larger ones are refused rather than read into memory.
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// The file a request path under the prefix names, if it names one safely.
pub(crate) fn resolve(root: &Path, rest: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(rest).decode_utf8().ok()?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/') {
        let bad = segment.is_empty()
            || segment.starts_with('.')
            || segment.contains(['\\', '\0'])
            || segment.chars().any(char::is_control);
        if bad {
            return None;
        }
        path.push(segment);
    }
    let real = path.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    (real.starts_with(&root) && real.is_file()).then_some(real)
}

fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

/// Serves `rest` (the path after the prefix) from `root`: 404 for anything that is
/// not a file inside it, 304 for a matching `If-None-Match`.
pub(crate) async fn serve(
    opts: &Options,
    root: &Path,
    rest: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let (root, rest, head) = (root.to_path_buf(), rest.to_string(), method == Method::HEAD);
    let read = tokio::task::spawn_blocking(move || {
        let path = resolve(&root, &rest)?;
        let meta = std::fs::metadata(&path).ok()?;
        if meta.len() > MAX_FILE {
            return Some(Err(path));
        }
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
        let etag = format!("\"{:x}-{:x}\"", meta.len(), mtime.as_nanos());
        let body = if head { Bytes::new() } else { Bytes::from(std::fs::read(&path).ok()?) };
        Some(Ok((path, etag, body, meta.len())))
    })
    .await
    .ok()
    .flatten();
    let (path, etag, body, len) = match read {
        None => return text(StatusCode::NOT_FOUND, "not found"),
        Some(Err(path)) => {
            tracing::warn!(file = %path.display(), "a static file over {MAX_FILE} bytes was not served");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "file too large to serve");
        }
        Some(Ok(found)) => found,
    };
    let cache = if opts.dev { "no-cache" } else { "public, max-age=3600" };
    let builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, cache)
        .header(header::CONTENT_TYPE, content_type(&path));
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return finish(builder.status(StatusCode::NOT_MODIFIED), Body::default());
    }
    let builder = if head { builder.header(header::CONTENT_LENGTH, len) } else { builder };
    finish(builder, Full::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_folder_resolve() {
        let dir = std::env::temp_dir().join(format!("mizulive-static-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("public/css")).unwrap();
        std::fs::write(dir.join("public/css/app.css"), "body{}").unwrap();
        std::fs::write(dir.join("public/.env"), "SECRET=1").unwrap();
        std::fs::write(dir.join("secret.txt"), "no").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("public/link.txt")).unwrap();
        let root = dir.join("public");
        assert!(resolve(&root, "css/app.css").is_some());
        assert!(resolve(&root, "css/app%2Ecss").is_some(), "percent-decoded");
        for bad in [
            "../secret.txt",
            "css/../../secret.txt",
            "%2e%2e/secret.txt",
            "css%2f..%2f..%2fsecret.txt",
            ".env",
            "css//app.css",
            "css/",
            "",
            "css",
            "css\\app.css",
            "css/app.css%00",
            "link.txt",
            "nope.css",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(content_type(Path::new("a/b.CSS")), "text/css; charset=utf-8");
        assert_eq!(content_type(Path::new("x.woff2")), "font/woff2");
        assert_eq!(content_type(Path::new("Makefile")), "application/octet-stream");
    }
}
