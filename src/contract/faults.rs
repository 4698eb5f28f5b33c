//! Which code of the table each kind of derived fault must get (`schemas/faults.json`), so a
//! template names no code and the derivation names none either.

use serde::Deserialize;

use super::table::CodeTable;

/// The code for each kind of fault a template derives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultCodes {
    /// What the file says it is for.
    pub description: String,
    /// A required parameter was not sent.
    pub missing: String,
    /// A parameter has a wrong type, value, length, or is unknown.
    pub invalid: String,
    /// The credentials are missing, malformed, unknown or revoked.
    pub auth: String,
}

impl FaultCodes {
    /// Parse `faults.json` and check each code is one of the table's.
    pub fn parse(value: &serde_json::Value, table: &CodeTable) -> Result<Self, String> {
        let codes: FaultCodes = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        for (kind, code) in [
            ("missing", &codes.missing),
            ("invalid", &codes.invalid),
            ("auth", &codes.auth),
        ] {
            if table.get(code).is_none() {
                return Err(format!(
                    "{kind:?} is {code:?}, which is not a code of the table"
                ));
            }
        }
        Ok(codes)
    }
}
