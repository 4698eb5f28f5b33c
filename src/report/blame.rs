//! The one line a failed derived case leads with: what fault was injected and what the target
//! said about it instead, when that answer is a well-formed, table-consistent error (or an
//! acceptance). "dropped `prompt`: the target blamed `model`" is the finding itself; the checks
//! below it are the evidence.

use serde_json::Value;

use crate::case::Case;
use crate::check::CheckName;
use crate::run::StepRecord;

/// The blame line of a failed step of a derived case, if the answer is one to compare.
pub fn blame(case: &Case, record: &StepRecord) -> Option<String> {
    let derived = case.derived.as_ref()?;
    // An answer that breaks the envelope or the table is not "another error"; its own checks say so.
    let malformed = [
        CheckName::Transport,
        CheckName::ContentType,
        CheckName::Json,
        CheckName::Schema,
        CheckName::Table,
    ];
    if record.findings.iter().any(|f| malformed.contains(&f.check)) {
        return None;
    }
    let response = record.exchange.as_ref()?.response.as_ref().ok()?;
    let words = &derived.words;
    if response.status < 400 {
        return Some(format!(
            "{words}: the target accepted it ({} {})",
            response.status, response.reason
        ));
    }
    let (_, step) = case.steps.get(record_index(case, record)?)?;
    let want_code = step.expect.code.as_deref()?;
    let want_param = step.expect.param.clone().flatten();
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    let error = body.get("error")?;
    let got_code = error.get("code")?.as_str()?;
    let got_param = error.get("param").and_then(Value::as_str);
    let param_text = |p: Option<&str>| match p {
        Some(p) => format!("`{p}`"),
        None => "no parameter".to_string(),
    };
    let same_param = got_param == want_param.as_deref();
    Some(match (got_code == want_code, same_param) {
        (true, true) => return None,
        (true, false) => format!("{words}: the target blamed {}", param_text(got_param)),
        (false, true) => {
            format!("{words}: the target answered `{got_code}` instead of `{want_code}`")
        }
        (false, false) => format!(
            "{words}: the target answered `{got_code}` blaming {} (expected `{want_code}` for {})",
            param_text(got_param),
            param_text(want_param.as_deref())
        ),
    })
}

/// The index of the step a record is of.
fn record_index(case: &Case, record: &StepRecord) -> Option<usize> {
    case.steps.iter().position(|(base, _)| *base == record.base)
}
