//! Log lines go to stderr only: stdout belongs to the child. Text lines are
//! prefixed `preflight:` so they stand apart from the child's own output in
//! `docker logs`; `--log-format json` gives one JSON object a line.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Install the global subscriber. `filter` was validated by the config.
pub fn init(filter: &str, format: LogFormat) {
    let targets: Targets = filter
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(Level::INFO));
    // Directives like `debug` name no target: they apply to everything, which
    // here is only preflight (the dependencies log through `log`, not tracing).
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(Level::TRACE);
    let result = match format {
        LogFormat::Text => {
            use tracing_subscriber::layer::SubscriberExt;
            let subscriber = builder.event_format(Prefixed).finish().with(targets);
            tracing::subscriber::set_global_default(subscriber)
        }
        LogFormat::Json => {
            use tracing_subscriber::layer::SubscriberExt;
            let subscriber = builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .finish()
                .with(targets);
            tracing::subscriber::set_global_default(subscriber)
        }
    };
    // Only fails if a subscriber is already set (tests): keep that one.
    let _ = result;
}

/// `preflight: message key=value` (info), `preflight: warning: ...`.
struct Prefixed;

impl<S, N> FormatEvent<S, N> for Prefixed
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::INFO => "",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
        };
        write!(w, "preflight: {level}")?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}
