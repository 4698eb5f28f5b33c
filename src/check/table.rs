//! `table`: the status and the code agree with `schemas/codes.json`, whatever the case expected.
//! A response with no code is still held to the table: its status must be one some code has.

use super::{CheckName, Finding};
use crate::contract::CodeTable;

/// `code` is the string `error.code`, when the body had one.
pub(super) fn check(table: &CodeTable, status: u16, code: Option<&str>) -> Option<Finding> {
    match code.map(|c| (c, table.get(c))) {
        Some((c, Some(row))) => (row.status != status).then(|| {
            Finding::new(
                CheckName::Table,
                format!("status {} for code {c:?} (the table)", row.status),
                format!("status {status} with code {c:?}"),
            )
        }),
        Some((c, None)) => Some(
            Finding::new(
                CheckName::Table,
                "a code of the table",
                format!("{c:?}, which the table does not have"),
            )
            .with_detail(vec![format!(
                "codes: {}",
                table.codes().collect::<Vec<_>>().join(", ")
            )]),
        ),
        None => (!table.has_status(status)).then(|| {
            Finding::new(
                CheckName::Table,
                "an error status of the table",
                format!("status {status}, which no code of the table has"),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{code_with, contract, unknown_status};
    use crate::contract::RetryAfterRule;

    fn table() -> &'static CodeTable {
        &contract().table
    }

    #[test]
    fn a_code_with_its_own_status_passes() {
        for c in table().codes() {
            let status = table().status_of(c).expect("a row");
            assert_eq!(check(table(), status, Some(c)), None, "{c}");
        }
    }

    #[test]
    fn a_code_with_another_status_names_both() {
        let (c, row) = code_with(RetryAfterRule::Forbidden);
        let other = table()
            .codes()
            .filter_map(|o| table().status_of(o))
            .find(|s| *s != row.status)
            .expect("two statuses");
        let f = check(table(), other, Some(c)).expect("a finding");
        assert_eq!(f.check, CheckName::Table);
        assert_eq!(
            f.expected,
            format!("status {} for code {c:?} (the table)", row.status)
        );
        assert_eq!(f.actual, format!("status {other} with code {c:?}"));
    }

    #[test]
    fn a_code_outside_the_table_lists_the_codes() {
        let status = table().status_of(code_with(RetryAfterRule::Forbidden).0);
        let f = check(table(), status.expect("a row"), Some("no_such_code")).expect("a finding");
        assert_eq!(f.expected, "a code of the table");
        assert_eq!(f.actual, "\"no_such_code\", which the table does not have");
        let codes: Vec<&str> = table().codes().collect();
        assert_eq!(f.detail, [format!("codes: {}", codes.join(", "))]);
    }

    #[test]
    fn without_a_code_the_status_must_be_one_of_the_table() {
        let status = table().status_of(code_with(RetryAfterRule::Required).0);
        assert_eq!(check(table(), status.expect("a row"), None), None);
        let free = unknown_status();
        let f = check(table(), free, None).expect("a finding");
        assert_eq!(f.expected, "an error status of the table");
        assert_eq!(
            f.actual,
            format!("status {free}, which no code of the table has")
        );
    }
}
