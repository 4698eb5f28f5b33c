//! Settings from the environment (`ERRCONTRACT_*`), validated once with errors that say which
//! variable is wrong and what to set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::case::{Feature, Role};

/// Everything a run is configured by.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ERRCONTRACT_BASE_URL`: the target; unset, the built-in reference server.
    pub base_url: Option<String>,
    /// Keys by role, from `ERRCONTRACT_*API_KEY` (never printed).
    pub keys: BTreeMap<Role, String>,
    /// `ERRCONTRACT_FEATURES`: what the target offers (comma-separated).
    pub features: BTreeSet<Feature>,
    /// `ERRCONTRACT_CASES`.
    pub cases_dir: PathBuf,
    /// `ERRCONTRACT_SCHEMAS`.
    pub schemas_dir: PathBuf,
    /// `ERRCONTRACT_REPORT_DIR`: where reports go.
    pub report_dir: Option<PathBuf>,
    /// `ERRCONTRACT_RPS`: requests per second at most (0: no limit).
    pub rps: f64,
    /// `ERRCONTRACT_CONCURRENCY`: requests in flight at most.
    pub concurrency: usize,
    /// `ERRCONTRACT_TIMEOUT_S`: total time for one request.
    pub timeout: Duration,
    /// `ERRCONTRACT_CONNECT_TIMEOUT_S`.
    pub connect_timeout: Duration,
    /// `ERRCONTRACT_MAX_BODY`: bytes read of a body at most.
    pub max_body: usize,
    /// `ERRCONTRACT_CASE_DEADLINE_S`: one case, all its steps and waits.
    pub case_deadline: Duration,
    /// `ERRCONTRACT_RUN_DEADLINE_S`: the whole run; cases not started by then are inconclusive.
    pub run_deadline: Duration,
    /// `ERRCONTRACT_THROTTLE_BUDGET_S`: how long a case may wait out unexpected 429s.
    pub throttle_budget: Duration,
    /// `ERRCONTRACT_ALLOW_BILLABLE=1`.
    pub allow_billable: bool,
    /// `ERRCONTRACT_ALLOW_INSECURE=1`: allow `http://` to a non-loopback host.
    pub allow_insecure: bool,
    /// `ERRCONTRACT_EXPECTATIONS`: the known-failures file of a vendor gate.
    pub expectations: Option<PathBuf>,
    /// `ERRCONTRACT_MAX_INCONCLUSIVE`: the share of run cases that may end inconclusive.
    pub max_inconclusive: f64,
    /// `ERRCONTRACT_MAX_TIMEOUTS`: requests in a row without an answer after which the target
    /// is taken to have stopped answering.
    pub max_timeouts: usize,
    /// `ERRCONTRACT_POLL_BUDGET_S`: how long a long-running job (a video) is polled at least;
    /// a case's own `timeout_ms` counts when longer.
    pub poll_budget: Duration,
    /// `ERRCONTRACT_CA_CERT`: a PEM file of CAs trusted on top of the system's (a staging CA).
    pub ca_cert: Option<PathBuf>,
    /// `ERRCONTRACT_CLIENT_CERT` and `ERRCONTRACT_CLIENT_KEY`: the PEM certificate chain and
    /// private key presented to a target that asks for a client certificate.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    /// Whether nextest runs this process (`NEXTEST` is set): one process per trial, each
    /// leaving a fragment of the reports for `errcontract report` to merge.
    pub under_nextest: bool,
}

/// A variable with a value errcontract cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={shown}: {problem}\n  help: {help}")]
pub struct SettingsError {
    /// The variable.
    pub var: String,
    /// Its value as shown (keys are never shown).
    pub shown: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub help: String,
    /// Which kind of problem (the exit code depends on it).
    pub kind: SettingsErrorKind,
}

/// What kind of problem a [`SettingsError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SettingsErrorKind {
    /// A value errcontract cannot use.
    #[default]
    Invalid,
    /// `ERRCONTRACT_BASE_URL` is set but empty: the run would silently test the built-in
    /// server instead of the target meant.
    BlankTarget,
}

impl Settings {
    /// Read the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        if get("ERRCONTRACT_BASE_URL").is_some_and(|v| v.trim().is_empty()) {
            return Err(SettingsError {
                var: "ERRCONTRACT_BASE_URL".into(),
                shown: String::new(),
                problem: "set but empty: the run would test the built-in reference server, not the target you meant".into(),
                help: "give the target's URL (is a CI secret or variable missing?), or unset the variable to test the built-in reference server".into(),
                kind: SettingsErrorKind::BlankTarget,
            });
        }
        // The key of role `valid` is what most cases need: set but empty, it is a missing CI
        // secret, and the run would quietly ignore those cases. (The other roles' keys are
        // optional: empty is unset.)
        if get("ERRCONTRACT_BASE_URL").is_some()
            && get("ERRCONTRACT_API_KEY").is_some_and(|v| v.trim().is_empty())
        {
            return Err(SettingsError {
                var: "ERRCONTRACT_API_KEY".into(),
                shown: String::new(),
                problem: "set but empty: every case that needs the valid key would be ignored".into(),
                help: "give the key (is the CI secret missing or misnamed?), or unset the variable to run only the cases that need no key".into(),
                kind: SettingsErrorKind::BlankTarget,
            });
        }
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let err = |var: &str, value: &str, problem: &str, help: &str| SettingsError {
            var: var.into(),
            shown: value.into(),
            problem: problem.into(),
            help: help.into(),
            kind: SettingsErrorKind::Invalid,
        };
        let num = |var: &str, default: f64, min: f64, max: f64| -> Result<f64, SettingsError> {
            match get(var) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
                    _ => Err(err(
                        var,
                        &v,
                        &format!("not a number from {min} to {max}"),
                        &format!("unset it for the default ({default})"),
                    )),
                },
            }
        };
        let flag = |var: &str| -> Result<bool, SettingsError> {
            match get(var).as_deref().map(str::trim) {
                None | Some("0") | Some("false") => Ok(false),
                Some("1") | Some("true") => Ok(true),
                Some(v) => Err(err(
                    var,
                    v,
                    "not 0 or 1",
                    "set it to 1 to allow, unset it to refuse",
                )),
            }
        };
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let base_url = match get("ERRCONTRACT_BASE_URL") {
            None => None,
            Some(u) => Some(check_base_url(&u, flag("ERRCONTRACT_ALLOW_INSECURE")?)?),
        };
        let mut keys = BTreeMap::new();
        for role in Role::ALL {
            if let Some(var) = role.env_var()
                && let Some(v) = get(var)
            {
                keys.insert(role, v.trim().to_string());
            }
        }
        let mut features = BTreeSet::new();
        if let Some(list) = get("ERRCONTRACT_FEATURES") {
            for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match Feature::parse(name) {
                    Some(f) => {
                        features.insert(f);
                    }
                    None => {
                        return Err(err(
                            "ERRCONTRACT_FEATURES",
                            &list,
                            &format!("unknown feature {name:?}"),
                            &format!(
                                "use a comma-separated list of: {}",
                                Feature::ALL.map(Feature::as_str).join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        let secs = |var: &str, default: f64, max: f64| -> Result<Duration, SettingsError> {
            num(var, default, 0.001, max).map(Duration::from_secs_f64)
        };
        let default_rps = if base_url.is_some() { 5.0 } else { 0.0 };
        let client_identity = match (
            get("ERRCONTRACT_CLIENT_CERT"),
            get("ERRCONTRACT_CLIENT_KEY"),
        ) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (Some(cert), None) => {
                return Err(err(
                    "ERRCONTRACT_CLIENT_KEY",
                    "",
                    &format!("unset, while ERRCONTRACT_CLIENT_CERT={cert} names a certificate"),
                    "set ERRCONTRACT_CLIENT_KEY to the PEM file of that certificate's private key",
                ));
            }
            (None, Some(key)) => {
                return Err(err(
                    "ERRCONTRACT_CLIENT_CERT",
                    "",
                    &format!("unset, while ERRCONTRACT_CLIENT_KEY={key} names a private key"),
                    "set ERRCONTRACT_CLIENT_CERT to the PEM file of the client certificate (and its chain)",
                ));
            }
        };
        Ok(Settings {
            features,
            keys,
            cases_dir: get("ERRCONTRACT_CASES")
                .map(PathBuf::from)
                .unwrap_or_else(default_cases_dir),
            schemas_dir: get("ERRCONTRACT_SCHEMAS")
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest.join("schemas")),
            report_dir: get("ERRCONTRACT_REPORT_DIR").map(PathBuf::from),
            rps: num("ERRCONTRACT_RPS", default_rps, 0.0, 100_000.0)?,
            concurrency: num("ERRCONTRACT_CONCURRENCY", 8.0, 1.0, 1024.0)? as usize,
            timeout: secs("ERRCONTRACT_TIMEOUT_S", 30.0, 3600.0)?,
            connect_timeout: secs("ERRCONTRACT_CONNECT_TIMEOUT_S", 5.0, 600.0)?,
            max_body: num(
                "ERRCONTRACT_MAX_BODY",
                1024.0 * 1024.0,
                1024.0,
                1024.0 * 1024.0 * 1024.0,
            )? as usize,
            case_deadline: secs("ERRCONTRACT_CASE_DEADLINE_S", 120.0, 86_400.0)?,
            run_deadline: secs("ERRCONTRACT_RUN_DEADLINE_S", 1800.0, 604_800.0)?,
            throttle_budget: secs("ERRCONTRACT_THROTTLE_BUDGET_S", 60.0, 86_400.0)?,
            allow_billable: flag("ERRCONTRACT_ALLOW_BILLABLE")?,
            allow_insecure: flag("ERRCONTRACT_ALLOW_INSECURE")?,
            expectations: get("ERRCONTRACT_EXPECTATIONS").map(PathBuf::from),
            max_inconclusive: share(get("ERRCONTRACT_MAX_INCONCLUSIVE")).map_err(|v| {
                err(
                    "ERRCONTRACT_MAX_INCONCLUSIVE",
                    &v,
                    "not a share from 0 to 1 (or 0% to 100%)",
                    "e.g. 0.2 or 20%; unset it for the default (0.2)",
                )
            })?,
            max_timeouts: num("ERRCONTRACT_MAX_TIMEOUTS", 5.0, 1.0, 1_000_000.0)? as usize,
            under_nextest: get("NEXTEST").is_some(),
            base_url,
            poll_budget: secs("ERRCONTRACT_POLL_BUDGET_S", 900.0, 86_400.0)?,
            ca_cert: get("ERRCONTRACT_CA_CERT").map(PathBuf::from),
            client_identity,
        })
    }
}

/// `ERRCONTRACT_MAX_INCONCLUSIVE`: `0.2` or `20%`; unset, 0.2. The value back when unusable.
fn share(value: Option<String>) -> Result<f64, String> {
    let Some(v) = value else { return Ok(0.2) };
    let t = v.trim();
    let n = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|n| n / 100.0),
        None => t.parse::<f64>(),
    };
    match n {
        Ok(n) if (0.0..=1.0).contains(&n) => Ok(n),
        _ => Err(v),
    }
}

impl Settings {
    /// The cases directory, when it is not the built-in one (a reproduction must name it).
    pub fn cases_dir_named(&self) -> Option<&std::path::Path> {
        let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
        (self.cases_dir != default).then_some(self.cases_dir.as_path())
    }
}

/// Validate a base URL: http(s), a host, no query; `http://` only to loopback unless allowed.
pub fn check_base_url(url: &str, allow_insecure: bool) -> Result<String, SettingsError> {
    let var = "ERRCONTRACT_BASE_URL";
    let err = |problem: &str, help: &str| SettingsError {
        var: var.into(),
        shown: url.into(),
        problem: problem.into(),
        help: help.into(),
        kind: SettingsErrorKind::Invalid,
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        err(
            &format!("not a URL ({e})"),
            "set it to the API's base, e.g. https://staging.example.com",
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(err("not an http(s) URL", "use https://…"));
    }
    let Some(host) = parsed.host_str() else {
        return Err(err("the URL has no host", "use https://host[:port]"));
    };
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(err(
            "the base URL carries a query or fragment",
            "give only scheme, host, port and an optional path prefix",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(err(
            "the URL carries credentials",
            "pass keys in ERRCONTRACT_API_KEY and friends, never in the URL",
        ));
    }
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if parsed.scheme() == "http" && !loopback && !allow_insecure {
        return Err(err(
            "plain http to a host that is not loopback would send API keys in clear text",
            "use https://, or set ERRCONTRACT_ALLOW_INSECURE=1 if you accept that",
        ));
    }
    Ok(url.trim().trim_end_matches('/').to_string())
}

/// The cases of this build's source tree: what `run`, `lint` and `derive` use when
/// `ERRCONTRACT_CASES` is unset, wherever they are started.
pub fn default_cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn insecure_remote_http_is_refused_unless_allowed() {
        let e = with(&[("ERRCONTRACT_BASE_URL", "http://staging.example.com")]).unwrap_err();
        assert!(
            e.to_string().contains("ERRCONTRACT_ALLOW_INSECURE=1"),
            "{e}"
        );
        assert!(
            with(&[
                ("ERRCONTRACT_BASE_URL", "http://staging.example.com"),
                ("ERRCONTRACT_ALLOW_INSECURE", "1")
            ])
            .is_ok()
        );
        assert!(with(&[("ERRCONTRACT_BASE_URL", "http://127.0.0.1:4010/")]).is_ok());
        assert!(with(&[("ERRCONTRACT_BASE_URL", "http://[::1]:4010")]).is_ok());
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        let e = with(&[("ERRCONTRACT_TIMEOUT_S", "soon")]).unwrap_err();
        assert_eq!(e.var, "ERRCONTRACT_TIMEOUT_S");
        let e = with(&[("ERRCONTRACT_FEATURES", "fault_injection,teleport")]).unwrap_err();
        assert!(e.problem.contains("teleport"));
    }
}
