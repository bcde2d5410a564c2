//! Logging: human-readable by default, JSON on request (`[log] format = "json"` or
//! `BROKER_LOG_FORMAT=json`); the level from `RUST_LOG` (default `info`). Nothing logs a token,
//! key or record content: handlers log identifiers and codes only.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
