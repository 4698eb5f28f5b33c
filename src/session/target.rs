//! The target of a run: the one `ERRCONTRACT_BASE_URL` names, or the built-in reference server
//! started in this process; whether it accepts connections; and the line that opens a run.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::case::{Feature, Role};
use crate::reference::{self, Running};
use crate::settings::Settings;
use crate::target::Target;

use super::SetupError;

/// The target named by `ERRCONTRACT_BASE_URL`, or the built-in reference server, started (it
/// stops when the returned server is dropped).
pub(super) fn choose(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
) -> Result<(Target, Option<Running>), SetupError> {
    if let Some(url) = &settings.base_url {
        let target = Target::new(url, false, settings.keys.clone(), settings.features.clone());
        return Ok((target, None));
    }
    let config = reference::Config::default();
    let keys = config.keys();
    let server = runtime
        .block_on(reference::start(config))
        .map_err(SetupError::ReferenceServer)?;
    let by_role = BTreeMap::from([
        (Role::Valid, keys.valid),
        (Role::ZeroBalance, keys.zero_balance),
        (Role::Revoked, keys.revoked),
        (Role::Throttled, keys.throttled),
    ]);
    let mut target = Target::new(
        &server.base_url(),
        true,
        by_role,
        Feature::ALL.into_iter().collect(),
    );
    target.in_process = true;
    Ok((target, Some(server)))
}

/// The first line: which target, with which keys and features, at what rate.
pub(super) fn header(settings: &Settings, target: &Target) -> String {
    if target.reference {
        return format!(
            "errcontract: ERRCONTRACT_BASE_URL is unset: running against the built-in reference server at {}",
            target.base_url
        );
    }
    let list = |items: Vec<&str>| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    format!(
        "errcontract: target {} (ERRCONTRACT_BASE_URL); keys for roles: {}; features: {}; {}",
        target.base_url,
        list(settings.keys.keys().map(|r| r.as_str()).collect()),
        list(settings.features.iter().map(|f| f.as_str()).collect()),
        if settings.rps > 0.0 {
            format!("at most {} requests/s (ERRCONTRACT_RPS)", settings.rps)
        } else {
            "no request rate limit (ERRCONTRACT_RPS=0)".to_string()
        }
    )
}

/// Whether a TCP connection to the target's host and port opens.
pub(super) async fn reachable(base_url: &str, timeout: Duration) -> Result<(), String> {
    let url = reqwest::Url::parse(base_url).map_err(|e| e.to_string())?;
    let host = url
        .host_str()
        .ok_or("no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().ok_or("no port")?;
    match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no TCP connection within {timeout:?}")),
    }
}
