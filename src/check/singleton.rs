//! Fields that allow one value (`Retry-After`, `X-RateLimit-*`, `Content-Type`): sent on more
//! than one field line, a client cannot know which to obey (and libraries differ: first, last,
//! or joined with a comma). The check that owns the field reports it, with every value shown.

use crate::probe::Incoming;

/// `2 Retry-After fields: "3", "120"` when the field came more than once.
pub(super) fn repeated(resp: &Incoming, name: &str) -> Option<String> {
    let values: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (values.len() > 1).then(|| {
        let shown: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        format!("{} {name} fields: {}", values.len(), shown.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::response;

    #[test]
    fn every_value_of_a_repeated_field_is_shown() {
        let resp = response(429, &[("retry-after", "3"), ("Retry-After", "120")], "{}");
        assert_eq!(
            repeated(&resp, "Retry-After").as_deref(),
            Some(r#"2 Retry-After fields: "3", "120""#)
        );
        let once = response(429, &[("retry-after", "3")], "{}");
        assert_eq!(repeated(&once, "Retry-After"), None);
    }
}
