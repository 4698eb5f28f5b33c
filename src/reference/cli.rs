//! `errcontract serve`: its arguments and the banner it prints (the library only builds the
//! text; `main.rs` prints it).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use crate::contract::CodeTable;

use super::{
    CONTENT_POLICY_TERM, Config, DEFAULT_REVOKED_KEY, DEFAULT_THROTTLED_KEY, DEFAULT_VALID_KEY,
    DEFAULT_ZERO_BALANCE_KEY, Limits, Usd, VIDEO_FAILURE_TERM, VIDEO_MODERATION_TERM, VideoAdvance,
};

/// A key must look like one the server accepts: `sk_` and at least one more visible character.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    let visible = key.bytes().all(|b| b.is_ascii_graphic());
    if key.len() > 3 && key.starts_with("sk_") && visible {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a usable key: keys are `sk_` followed by visible ASCII characters"
        ))
    }
}

fn parse_key(s: &str) -> Result<String, String> {
    check_key(s).map(|()| s.to_owned())
}

fn parse_positive_secs(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of seconds above zero")),
    }
}

/// A listening address: `127.0.0.1:4010`, `[::1]:4010`, or a host name with a port
/// (`localhost:4010`), resolved once to its first address.
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let fix = "give HOST:PORT, e.g. 127.0.0.1:4010, [::1]:4010 or localhost:4010";
    match std::net::ToSocketAddrs::to_socket_addrs(s) {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("{s:?} resolves to no address; {fix}")),
        Err(e) => Err(format!("{s:?} is not an address to listen on ({e}); {fix}")),
    }
}

/// Arguments of `errcontract serve`. Every flag also reads an `ERRCONTRACT_REFERENCE_*`
/// environment variable; a flag wins over the variable.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "ERRCONTRACT_REFERENCE_ADDR",
        default_value = "127.0.0.1:4010",
        value_parser = parse_addr
    )]
    pub addr: SocketAddr,

    /// Key of the `valid` role (balance, normal limits).
    #[arg(long, env = "ERRCONTRACT_REFERENCE_VALID_KEY", default_value = DEFAULT_VALID_KEY, value_parser = parse_key)]
    pub valid_key: String,

    /// Key of the `zero_balance` role (every generation answers 402).
    #[arg(long, env = "ERRCONTRACT_REFERENCE_ZERO_BALANCE_KEY", default_value = DEFAULT_ZERO_BALANCE_KEY, value_parser = parse_key)]
    pub zero_balance_key: String,

    /// Key of the `revoked` role (every request answers 401).
    #[arg(long, env = "ERRCONTRACT_REFERENCE_REVOKED_KEY", default_value = DEFAULT_REVOKED_KEY, value_parser = parse_key)]
    pub revoked_key: String,

    /// Key of the `throttled` role (every generation answers 429).
    #[arg(long, env = "ERRCONTRACT_REFERENCE_THROTTLED_KEY", default_value = DEFAULT_THROTTLED_KEY, value_parser = parse_key)]
    pub throttled_key: String,

    /// Starting balance of the `valid` workspace, in USD.
    #[arg(long, env = "ERRCONTRACT_REFERENCE_BALANCE", default_value = "1000.00")]
    pub balance: Usd,

    /// Image generations the `valid` workspace may submit per rate window.
    #[arg(long, env = "ERRCONTRACT_REFERENCE_IMAGE_RPM", default_value_t = Limits::DEFAULT.image_rpm)]
    pub image_rpm: u32,

    /// Video generations the `valid` workspace may submit per rate window.
    #[arg(long, env = "ERRCONTRACT_REFERENCE_VIDEO_RPM", default_value_t = Limits::DEFAULT.video_rpm)]
    pub video_rpm: u32,

    /// Generations the `valid` workspace may have in flight (pending videos).
    #[arg(long, env = "ERRCONTRACT_REFERENCE_CONCURRENCY", default_value_t = Limits::DEFAULT.concurrency)]
    pub concurrency: u32,

    /// Length of the rate windows, in seconds (shorter windows make SDK retry checks quick).
    #[arg(long, env = "ERRCONTRACT_REFERENCE_RATE_WINDOW_SECS", default_value_t = 60, value_parser = parse_positive_secs)]
    pub rate_window_secs: u64,

    /// A video reaches its terminal status on this poll (earlier polls say pending).
    #[arg(long, env = "ERRCONTRACT_REFERENCE_VIDEO_POLLS", default_value_t = 2)]
    pub video_polls: u32,

    /// Instead of counting polls, finish videos this many milliseconds after submission.
    #[arg(
        long,
        env = "ERRCONTRACT_REFERENCE_VIDEO_AFTER_MS",
        conflicts_with = "video_polls"
    )]
    pub video_after_ms: Option<u64>,

    /// Longest a pending video holds a concurrency slot, in seconds.
    #[arg(
        long,
        env = "ERRCONTRACT_REFERENCE_VIDEO_HOLD_SECS",
        default_value_t = 60
    )]
    pub video_hold_secs: u64,

    /// Turn the triggers off (fault header, prompt terms), like a production API.
    #[arg(long, env = "ERRCONTRACT_REFERENCE_NO_TRIGGERS")]
    pub no_triggers: bool,
}

impl ServeArgs {
    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server configuration these arguments describe.
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        config.valid.key = self.valid_key.clone();
        config.valid.balance = self.balance;
        config.valid.limits = Limits {
            image_rpm: self.image_rpm,
            video_rpm: self.video_rpm,
            concurrency: self.concurrency,
        };
        config.zero_balance.key = self.zero_balance_key.clone();
        config.revoked.key = self.revoked_key.clone();
        config.throttled.key = self.throttled_key.clone();
        config.rate_window = Duration::from_secs(self.rate_window_secs);
        config.video_advance = match self.video_after_ms {
            Some(ms) => VideoAdvance::After(Duration::from_millis(ms)),
            None => VideoAdvance::Polls(self.video_polls),
        };
        config.video_hold = Duration::from_secs(self.video_hold_secs);
        config.triggers = !self.no_triggers;
        config
    }
}

/// What `serve` prints at start: the address, the key of each role, the triggers.
pub fn banner(config: &Config, addr: SocketAddr) -> String {
    let mut out = String::new();
    // Statuses come from the code table, like every status the server sends.
    let table = CodeTable::embedded();
    let answer = |code: &str| match table.status_of(code) {
        Some(status) => format!("{status} {code}"),
        None => code.to_owned(),
    };
    let window = config.rate_window.as_secs();
    let limits = |l: &Limits| {
        format!(
            "image {}/{window}s, video {}/{window}s, {} concurrent",
            l.image_rpm, l.video_rpm, l.concurrency
        )
    };
    let _ = writeln!(
        out,
        "errcontract reference server (getimg.ai v2 API) on http://{addr}"
    );
    let _ = writeln!(out, "keys (Authorization: Bearer <key>):");
    let rows = [
        ("valid", &config.valid),
        ("zero_balance", &config.zero_balance),
        ("revoked", &config.revoked),
        ("throttled", &config.throttled),
    ];
    let width = rows.iter().map(|(_, a)| a.key.len()).max().unwrap_or(0);
    for (role, account) in rows {
        let what = if account.revoked {
            format!(
                "revoked: every request answers {}",
                answer("invalid_api_key")
            )
        } else {
            format!("balance ${}, {}", account.balance, limits(&account.limits))
        };
        let _ = writeln!(out, "  {role:<13} {:<width$}  {what}", account.key);
    }
    if config.triggers {
        let _ = writeln!(out, "triggers:");
        for (trigger, effect) in [
            (
                "header X-Errcontract-Fault: server_error".to_owned(),
                format!("{} on any path", answer("server_error")),
            ),
            (
                "header X-Errcontract-Fault: panic".to_owned(),
                format!("the request panics; {}", answer("server_error")),
            ),
            (
                format!("prompt containing {CONTENT_POLICY_TERM}"),
                answer("content_policy_violation"),
            ),
            (
                format!("video prompt containing {VIDEO_FAILURE_TERM}"),
                "poll says failed (server_error)".to_owned(),
            ),
            (
                format!("video prompt containing {VIDEO_MODERATION_TERM}"),
                "poll says failed (content_policy_violation)".to_owned(),
            ),
        ] {
            let _ = writeln!(out, "  {trigger:<61} {effect}");
        }
    } else {
        let _ = writeln!(out, "triggers: off");
    }
    let videos = match config.video_advance {
        VideoAdvance::Polls(n) => format!("terminal on poll {n}"),
        VideoAdvance::After(d) => format!("terminal {} ms after submission", d.as_millis()),
    };
    let _ = writeln!(out, "videos: pending until {videos}");
    let _ = write!(out, "press ctrl-c to stop");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn defaults_are_the_documented_fixed_set() {
        let cli = Cli::try_parse_from(["serve"]).unwrap();
        assert_eq!(cli.serve.addr().to_string(), "127.0.0.1:4010");
        let config = cli.serve.config();
        let default = Config::default();
        assert_eq!(config.keys(), default.keys());
        assert_eq!(config.valid, default.valid);
        assert_eq!(config.video_advance, VideoAdvance::Polls(2));
    }

    #[test]
    fn flags_override_keys_and_limits() {
        let cli = Cli::try_parse_from([
            "serve",
            "--valid-key",
            "sk_mine",
            "--image-rpm",
            "3",
            "--video-after-ms",
            "20",
        ])
        .unwrap();
        let config = cli.serve.config();
        assert_eq!(config.valid.key, "sk_mine");
        assert_eq!(config.valid.limits.image_rpm, 3);
        assert_eq!(
            config.video_advance,
            VideoAdvance::After(Duration::from_millis(20))
        );
    }

    #[test]
    fn unusable_keys_are_refused() {
        assert!(Cli::try_parse_from(["serve", "--revoked-key", "nope"]).is_err());
        assert!(Cli::try_parse_from(["serve", "--revoked-key", "sk_"]).is_err());
    }

    #[test]
    fn the_banner_names_every_key() {
        let config = Config::default();
        let text = banner(&config, "127.0.0.1:4010".parse().unwrap());
        for key in [
            DEFAULT_VALID_KEY,
            DEFAULT_ZERO_BALANCE_KEY,
            DEFAULT_REVOKED_KEY,
            DEFAULT_THROTTLED_KEY,
        ] {
            assert!(text.contains(key), "{text}");
        }
        assert!(text.contains("X-Errcontract-Fault"));
    }
}
