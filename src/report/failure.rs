//! The failure text a person can act on: where (the case file's line and column of the
//! expectation), what (each failed check, expected vs actual), the evidence (status line,
//! the headers that matter, a body excerpt) and how to reproduce (the curl recorded when the
//! request was built, and the one-case cargo command). Rendered only for failures; the case
//! file is read again here to point at lines. Everything passes through redaction last.

use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};

use crate::case::Case;
use crate::check::Finding;
use crate::locate::SourceMap;
use crate::probe::Exchange;
use crate::run::CaseResult;
use crate::target::Target;

use crate::locate::display_path;

/// The most body shown in a failure.
pub const BODY_EXCERPT: usize = 2048;
/// Response headers worth showing.
const HEADERS_SHOWN: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "location",
    "transfer-encoding",
];

/// The failure text of a failed case (empty for other outcomes), redacted.
pub fn failure(case: &Case, result: &CaseResult, target: &Target) -> String {
    let Some((step, record)) = result.failed_step() else {
        return String::new();
    };
    // The file may have gone since it was loaded; the text then points at no line.
    let source = SourceMap::new(case.text().unwrap_or_else(|_| Arc::from("")));
    let mut out = String::new();
    // A derived case's lines are those of the case `errcontract derive` prints, not the template's.
    let file = match &case.derived {
        Some(_) => case.trial_name(),
        None => display_path(&case.path),
    };
    let findings = &record.findings;
    let names: Vec<&str> = findings.iter().map(|f| f.check.as_str()).collect();
    out.push_str(&format!(
        "{} failed {} check{} ({}): {}\n",
        case.trial_name(),
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        names.join(", "),
        case.description
    ));
    if let Some(line) = super::blame::blame(case, record) {
        out.push_str(&format!("  {line}\n"));
    }
    match &case.derived {
        Some(d) => out.push_str(&format!(
            "  --> derived from {} ({}); print it with: errcontract derive {0}\n",
            display_path(&d.template),
            d.fault
        )),
        None => out.push_str(&format!(
            "  --> {file}:{}\n",
            source.value_at(&format!("{}/request", record.base))
        )),
    }
    if let Some(x) = &record.exchange {
        let step_name = case
            .steps
            .get(step)
            .and_then(|(_, s)| s.name.clone())
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  step {}/{}{step_name}: {} {} -> {} ({} ms{})\n",
            step + 1,
            case.steps.len(),
            x.request.method,
            x.request.url,
            match &x.response {
                Ok(r) => r.status_line(),
                // The status line arrived; only its body was over the cap.
                Err(crate::probe::TransportError::TooLarge { status, .. }) => {
                    format!("HTTP {status}, body over ERRCONTRACT_MAX_BODY (too_large)")
                }
                Err(e) => format!("no response ({})", e.kind()),
            },
            x.elapsed.as_millis(),
            if record.requests > 1 {
                format!(", {} requests", record.requests)
            } else {
                String::new()
            }
        ));
    }
    out.push('\n');
    for f in findings {
        out.push_str(&finding_text(&source, &file, f));
    }
    out.push_str(&snippet(&source, &file, findings));
    out.push_str(&evidence(record.exchange.as_deref(), step, target));
    out.push_str(&format!("    {}\n", result.rerun.as_deref().unwrap_or("")));
    if !result.notes.is_empty() {
        out.push_str("\n  notes:\n");
        for n in &result.notes {
            out.push_str(&format!("    {n}\n"));
        }
    }
    target.secrets.redact(&out)
}

/// The response and the recorded curl, or just the heading when no exchange is kept.
fn evidence(exchange: Option<&Exchange>, step: usize, target: &Target) -> String {
    let Some(x) = exchange else {
        return "\n  reproduce:\n".to_string();
    };
    let mut out = response_text(x);
    out.push_str("\n  reproduce:\n");
    if target.in_process {
        // The built-in server ends with the run; the curl needs one on the same address.
        let addr = target
            .base_url
            .trim_start_matches("http://")
            .trim_end_matches('/');
        out.push_str(&format!(
            "    (the run's built-in server is gone: start one on its address with `cargo run -- serve --addr {addr}` and set the ERRCONTRACT_*_API_KEY variables to the keys it prints)\n"
        ));
    }
    out.push_str(&format!("    {}\n", x.request.curl));
    if x.response.as_ref().is_ok_and(|r| r.decoded_from.is_some()) {
        out.push_str(
            "    (the target compressed its answer: add --compressed to read it with curl)\n",
        );
    }
    if step > 0 {
        out.push_str(&format!(
            "    (this is step {} of a flow; the earlier steps supplied its captured values)\n",
            step + 1
        ));
    }
    out
}

fn finding_text(source: &SourceMap, file: &str, f: &Finding) -> String {
    let pad = " ".repeat(f.check.as_str().len() + 3);
    let mut s = format!(
        "  [{}] expected {}\n  {pad}     got {}\n",
        f.check, f.expected, f.actual
    );
    if let Some(at) = &f.expected_at {
        s.push_str(&format!("  {pad}      at {file}:{}\n", source.value_at(at)));
    }
    for d in &f.detail {
        s.push_str(&format!("  {pad}         {d}\n"));
    }
    s
}

/// The case file around the failed expectations, each labelled with its check.
fn snippet(source: &SourceMap, file: &str, findings: &[Finding]) -> String {
    let labels: Vec<LabeledSpan> = findings
        .iter()
        .filter_map(|f| {
            let at = f.expected_at.as_ref()?;
            let span = source.span(at);
            Some(LabeledSpan::new(
                Some(format!("{}: expected here", f.check)),
                span.start,
                span.end.saturating_sub(span.start),
            ))
        })
        .collect();
    if labels.is_empty() || source.text().is_empty() {
        return String::new();
    }
    let diag = MietteDiagnostic::new(format!("in {file}")).with_labels(labels);
    let report = miette::Report::new(diag)
        .with_source_code(NamedSource::new(file, source.text().to_string()));
    let mut out = String::new();
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(110)
        .with_context_lines(1);
    if handler.render_report(&mut out, report.as_ref()).is_err() {
        return String::new();
    }
    format!("\n{}", indent(&out, "  "))
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}").trim_end().to_string() + "\n")
        .collect()
}

fn response_text(x: &Exchange) -> String {
    let Ok(r) = &x.response else {
        return String::new();
    };
    let mut s = format!("\n  response:\n    {}\n", r.status_line());
    for (name, value) in &r.headers {
        if HEADERS_SHOWN.contains(&name.as_str()) {
            s.push_str(&format!("    {name}: {value}\n"));
        }
    }
    let shown = r.body.len().min(BODY_EXCERPT);
    let text = String::from_utf8_lossy(&r.body[..shown]);
    let printable: String = text
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    s.push_str(&format!(
        "    body ({} bytes{}{}):\n",
        r.body.len(),
        match r.decoded_from {
            Some(wire) => format!(", decoded from {wire} on the wire"),
            None => String::new(),
        },
        if r.body.len() > shown {
            format!(", first {shown} shown")
        } else {
            String::new()
        }
    ));
    if printable.is_empty() {
        s.push_str("      (empty)\n");
    } else {
        s.push_str(&indent(&printable, "      "));
    }
    s
}
