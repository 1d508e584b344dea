//! The client runtime, embedded in the library and served at `/_live/runtime.js`.
//!
//! Pages load it as `/_live/runtime.js?v=<version>`, the version a hash of its text:
//! that URL never changes what it serves, so browsers keep it for a year without
//! asking again, and a page served after an upgrade names the new runtime (a reload
//! of a page that the upgrade left behind, on `unsupported_version`, fetches the new
//! one instead of finding the old one in its cache).

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::LazyLock;

pub const RUNTIME_JS: &str = include_str!("../client/runtime.js");

/// The runtime's version: the first 8 bytes of its SHA-256, in hex.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        Sha256::digest(RUNTIME_JS.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
    });
    &VERSION
}

pub struct RuntimeAsset {
    pub plain: Bytes,
    pub gzip: Bytes,
    pub etag: String,
}

impl RuntimeAsset {
    pub fn new() -> Self {
        let plain = Bytes::from_static(RUNTIME_JS.as_bytes());
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(RUNTIME_JS.as_bytes());
        let gzip = Bytes::from(enc.finish().unwrap_or_default());
        let etag = format!("\"{}\"", version());
        RuntimeAsset { plain, gzip, etag }
    }
}

impl Default for RuntimeAsset {
    fn default() -> Self {
        Self::new()
    }
}
