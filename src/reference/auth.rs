//! Who is asking: API keys to workspaces. Fixed at start-up, so it needs no lock. Every way a
//! key can fail (absent, malformed, unknown, revoked) is the same documented 401, so a client
//! learns nothing about which keys exist.

use std::collections::HashMap;

use super::config::Account;
use super::error::ApiError;

/// Index of a workspace: one per account that is not revoked, numbered in role order.
pub(crate) type WorkspaceId = usize;

enum Slot {
    Active(WorkspaceId),
    Revoked,
}

/// The keys the server knows.
pub(crate) struct KeyRing {
    slots: HashMap<String, Slot>,
}

impl KeyRing {
    /// Give each account that is not revoked its own workspace. Also returns those accounts;
    /// an account's position in the list is its workspace id.
    pub(crate) fn new<'a>(
        accounts: impl IntoIterator<Item = &'a Account>,
    ) -> (KeyRing, Vec<&'a Account>) {
        let mut slots = HashMap::new();
        let mut active = Vec::new();
        for account in accounts {
            let slot = if account.revoked {
                Slot::Revoked
            } else {
                active.push(account);
                Slot::Active(active.len() - 1)
            };
            slots.insert(account.key.clone(), slot);
        }
        (KeyRing { slots }, active)
    }

    /// The workspace of an `Authorization` value: `Bearer sk_…`, the scheme in any case,
    /// spaces around the token ignored. `None` stands for no usable header (absent, repeated,
    /// or not visible ASCII), which fails like every other case.
    pub(crate) fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<WorkspaceId, ApiError> {
        let (scheme, token) = authorization
            .and_then(|value| value.split_once(' '))
            .ok_or_else(ApiError::invalid_api_key)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || !token.starts_with("sk_") || token.len() <= 3 {
            return Err(ApiError::invalid_api_key());
        }
        match self.slots.get(token) {
            Some(Slot::Active(ws)) => Ok(*ws),
            Some(Slot::Revoked) | None => Err(ApiError::invalid_api_key()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::config::Config;
    use crate::reference::error::Code;

    fn ring() -> KeyRing {
        KeyRing::new(Config::default().accounts()).0
    }

    fn bearer(key: &str) -> String {
        format!("Bearer {key}")
    }

    #[test]
    fn revoked_accounts_get_no_workspace() {
        let config = Config::default();
        let (_, active) = KeyRing::new(config.accounts());
        let keys: Vec<&str> = active.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                config.valid.key.as_str(),
                config.zero_balance.key.as_str(),
                config.throttled.key.as_str()
            ]
        );
    }

    #[test]
    fn each_known_key_finds_its_own_workspace() {
        let keys = Config::default().keys();
        let ring = ring();
        assert_eq!(ring.authenticate(Some(&bearer(&keys.valid))).ok(), Some(0));
        assert_eq!(
            ring.authenticate(Some(&bearer(&keys.zero_balance))).ok(),
            Some(1)
        );
        assert_eq!(
            ring.authenticate(Some(&bearer(&keys.throttled))).ok(),
            Some(2)
        );
    }

    #[test]
    fn the_scheme_is_any_case_and_the_token_is_trimmed() {
        let key = Config::default().keys().valid;
        let ring = ring();
        assert_eq!(
            ring.authenticate(Some(&format!("bEaReR   {key}  "))).ok(),
            Some(0)
        );
    }

    #[test]
    fn every_failure_is_the_same_401() {
        let keys = Config::default().keys();
        let ring = ring();
        for value in [
            None,
            Some(bearer(&keys.revoked)),
            Some(bearer("sk_unknown")),
            Some(bearer("sk_")),
            Some(bearer(keys.valid.trim_start_matches("sk_"))),
            Some(format!("Basic {}", keys.valid)),
            Some(keys.valid.clone()),
            Some("Bearer".to_owned()),
        ] {
            let err = ring.authenticate(value.as_deref()).unwrap_err();
            assert_eq!(err.code, Code::InvalidApiKey, "{value:?}");
            assert_eq!(err.param, None, "{value:?}");
        }
    }
}
