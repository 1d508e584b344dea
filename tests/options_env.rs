//! `secret`, `redis` and `log_format` fall back to `MIZULIVE_SECRET`, `MIZULIVE_REDIS`
//! and `MIZULIVE_LOG_FORMAT`. The only
//! test in its binary, as it changes the process environment; its steps run in order
//! in one test for the same reason.

use mizulive::{App, Error, Options};
use std::path::PathBuf;

fn options(json: &str) -> Options {
    let mut opts = Options::from_json(json).expect("valid options");
    opts.views = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("views").into();
    opts.host_threads = 1;
    opts.io_threads = 1;
    opts
}

fn config_error(opts: Options) -> String {
    match App::new(opts) {
        Err(Error::Config(msg)) => msg,
        Err(other) => panic!("expected a config error, got {other}"),
        Ok(_) => panic!("expected a config error, the app was made"),
    }
}

#[test]
fn secret_and_redis_come_from_the_environment_when_the_options_leave_them_out() {
    let env_secret = "secret-from-the-environment-0123456789";
    let env_redis = "redis://:pw@10.0.0.7:6380/2";
    // SAFETY (edition 2024 wording; a plain call in 2021): no other thread of this
    // test binary reads the environment.
    std::env::set_var("MIZULIVE_SECRET", env_secret);
    std::env::set_var("MIZULIVE_REDIS", env_redis);

    let app = App::new(options("{}")).expect("an app from the environment");
    assert_eq!(app.options().secret.as_deref(), Some(env_secret));
    assert_eq!(app.options().redis.as_deref(), Some(env_redis));
    drop(app);

    // The options win over the environment.
    let own_secret = "secret-from-the-options-0123456789abcdef";
    let app =
        App::new(options(&format!(r#"{{"secret": "{own_secret}", "redis": "redis://127.0.0.1:7000"}}"#)))
            .expect("an app from its options");
    assert_eq!(app.options().secret.as_deref(), Some(own_secret));
    assert_eq!(app.options().redis.as_deref(), Some("redis://127.0.0.1:7000"));
    drop(app);

    // A bad value is an error naming the variable, and never echoes it.
    std::env::set_var("MIZULIVE_SECRET", "short");
    let msg = config_error(options("{}"));
    assert!(msg.contains("MIZULIVE_SECRET"), "{msg}");
    std::env::set_var("MIZULIVE_SECRET", env_secret);
    std::env::set_var("MIZULIVE_REDIS", "http://:pw@10.0.0.7:6380");
    let msg = config_error(options("{}"));
    assert!(msg.contains("MIZULIVE_REDIS") && !msg.contains("pw"), "{msg}");

    // Empty counts as unset: one node, a random secret.
    std::env::set_var("MIZULIVE_SECRET", "");
    std::env::set_var("MIZULIVE_REDIS", "");
    let app = App::new(options("{}")).expect("an app without either");
    assert_eq!(app.options().secret, None);
    assert_eq!(app.options().redis, None);

    // The option itself is checked the same way.
    let err = Options::from_json(r#"{"redis": "127.0.0.1:6379"}"#).expect_err("a URL without scheme");
    assert!(err.to_string().contains("redis://"), "{err}");
    assert!(Options::from_json(r#"{"redis": "redis://"}"#).is_err(), "a URL without host");

    // log_format: from MIZULIVE_LOG_FORMAT unless the options say; checked by name.
    std::env::set_var("MIZULIVE_LOG_FORMAT", "json");
    let app = App::new(options("{}")).expect("JSON logs from the environment");
    assert_eq!(app.options().log_format.as_deref(), Some("json"));
    drop(app);
    let app = App::new(options(r#"{"log_format": "text"}"#)).expect("text logs from the options");
    assert_eq!(app.options().log_format.as_deref(), Some("text"));
    drop(app);
    std::env::set_var("MIZULIVE_LOG_FORMAT", "xml");
    let msg = config_error(options("{}"));
    assert!(msg.contains("MIZULIVE_LOG_FORMAT") && msg.contains(r#"write "text" or "json""#), "{msg}");
    std::env::set_var("MIZULIVE_LOG_FORMAT", "");
    let err = Options::from_json(r#"{"log_format": "yaml"}"#).expect_err("an unknown format");
    assert!(err.to_string().contains(r#"log_format: "yaml" is not a log format"#), "{err}");
}
