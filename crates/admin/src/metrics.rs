//! [`Metrics`]: a builder of the Prometheus text exposition format 0.0.4. It owns the text layout
//! (`# HELP`/`# TYPE` headers, label escaping, number formatting); the daemon owns the names and
//! values, which are not validated.

use std::fmt::Write as _;

/// The type of a metric family, as written in its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A value that only goes up (reset on restart); by convention named `…_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A sample value: an integer or a float (`NaN`, `+Inf` and `-Inf` are written as Prometheus spells them).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float.
    Float(f64),
}

macro_rules! value_from {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        }
    )*};
}
value_from!(Int: i64, i32, i16, i8);
value_from!(UInt: u64, u32, u16, u8);
value_from!(Float: f64, f32);

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::UInt(u64::try_from(v).unwrap_or(u64::MAX))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::UInt(u64::from(v))
    }
}

/// Builds a Prometheus text exposition (format 0.0.4), family by family.
///
/// Each family gets one `# HELP` and one `# TYPE` line followed by its series. The series of one
/// family must be written together: use [`Metrics::family`], or consecutive `*_with` calls with the
/// same name (which share the header written by the first).
///
/// ```
/// use replicant_admin::{Kind, Metrics};
///
/// let mut m = Metrics::new();
/// m.counter("replicant_commands_total", "Commands applied to the target.", 42u64);
/// m.family("replicant_shard_queue", "Batches queued per shard.", Kind::Gauge)
///     .sample(&[("shard", "0")], 3)
///     .sample(&[("shard", "1")], 5);
/// let text = m.finish();
/// assert!(text.starts_with("# HELP replicant_commands_total Commands applied to the target.\n"));
/// assert!(text.ends_with("replicant_shard_queue{shard=\"1\"} 5\n"));
/// ```
#[derive(Debug, Default)]
pub struct Metrics {
    out: String,
    /// The family whose header was written last.
    current: Option<(String, Kind)>,
}

/// The series of one family; see [`Metrics::family`].
#[derive(Debug)]
pub struct Family<'a> {
    metrics: &'a mut Metrics,
}

impl Metrics {
    /// An empty exposition.
    pub fn new() -> Self {
        Metrics::default()
    }

    /// One unlabelled counter.
    pub fn counter(&mut self, name: &str, help: &str, value: impl Into<Value>) -> &mut Self {
        self.counter_with(name, help, &[], value)
    }

    /// One unlabelled gauge.
    pub fn gauge(&mut self, name: &str, help: &str, value: impl Into<Value>) -> &mut Self {
        self.gauge_with(name, help, &[], value)
    }

    /// One labelled counter series; joins the previous call's family if it has the same name.
    pub fn counter_with(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) -> &mut Self {
        self.family(name, help, Kind::Counter).sample(labels, value);
        self
    }

    /// One labelled gauge series; joins the previous call's family if it has the same name.
    pub fn gauge_with(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) -> &mut Self {
        self.family(name, help, Kind::Gauge).sample(labels, value);
        self
    }

    /// Starts a family (writes its header, unless the previous family has the same name and kind);
    /// add its series with [`Family::sample`].
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) -> Family<'_> {
        let same = self.current.as_ref().is_some_and(|(n, k)| n == name && *k == kind);
        if !same {
            self.out.push_str("# HELP ");
            self.out.push_str(name);
            self.out.push(' ');
            escape_into(&mut self.out, help, false);
            // Writing to a String cannot fail.
            let _ = writeln!(self.out, "\n# TYPE {name} {}", kind.as_str());
            self.current = Some((name.to_owned(), kind));
        }
        Family { metrics: self }
    }

    /// The exposition text.
    pub fn finish(self) -> String {
        self.out
    }
}

impl Family<'_> {
    /// Appends one series: `name{labels} value`. Label values are escaped; names are written as given.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) -> &mut Self {
        let Metrics { out, current } = &mut *self.metrics;
        out.push_str(current.as_ref().map_or("", |(name, _)| name.as_str()));
        push_labels(out, labels);
        out.push(' ');
        push_value(out, value.into());
        out.push('\n');
        self
    }
}

fn push_labels(out: &mut String, labels: &[(&str, &str)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_into(out, value, true);
        out.push('"');
    }
    out.push('}');
}

fn push_value(out: &mut String, value: Value) {
    // Writing to a String cannot fail.
    let _ = match value {
        Value::Int(v) => write!(out, "{v}"),
        Value::UInt(v) => write!(out, "{v}"),
        Value::Float(v) if v.is_nan() => write!(out, "NaN"),
        Value::Float(v) if v == f64::INFINITY => write!(out, "+Inf"),
        Value::Float(v) if v == f64::NEG_INFINITY => write!(out, "-Inf"),
        Value::Float(v) => write!(out, "{v}"),
    };
}

/// Escapes `\` and line feeds (HELP text), and also `"` in label values.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            _ => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_and_gauge() {
        let mut m = Metrics::new();
        m.counter("a_total", "Things.", 7u64).gauge("b", "Level.", -3);
        assert_eq!(
            m.finish(),
            "# HELP a_total Things.\n# TYPE a_total counter\na_total 7\n# HELP b Level.\n# TYPE b gauge\nb -3\n"
        );
    }

    #[test]
    fn one_header_per_family() {
        let mut m = Metrics::new();
        m.gauge_with("q", "Queue.", &[("shard", "0")], 1).gauge_with("q", "Queue.", &[("shard", "1")], 2);
        m.family("r_total", "R.", Kind::Counter).sample(&[("a", "x"), ("b", "y")], 3).sample(&[], 4);
        assert_eq!(
            m.finish(),
            "# HELP q Queue.\n# TYPE q gauge\nq{shard=\"0\"} 1\nq{shard=\"1\"} 2\n\
             # HELP r_total R.\n# TYPE r_total counter\nr_total{a=\"x\",b=\"y\"} 3\nr_total 4\n"
        );
    }

    #[test]
    fn escaping() {
        let mut m = Metrics::new();
        m.gauge_with("g", "Back\\slash \"quoted\"\nnext", &[("path", "C:\\a \"b\"\nc")], 1);
        assert_eq!(
            m.finish(),
            "# HELP g Back\\\\slash \"quoted\"\\nnext\n# TYPE g gauge\ng{path=\"C:\\\\a \\\"b\\\"\\nc\"} 1\n"
        );
    }

    #[test]
    fn values() {
        let mut m = Metrics::new();
        let mut f = m.family("v", "V.", Kind::Gauge);
        for v in [0.5, 3.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            f.sample(&[], v);
        }
        f.sample(&[], u64::MAX).sample(&[], i64::MIN).sample(&[], true).sample(&[], 12usize);
        let text = m.finish();
        let values: Vec<&str> = text.lines().skip(2).filter_map(|l| l.strip_prefix("v ")).collect();
        assert_eq!(
            values,
            ["0.5", "3", "NaN", "+Inf", "-Inf", "18446744073709551615", "-9223372036854775808", "1", "12"]
        );
    }
}
