//! What the reference server can be told: the four roles' accounts, their limits, and the
//! timing of videos. Public, because tests, the bench and `serve` build servers from it; the
//! domain files read it once at start-up and never see it again.

use std::time::Duration;

use super::cli;
use super::money::Usd;

/// Key of the `valid` role by default.
pub const DEFAULT_VALID_KEY: &str = "sk_test_errcontract_valid";
/// Key of the `zero_balance` role by default.
pub const DEFAULT_ZERO_BALANCE_KEY: &str = "sk_test_errcontract_zero_balance";
/// Key of the `revoked` role by default.
pub const DEFAULT_REVOKED_KEY: &str = "sk_test_errcontract_revoked";
/// Key of the `throttled` role by default.
pub const DEFAULT_THROTTLED_KEY: &str = "sk_test_errcontract_throttled";

/// Per-workspace rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `POST /v2/images/generations` requests admitted per window.
    pub image_rpm: u32,
    /// `POST /v2/videos/generations` requests admitted per window.
    pub video_rpm: u32,
    /// Generations in flight at once (pending videos; images finish at once).
    pub concurrency: u32,
}

impl Limits {
    /// The `throttled` role's limits: nothing is ever admitted.
    pub const NONE: Limits = Limits {
        image_rpm: 0,
        video_rpm: 0,
        concurrency: 0,
    };
    /// The `valid` role's default limits.
    pub const DEFAULT: Limits = Limits {
        image_rpm: 600,
        video_rpm: 600,
        concurrency: 50,
    };
}

/// One API key and the workspace behind it (each account is its own workspace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The bearer token, `sk_…`.
    pub key: String,
    /// Starting balance.
    pub balance: Usd,
    /// Rate limits.
    pub limits: Limits,
    /// A revoked key answers 401 `invalid_api_key` to every request.
    pub revoked: bool,
}

/// When a submitted video reaches its terminal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoAdvance {
    /// On the n-th poll (earlier polls say `pending`). `Polls(2)`: pending once, then done.
    Polls(u32),
    /// On the first poll at least this long after submission.
    After(Duration),
}

/// Everything the reference server can be told. `Default` is the documented fixed set.
#[derive(Debug, Clone)]
pub struct Config {
    /// Role `valid`: balance 1000.00, image and video RPM 600, concurrency 50.
    pub valid: Account,
    /// Role `zero_balance`: balance 0.00, so every generation answers 402.
    pub zero_balance: Account,
    /// Role `revoked`: every request answers 401.
    pub revoked: Account,
    /// Role `throttled`: limits 0, so every generation answers 429.
    pub throttled: Account,
    /// Length of the RPM windows (60 s, as documented).
    pub rate_window: Duration,
    /// When videos finish (default: on the second poll).
    pub video_advance: VideoAdvance,
    /// Longest a pending video holds a concurrency slot, polled or not (default 60 s), so
    /// videos nobody polls do not lock a workspace forever.
    pub video_hold: Duration,
    /// How long generated files (and their signed URLs) live: `deletes_at` (default 24 h).
    pub file_ttl: Duration,
    /// Whether the documented triggers (fault header, prompt terms) are active (default true).
    pub triggers: bool,
    /// How long a client may take to send a request's headers before the connection is
    /// closed (default 10 s), so half-sent requests cannot hold connections open.
    pub header_read_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let account = |key: &str, balance: Usd, limits: Limits, revoked: bool| Account {
            key: key.to_owned(),
            balance,
            limits,
            revoked,
        };
        Config {
            valid: account(
                DEFAULT_VALID_KEY,
                Usd::from_dollars(1000),
                Limits::DEFAULT,
                false,
            ),
            zero_balance: account(DEFAULT_ZERO_BALANCE_KEY, Usd::ZERO, Limits::DEFAULT, false),
            revoked: account(DEFAULT_REVOKED_KEY, Usd::ZERO, Limits::DEFAULT, true),
            throttled: account(
                DEFAULT_THROTTLED_KEY,
                Usd::from_dollars(1000),
                Limits::NONE,
                false,
            ),
            rate_window: Duration::from_secs(60),
            video_advance: VideoAdvance::Polls(2),
            video_hold: Duration::from_secs(60),
            file_ttl: Duration::from_secs(24 * 60 * 60),
            triggers: true,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// The key of each role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Works, with balance.
    pub valid: String,
    /// Works, but has no balance.
    pub zero_balance: String,
    /// Revoked.
    pub revoked: String,
    /// Works, but every generation is rate limited.
    pub throttled: String,
}

impl Config {
    /// The key of each role.
    pub fn keys(&self) -> Keys {
        Keys {
            valid: self.valid.key.clone(),
            zero_balance: self.zero_balance.key.clone(),
            revoked: self.revoked.key.clone(),
            throttled: self.throttled.key.clone(),
        }
    }

    /// The accounts, in role order.
    pub(crate) fn accounts(&self) -> [&Account; 4] {
        [
            &self.valid,
            &self.zero_balance,
            &self.revoked,
            &self.throttled,
        ]
    }

    /// Refuse what would make the server lie: keys it could never accept, or two roles
    /// sharing a key.
    pub(crate) fn check(&self) -> std::io::Result<()> {
        let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, msg);
        let accounts = self.accounts();
        for (i, account) in accounts.iter().enumerate() {
            cli::check_key(&account.key).map_err(invalid)?;
            if accounts[..i].iter().any(|a| a.key == account.key) {
                return Err(invalid(format!(
                    "two roles share the key {:?}",
                    account.key
                )));
            }
        }
        if self.rate_window.is_zero() {
            return Err(invalid("the rate window must be longer than zero".into()));
        }
        Ok(())
    }
}
