//! The client runtime, embedded in the library and served at `/_live/runtime.js`.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::io::Write;

pub const RUNTIME_JS: &str = include_str!("../client/runtime.js");

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
        let digest = Sha256::digest(RUNTIME_JS.as_bytes());
        let etag = format!("\"{}\"", digest[..8].iter().map(|b| format!("{b:02x}")).collect::<String>());
        RuntimeAsset { plain, gzip, etag }
    }
}

impl Default for RuntimeAsset {
    fn default() -> Self {
        Self::new()
    }
}
