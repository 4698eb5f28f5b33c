//! Failure messages a person can act on: where (the case file's line and column of the
//! expectation), what (each failed check, expected vs actual), the evidence (status line,
//! the headers that matter, a body excerpt) and how to reproduce (curl and the cargo command).
//! Everything rendered passes through the secrets' redaction last.

use std::path::Path;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};

use crate::case::{Auth, Case, Role};
use crate::check::Finding;
use crate::probe::{Exchange, Outgoing};
use crate::run::{CaseResult, MALFORMED_TOKEN, Outcome, Target};

/// The most body shown in a failure.
pub const BODY_EXCERPT: usize = 2048;
/// Response headers worth showing.
const HEADERS_SHOWN: &[&str] = &[
    "content-type",
    "content-length",
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "location",
    "transfer-encoding",
];

/// The failure message of a failed case (empty for other outcomes), redacted.
pub fn failure(case: &Case, result: &CaseResult, target: &Target) -> String {
    let Outcome::Failed { step } = result.outcome else {
        return String::new();
    };
    let Some(record) = result.steps.get(step) else {
        return String::new();
    };
    let mut out = String::new();
    let file = display_path(&case.path);
    let findings = &record.verdict.findings;
    let names: Vec<&str> = findings.iter().map(|f| f.check.as_str()).collect();
    out.push_str(&format!(
        "{} failed {} check{} ({}): {}\n",
        case.trial_name(),
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        names.join(", "),
        case.spec.description
    ));
    out.push_str(&format!(
        "  --> {file}:{}\n",
        case.locate(&format!("{}/request", record.base))
    ));
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
        out.push_str(&finding_text(case, &file, f));
    }
    out.push_str(&snippet(case, &file, findings));
    if let Some(x) = &record.exchange {
        out.push_str(&response_text(x));
        out.push_str("\n  reproduce:\n");
        let spec = case.steps.get(step).map(|(_, s)| &s.request);
        out.push_str(&format!(
            "    {}\n",
            curl(&x.request, spec.map(|s| &s.auth))
        ));
        if step > 0 {
            out.push_str("    (this is step ");
            out.push_str(&format!(
                "{} of a flow; the earlier steps supplied its captured values)\n",
                step + 1
            ));
        }
    } else {
        out.push_str("\n  reproduce:\n");
    }
    out.push_str(&format!("    {}\n", rerun_command(case, target)));
    if !result.notes.is_empty() {
        out.push_str("\n  notes:\n");
        for n in &result.notes {
            out.push_str(&format!("    {n}\n"));
        }
    }
    target.secrets.redact(&out)
}

fn finding_text(case: &Case, file: &str, f: &Finding) -> String {
    let pad = " ".repeat(f.check.as_str().len() + 3);
    let mut s = format!(
        "  [{}] expected {}\n  {pad}     got {}\n",
        f.check, f.expected, f.actual
    );
    if let Some(at) = &f.expected_at {
        s.push_str(&format!("  {pad}      at {file}:{}\n", case.locate(at)));
    }
    for d in &f.detail {
        s.push_str(&format!("  {pad}         {d}\n"));
    }
    s
}

/// The case file around the failed expectations, each labelled with its check.
fn snippet(case: &Case, file: &str, findings: &[Finding]) -> String {
    let labels: Vec<LabeledSpan> = findings
        .iter()
        .filter_map(|f| {
            let at = f.expected_at.as_ref()?;
            let span = crate::case::span_of(case, at);
            Some(LabeledSpan::new(
                Some(format!("{}: expected here", f.check)),
                span.start,
                span.end.saturating_sub(span.start),
            ))
        })
        .collect();
    if labels.is_empty() {
        return String::new();
    }
    let diag = MietteDiagnostic::new(format!("in {file}")).with_labels(labels);
    let report =
        miette::Report::new(diag).with_source_code(NamedSource::new(file, case.source.to_string()));
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
        "    body ({} bytes{}):\n",
        r.body.len(),
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

/// A curl command that sends the same request; keys appear as their environment variables.
pub fn curl(req: &Outgoing, auth: Option<&Auth>) -> String {
    let mut parts = vec!["curl -i".to_string()];
    if req.method != "GET" {
        parts.push(format!("-X {}", req.method));
    }
    parts.push(quote(&req.url));
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case("authorization") {
            let shown = match auth {
                Some(Auth::Role(Role::Malformed)) => {
                    quote(&format!("Authorization: Bearer {MALFORMED_TOKEN}"))
                }
                Some(Auth::Role(role)) => match role.env_var() {
                    Some(var) => format!("-H \"Authorization: Bearer ${var}\""),
                    None => continue,
                },
                Some(Auth::Explicit { .. }) => quote(&format!("{name}: {value}")),
                None => "-H \"Authorization: Bearer $ERRCONTRACT_API_KEY\"".to_string(),
            };
            parts.push(if shown.starts_with("-H") {
                shown
            } else {
                format!("-H {shown}")
            });
        } else {
            parts.push(format!("-H {}", quote(&format!("{name}: {value}"))));
        }
    }
    if let Some(body) = &req.body {
        if body.len() <= 4096 {
            parts.push(format!(
                "--data-binary {}",
                quote(&String::from_utf8_lossy(body))
            ));
        } else {
            parts.push(format!(
                "--data-binary @<(printf '{{\"padding\":\"%s\"}}' \"$(head -c {} /dev/zero | tr '\\0' a)\")",
                body.len().saturating_sub(14)
            ));
        }
    }
    parts.join(" ")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The command that reruns this one case against the same target.
pub fn rerun_command(case: &Case, target: &Target) -> String {
    let prefix = if target.reference {
        String::new()
    } else {
        format!("ERRCONTRACT_BASE_URL={} ", quote(&target.base_url))
    };
    format!(
        "{prefix}cargo test --test contract -- --exact {}",
        case.trial_name()
    )
}

/// A path as the user would type it: relative to the working directory when below it.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let rel = cwd
        .as_ref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(path);
    rel.display().to_string()
}
