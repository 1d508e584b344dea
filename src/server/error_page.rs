//! What a browser gets when a page GET fails (a template error, a failing mount): in
//! dev mode the error itself (its template, line and the host's message, traceback
//! included when the message carries one), in the red box of the runtime's dev
//! overlay; otherwise a plain page that tells nothing of the cause.

use crate::error::Error;
use crate::views::helpers::escape_attr;

/// The generic page, outside dev mode.
pub(crate) const GENERIC: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<title>500 internal server error</title>\n</head>\n<body>\n<h1>500 internal server error</h1>\n\
<p>This page could not be shown. Please try again later.</p>\n</body>\n</html>\n";

/// The code the runtime's overlay would show for the same failure over the socket.
fn code(err: &Error) -> &'static str {
    match err {
        Error::Template(_) => "render_error",
        Error::Callback(_) => "host_error",
        _ => "internal",
    }
}

/// The page for `err`: its detail when `dev`, escaped (a message may hold markup).
pub(crate) fn page(err: &Error, dev: bool) -> String {
    if !dev {
        return GENERIC.to_string();
    }
    // Inline styles, as the runtime's overlay sets them: the default policy allows
    // them, and the page works without the runtime.
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>500 {code} - mizulive</title>\n</head>\n<body style=\"margin:0\">\n\
         <div id=\"lv-error-overlay\" role=\"alert\" style=\"position:fixed;left:1em;right:1em;top:1em;\
         bottom:1em;overflow:auto;padding:1em;background:#400;color:#fff;font:14px monospace;\
         white-space:pre-wrap\">mizulive {code}: {message}\n</div>\n</body>\n</html>\n",
        code = code(err),
        message = escape_attr(&err.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_page_escapes_the_message_and_the_other_tells_nothing() {
        let err = Error::Callback("mount: <script>alert(1)</script> & \"x\"".into());
        let dev = page(&err, true);
        assert!(
            dev.contains(
                "mizulive host_error: callback failed: mount: &lt;script&gt;alert(1)&lt;/script&gt; \
                 &amp; &quot;x&quot;\n</div>"
            ),
            "{dev}"
        );
        assert!(!dev.contains("<script>"), "{dev}");
        assert_eq!(page(&err, false), GENERIC);
        assert!(!GENERIC.contains("mount"));
    }
}
