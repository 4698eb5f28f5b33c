//! `report.html`: one self-contained page for a person (no external assets, no network): the
//! summary, the code × endpoint coverage matrix with its gaps, and every case, failures first,
//! each failure with its evidence and reproduction; filters by verdict and by area, kept in the
//! address (`#verdict=failed&area=images`) so a link shows what its sender saw.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::redact::Secrets;

use super::json::{CaseRecord, Document};
use crate::gate::Verdict;

/// Verdicts in the order a reader needs them: what fails the run first.
const ORDER: [Verdict; 7] = [
    Verdict::Failed,
    Verdict::UnexpectedPass,
    Verdict::InvalidCase,
    Verdict::ExpectedFailure,
    Verdict::Inconclusive,
    Verdict::Ignored,
    Verdict::Passed,
];

fn rank(kind: Verdict) -> usize {
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// Text made safe for HTML, after redaction.
struct Html<'a> {
    secrets: &'a Secrets,
}

impl Html<'_> {
    fn text(&self, s: &str) -> String {
        let s = self.secrets.redact(s);
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        out
    }
}

/// The area of a case: the first part of its name (`case::images/x` → `images`).
pub(super) fn area(name: &str) -> &str {
    let name = name.strip_prefix(crate::case::TRIAL_PREFIX).unwrap_or(name);
    name.split_once('/').map_or(name, |(a, _)| a)
}

/// The page.
pub fn render(doc: &Document, secrets: &Secrets) -> String {
    let h = Html { secrets };
    let mut out = String::with_capacity(64 * 1024 + doc.cases.len() * 512);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>errcontract: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        h.text(&doc.target)
    );
    let _ = write!(
        out,
        "<header><h1>errcontract report</h1><p class=\"meta\">target <code>{}</code> · {}",
        h.text(&doc.target),
        h.text(&doc.tool)
    );
    if let Some(file) = &doc.expectations {
        let _ = write!(out, " · gated by <code>{}</code>", h.text(file));
    }
    out.push_str("</p></header>\n<main>\n");
    summary(&mut out, doc, &h);
    coverage(&mut out, doc, &h);
    cases(&mut out, doc, &h);
    out.push_str("</main>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    secrets.redact(&out)
}

fn count(doc: &Document, kind: Verdict) -> usize {
    doc.summary.get(kind.as_str()).copied().unwrap_or(0)
}

fn summary(out: &mut String, doc: &Document, h: &Html<'_>) {
    let total: usize = ORDER.iter().map(|k| count(doc, *k)).sum();
    let failing = count(doc, Verdict::Failed)
        + count(doc, Verdict::UnexpectedPass)
        + count(doc, Verdict::InvalidCase);
    let headline = if !doc.guards.is_empty() {
        let mut text = format!(
            "<p class=\"headline bad\">The run proves less than it seems (exit {}).</p>",
            doc.exit_code
        );
        for g in &doc.guards {
            let _ = write!(text, "<pre class=\"guard\">{}</pre>", h.text(&g.message));
        }
        text
    } else if failing == 0 {
        "<p class=\"headline ok\">No case failed.</p>".to_string()
    } else {
        format!("<p class=\"headline bad\">{failing} of {total} cases fail the run.</p>")
    };
    let _ = write!(
        out,
        "<section id=\"summary\" aria-labelledby=\"summary-h\"><h2 id=\"summary-h\">Summary</h2><p class=\"ran\">{ran}.</p>{headline}<table class=\"totals\"><tbody>",
        // How many ran, of how many, and why the rest did not: first, as in summary.md.
        ran = h.text(&super::not_run::headline(
            doc.cases
                .iter()
                .map(|c| (c.name.as_str(), c.outcome, c.reason.as_deref())),
            doc.missing.len(),
        )),
    );
    for kind in ORDER {
        let n = count(doc, kind);
        let _ = write!(
            out,
            "<tr class=\"v-{k}\"><th scope=\"row\"><span class=\"badge {k}\">{label}</span></th><td>{n}</td></tr>",
            k = kind.as_str(),
            label = kind.as_str().replace('_', " ")
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn coverage(out: &mut String, doc: &Document, h: &Html<'_>) {
    let m = &doc.coverage;
    out.push_str("<section id=\"coverage\" aria-labelledby=\"coverage-h\"><h2 id=\"coverage-h\">Coverage: error codes by endpoint</h2>");
    out.push_str("<p class=\"legend\"><span class=\"cell held\">3</span> responses with the code in cases that held · <span class=\"cell broken\">1/2✗</span> held / broke the contract · <span class=\"cell gap\">gap</span> a case expected the code, it never came · <span class=\"cell none\">·</span> not seen</p>");
    out.push_str(
        "<div class=\"scroll\"><table class=\"matrix\"><thead><tr><th scope=\"col\">endpoint</th>",
    );
    for code in &m.codes {
        // A break after each `_`, so long codes wrap on a laptop screen.
        let code = h.text(code).replace('_', "_<wbr>");
        let _ = write!(out, "<th scope=\"col\"><code>{code}</code></th>");
    }
    out.push_str("</tr></thead><tbody>");
    for (label, cells) in &m.rows {
        if cells.is_empty() && label == super::OTHER {
            continue;
        }
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><code>{}</code></th>",
            h.text(label)
        );
        for code in &m.codes {
            let (class, text) = match cells.get(code) {
                None => ("none", "·".to_string()),
                Some(c) if c.held == 0 && c.broken == 0 && c.missing > 0 => {
                    ("gap", format!("gap ({} expected)", c.missing))
                }
                Some(c) if c.broken == 0 => ("held", c.held.to_string()),
                Some(c) => ("broken", format!("{}/{}✗", c.held, c.broken)),
            };
            // Expected here by some case and missing there, though seen in others: still a gap.
            let more = match cells.get(code) {
                Some(c) if c.missing > 0 && (c.held > 0 || c.broken > 0) => {
                    format!(" <span class=\"gapnote\">+{} gap</span>", c.missing)
                }
                _ => String::new(),
            };
            let _ = write!(out, "<td class=\"cell {class}\">{text}{more}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>\n");
}

fn cases(out: &mut String, doc: &Document, h: &Html<'_>) {
    let mut cases: Vec<&CaseRecord> = doc.cases.iter().collect();
    cases.sort_by(|a, b| {
        rank(a.outcome)
            .cmp(&rank(b.outcome))
            .then(a.name.cmp(&b.name))
    });
    let mut areas: Vec<&str> = cases.iter().map(|c| area(&c.name)).collect();
    areas.sort_unstable();
    areas.dedup();
    out.push_str("<section id=\"cases\" aria-labelledby=\"cases-h\"><h2 id=\"cases-h\">Cases</h2><nav id=\"filters\" aria-label=\"filters\"><span>verdict</span> ");
    let _ = write!(
        out,
        "<button type=\"button\" data-verdict=\"all\" aria-pressed=\"true\">all ({})</button>",
        cases.len()
    );
    for kind in ORDER {
        let n = count(doc, kind);
        if n > 0 {
            let _ = write!(
                out,
                "<button type=\"button\" data-verdict=\"{k}\" aria-pressed=\"false\" class=\"{k}\">{label} ({n})</button>",
                k = kind.as_str(),
                label = kind.as_str().replace('_', " ")
            );
        }
    }
    out.push_str(" <label>area <select id=\"area\"><option value=\"\">all</option>");
    for a in &areas {
        let a = h.text(a);
        let _ = write!(out, "<option value=\"{a}\">{a}</option>");
    }
    out.push_str(
        "</select></label></nav><p id=\"shown\" aria-live=\"polite\"></p><ol id=\"case-list\">",
    );
    for c in cases {
        case(out, c, h);
    }
    out.push_str("</ol></section>\n");
}

fn case(out: &mut String, c: &CaseRecord, h: &Html<'_>) {
    let k = c.outcome.as_str();
    let why = if !c.failed_checks.is_empty() {
        let names: Vec<&str> = c.failed_checks.iter().map(|x| x.as_str()).collect();
        format!("[{}]", names.join(", "))
    } else {
        c.reason.clone().unwrap_or_default()
    };
    let ms = c.elapsed_ms.map_or(String::new(), |ms| format!("{ms} ms"));
    let open = matches!(
        c.outcome,
        Verdict::Failed | Verdict::UnexpectedPass | Verdict::InvalidCase
    );
    let _ = write!(
        out,
        "<li class=\"case v-{k}\" data-verdict=\"{k}\" data-area=\"{area}\"><details{open}><summary><span class=\"badge {k}\">{label}</span> <code>{name}</code> <span class=\"why\">{why}</span> <span class=\"ms\">{ms}</span></summary><div class=\"body\"><p class=\"file\">{file}",
        area = h.text(area(&c.name)),
        open = if open { " open" } else { "" },
        label = k.replace('_', " "),
        name = h.text(&c.name),
        why = h.text(&why),
        file = h.text(&c.file),
    );
    if let Some(t) = &c.ticket {
        let _ = write!(out, " · ticket <a href=\"{t}\">{t}</a>", t = h.text(t));
    }
    out.push_str("</p>");
    if let (Verdict::ExpectedFailure, Some(reason)) = (c.outcome, &c.reason) {
        // The vendor's reason, next to its ticket.
        let _ = write!(out, "<p class=\"note\">{}</p>", h.text(reason));
    }
    if let Some(m) = &c.message {
        let _ = write!(out, "<pre class=\"message\">{}</pre>", h.text(m));
    }
    if let Some(e) = &c.evidence {
        let mut sent = format!("{} {}\n", e.request.method, e.request.url);
        for (n, v) in &e.request.headers {
            let _ = writeln!(sent, "{n}: {v}");
        }
        if let Some(b) = &e.request.body {
            let _ = write!(sent, "\n{b}");
        }
        let _ = write!(
            out,
            "<h3>step {} sent</h3><pre class=\"request\">{}</pre>",
            e.step,
            h.text(&sent)
        );
        match (&e.response, &e.transport_error) {
            (Some(r), _) => {
                let mut came = format!("{} {}\n", r.version, r.status);
                for (n, v) in &r.headers {
                    let _ = writeln!(came, "{n}: {v}");
                }
                let _ = write!(came, "\n{}", r.body);
                let _ = write!(
                    out,
                    "<h3>and got ({} ms)</h3><pre class=\"response\">{}</pre>",
                    e.elapsed_ms,
                    h.text(&came)
                );
            }
            (None, Some(t)) => {
                let _ = write!(
                    out,
                    "<h3>and got no response</h3><pre class=\"response\">{}</pre>",
                    h.text(t)
                );
            }
            (None, None) => {}
        }
        let _ = write!(
            out,
            "<h3>reproduce</h3><pre class=\"repro\">{}",
            h.text(&e.curl)
        );
        if let Some(r) = &c.rerun {
            let _ = write!(out, "\n{}", h.text(r));
        }
        out.push_str("</pre>");
    }
    for note in &c.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", h.text(note));
    }
    out.push_str("</div></details></li>");
}

/// Write `report.html` into `dir`.
pub fn write(dir: &Path, doc: &Document, secrets: &Secrets) -> std::io::Result<PathBuf> {
    let path = dir.join("report.html");
    std::fs::write(&path, render(doc, secrets))?;
    Ok(path)
}

const STYLE: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;
--failed:#cf222e;--unexpected_pass:#bc4c00;--invalid_case:#8250df;--expected_failure:#9a6700;
--inconclusive:#6e7781;--ignored:#8c959f;--passed:#1a7f37}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header,main{max-width:80rem;margin:0 auto;padding:0 1.25rem}
header{padding-top:1rem;border-bottom:1px solid var(--line)}
h1{font-size:1.5rem;margin:.25rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}h3{font-size:.95rem;margin:.8rem 0 .3rem}
.meta{color:var(--muted);margin:.25rem 0 .75rem}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:.6rem .75rem;overflow:auto;max-height:28rem;white-space:pre-wrap;word-break:break-word}
.headline{font-weight:600}.headline.ok{color:var(--passed)}.headline.bad{color:var(--failed)}
table{border-collapse:collapse}
.totals td,.totals th{padding:.15rem .75rem .15rem 0;text-align:left}
.badge{display:inline-block;min-width:7.5rem;padding:0 .4rem;border-radius:1rem;color:#fff;font-size:.8rem;text-align:center;text-transform:uppercase;letter-spacing:.02em}
.badge.failed{background:var(--failed)}.badge.unexpected_pass{background:var(--unexpected_pass)}.badge.invalid_case{background:var(--invalid_case)}
.badge.expected_failure{background:var(--expected_failure)}.badge.inconclusive{background:var(--inconclusive)}.badge.ignored{background:var(--ignored)}.badge.passed{background:var(--passed)}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
.matrix th,.matrix td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:center;white-space:nowrap}
.matrix thead th{white-space:normal;max-width:7rem;font-weight:600}
.matrix thead th{background:var(--soft);position:sticky;top:0}
.matrix tbody th{text-align:left;position:sticky;left:0;background:var(--bg)}
.cell.held{color:var(--passed);font-weight:600}.cell.broken{color:#fff;background:var(--failed);font-weight:600}
.cell.gap{color:var(--unexpected_pass);background:#fff8c5;font-weight:600}.cell.none{color:var(--ignored)}
.legend .cell{display:inline-block;padding:0 .35rem;border-radius:4px}
.gapnote{color:var(--unexpected_pass);background:#fff8c5;border-radius:4px;padding:0 .2rem;font-size:.8rem}
#filters{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.5rem 0}
#filters button{font:inherit;font-size:.85rem;padding:.15rem .6rem;border:1px solid var(--line);border-radius:1rem;background:var(--bg);cursor:pointer}
#filters button[aria-pressed=true]{background:var(--fg);color:#fff;border-color:var(--fg)}
#shown{color:var(--muted);margin:.25rem 0}
#case-list{list-style:none;padding:0;margin:0}
.case{border-bottom:1px solid var(--line)}
.case summary{cursor:pointer;padding:.35rem 0;display:flex;flex-wrap:wrap;gap:.5rem;align-items:baseline}
.case .why{color:var(--muted)}.case .ms{color:var(--muted);margin-left:auto;font-size:.85rem}
.case .body{padding:0 0 .75rem 1rem}.file{color:var(--muted);margin:.2rem 0}.note{color:var(--muted);font-size:.9rem}
"#;

const SCRIPT: &str = r#"
(function () {
  var list = document.getElementById('case-list');
  var items = Array.prototype.slice.call(list.children);
  var buttons = Array.prototype.slice.call(document.querySelectorAll('#filters button[data-verdict]'));
  var area = document.getElementById('area');
  var shown = document.getElementById('shown');
  function state() { return new URLSearchParams(location.hash.slice(1)); }
  function apply() {
    var s = state(), verdict = s.get('verdict') || 'all', a = s.get('area') || '', n = 0;
    items.forEach(function (li) {
      var show = (verdict === 'all' || li.dataset.verdict === verdict) && (!a || li.dataset.area === a);
      li.hidden = !show;
      if (show) { n++; }
    });
    buttons.forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.verdict === verdict)); });
    area.value = a;
    shown.textContent = n + ' of ' + items.length + ' cases shown';
  }
  function set(key, value) {
    var s = state();
    if (!value || value === 'all') { s.delete(key); } else { s.set(key, value); }
    try { history.replaceState(null, '', '#' + s.toString()); } catch (e) { location.hash = s.toString(); }
    apply();
  }
  buttons.forEach(function (b) { b.addEventListener('click', function () { set('verdict', b.dataset.verdict); }); });
  area.addEventListener('change', function () { set('area', area.value); });
  window.addEventListener('hashchange', apply);
  apply();
})();
"#;
