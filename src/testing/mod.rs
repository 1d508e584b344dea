//! Testing pages: [`TestClient`], a headless browser that drives a page of an [`App`]
//! in-process, exactly as the browser runtime would, with no port and no `start`.
//!
//! ```no_run
//! use mizulive::testing::TestClient;
//! use std::time::Duration;
//! # fn demo(app: &mizulive::App) -> mizulive::Result<()> {
//! let mut page = TestClient::open(app, "/counter")?;
//! page.click("[data-lv-click=inc]")?;                 // waits for the reply
//! assert!(page.region("stats")?.contains("<b>1</b>")); // the page as a browser shows it
//! assert_eq!(page.state()?["count"], 1);               // asked of the session
//! app.publish("counter", r#"{"reset":true}"#)?;
//! let push = page.next_push(Duration::from_secs(1))?;  // {"t":"patch",...}, applied
//! assert_eq!(push["t"], "patch");
//! page.refute_push(Duration::from_millis(100))?;       // nothing else arrives
//! # Ok(()) }
//! ```
//!
//! [`App`]: crate::App

mod client;
mod dom;
mod select;

pub use client::{TestClient, TestOptions, DEFAULT_TIMEOUT};

#[doc(hidden)]
pub mod internals;
// The internals' old paths, which integration tests use.
#[doc(hidden)]
pub use internals::*;
