//! Log lines go to stderr only: stdout belongs to the child. Text lines are
//! prefixed `preflight:` so they stand apart from the child's own output in
//! `docker logs`; `--log-format json` gives one JSON object a line.

use std::fmt;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// The format chosen at [`init`]: lines whose text already says what their
/// structured fields hold ask this to carry the fields in JSON only.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Whether log lines are JSON objects (`--log-format json`).
pub fn is_json() -> bool {
    matches!(FORMAT.get(), Some(LogFormat::Json))
}

/// Install the global subscriber. `filter` was validated by the config.
pub fn init(filter: &str, format: LogFormat) {
    let _ = FORMAT.set(format);
    let targets: Targets = filter
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(Level::INFO));
    // Directives like `debug` name no target: they apply to everything, which
    // here is only preflight (the dependencies log through `log`, not tracing).
    let max = tracing_subscriber::Layer::<tracing_subscriber::Registry>::max_level_hint(&targets);
    let lazy = Lazy {
        targets,
        max,
        format,
        inner: OnceLock::new(),
    };
    // Only fails if a subscriber is already set (tests): keep that one.
    let _ = tracing::subscriber::set_global_default(lazy);
}

/// Filters by itself, and builds the subscriber that formats (tracing-
/// subscriber's registry and fmt layer) at the first event that passes:
/// `preflight -- cmd` with nothing to wait for usually logs nothing, and
/// building it up front was 4% of that start-up's instructions.
struct Lazy {
    targets: Targets,
    max: Option<LevelFilter>,
    format: LogFormat,
    inner: OnceLock<Dispatch>,
}

impl Lazy {
    fn inner(&self) -> &Dispatch {
        self.inner.get_or_init(|| {
            let builder = tracing_subscriber::fmt()
                .with_writer(|| Line(Vec::with_capacity(128)))
                // A line that cannot be written is lost, and that is all:
                // the default reports it with `eprintln!`, which panics on
                // the same broken stderr and would end PID 1.
                .log_internal_errors(false)
                .with_ansi(false)
                .with_max_level(Level::TRACE);
            match self.format {
                LogFormat::Text => Dispatch::new(builder.event_format(Prefixed).finish()),
                LogFormat::Json => Dispatch::new(builder.event_format(JsonLines).finish()),
            }
        })
    }
}

impl Subscriber for Lazy {
    // The filter only looks at a callsite's target and level, which never
    // change: decided once per callsite.
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.targets.would_enable(meta.target(), meta.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.max
    }

    fn new_span(&self, span: &span::Attributes<'_>) -> span::Id {
        self.inner().new_span(span)
    }

    fn record(&self, span: &span::Id, values: &span::Record<'_>) {
        self.inner().record(span, values)
    }

    fn record_follows_from(&self, span: &span::Id, follows: &span::Id) {
        self.inner().record_follows_from(span, follows)
    }

    fn event(&self, event: &Event<'_>) {
        self.inner().event(event)
    }

    fn enter(&self, span: &span::Id) {
        self.inner().enter(span)
    }

    fn exit(&self, span: &span::Id) {
        self.inner().exit(span)
    }

    fn clone_span(&self, id: &span::Id) -> span::Id {
        self.inner().clone_span(id)
    }

    fn try_close(&self, id: span::Id) -> bool {
        self.inner().try_close(id)
    }

    // `current_span` keeps its default (none known): nothing in preflight
    // asks for `Span::current()`.
}

/// One event's line, written to stderr when dropped: every registered
/// secret masked ([`crate::secrets::mask`]) and every control character but
/// the final newline escaped, whatever the message holds (a server's error
/// text, a value from the environment), so one event is one line and holds
/// no secret. The fmt layer writes each event through a writer of its own.
struct Line(Vec<u8>);

impl std::io::Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        use std::io::Write as _;
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let mut line = crate::values::one_line(&crate::secrets::mask(body));
        line.push('\n');
        // A line that cannot be written is lost, and that is all (see
        // `log_internal_errors` above).
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
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

/// One JSON object a line: `{"timestamp":"…","level":"INFO","message":"…",
/// "field":…}`. Written here rather than with tracing-subscriber's `json`
/// feature, which brings serde and serde_json into a binary with a size
/// budget; events only carry strings, numbers and booleans.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut line = String::with_capacity(128);
        line.push_str("{\"timestamp\":");
        push_json_str(&mut line, &timestamp);
        line.push_str(",\"level\":");
        push_json_str(&mut line, event.metadata().level().as_str());
        event.record(&mut JsonFields(&mut line));
        line.push('}');
        writeln!(w, "{line}")
    }
}

/// Fields whose value preflight itself wrote as JSON text, inserted as they
/// are rather than as a string: [`crate::timeline`]'s `steps`.
const RAW_JSON_FIELDS: &[&str] = &["steps"];

/// Appends `,"name":value` for each field of an event.
struct JsonFields<'a>(&'a mut String);

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.0.push(',');
        push_json_str(self.0, field.name());
        self.0.push(':');
    }
}

impl Visit for JsonFields<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.0.push_str(&value.to_string());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.0.push_str(&value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0.push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        if RAW_JSON_FIELDS.contains(&field.name()) {
            // Built by preflight as JSON (the start-up timeline's steps).
            self.0.push_str(value);
        } else {
            push_json_str(self.0, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        push_json_str(self.0, &format!("{value:?}"));
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_json_str;

    #[test]
    fn json_strings_escape_what_json_requires() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(out, r#""a\"b\\c\nd\u0001""#);
    }
}
