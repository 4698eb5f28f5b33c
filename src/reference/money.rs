//! US dollars as whole micro-dollars, so balances and prices never drift through floats.

use std::fmt;
use std::str::FromStr;

/// An amount of US dollars, exact to the micro-dollar (six decimal places).
///
/// Parsed from and shown as a decimal string (`"1000.00"`, `"0.035"`), the form the API uses for
/// balances and catalog prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Usd {
    micros: u64,
}

/// Why a decimal string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a USD amount: {0:?} (expected digits with at most 6 decimal places, e.g. 1000.00)")]
pub struct UsdParseError(String);

const MICROS_PER_USD: u64 = 1_000_000;

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd { micros: 0 };

    /// An amount of micro-dollars.
    pub const fn from_micros(micros: u64) -> Self {
        Usd { micros }
    }

    /// Whole dollars.
    pub const fn from_dollars(dollars: u64) -> Self {
        Usd {
            micros: dollars.saturating_mul(MICROS_PER_USD),
        }
    }

    /// The amount in micro-dollars.
    pub const fn micros(self) -> u64 {
        self.micros
    }

    /// The amount as a JSON number (usage and cost fields are numbers in the SDK types).
    pub fn as_f64(self) -> f64 {
        // Exact for every amount below 2^53 micro-dollars (about 9 billion dollars).
        self.micros as f64 / MICROS_PER_USD as f64
    }

    /// `self * n`, saturating.
    pub fn times(self, n: u64) -> Usd {
        Usd {
            micros: self.micros.saturating_mul(n),
        }
    }

    /// `self + other`, saturating.
    pub fn plus(self, other: Usd) -> Usd {
        Usd {
            micros: self.micros.saturating_add(other.micros),
        }
    }

    /// `self - other`, or `None` when that would be negative.
    pub fn minus(self, other: Usd) -> Option<Usd> {
        self.micros.checked_sub(other.micros).map(Usd::from_micros)
    }
}

impl FromStr for Usd {
    type Err = UsdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UsdParseError(s.to_owned());
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 6 {
            return Err(err());
        }
        if s.ends_with('.') {
            return Err(err());
        }
        let whole: u64 = whole.parse().map_err(|_| err())?;
        let mut frac_micros: u64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            frac_micros += u64::from(b - b'0') * 10u64.pow(5 - i as u32);
        }
        whole
            .checked_mul(MICROS_PER_USD)
            .and_then(|m| m.checked_add(frac_micros))
            .map(Usd::from_micros)
            .ok_or_else(err)
    }
}

impl fmt::Display for Usd {
    /// At least two decimals (`1000.00`), more only when needed (`0.035`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.micros / MICROS_PER_USD;
        let frac = format!("{:06}", self.micros % MICROS_PER_USD);
        let trimmed = frac.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &frac[..2]
        } else {
            trimmed
        };
        write!(f, "{whole}.{shown}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_decimal_strings() {
        for (text, micros, shown) in [
            ("1000.00", 1_000_000_000, "1000.00"),
            ("1000", 1_000_000_000, "1000.00"),
            ("0.035", 35_000, "0.035"),
            ("0", 0, "0.00"),
            ("0.000001", 1, "0.000001"),
            ("12.5", 12_500_000, "12.50"),
        ] {
            let usd: Usd = text.parse().unwrap();
            assert_eq!(usd.micros(), micros, "{text}");
            assert_eq!(usd.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_amount() {
        for text in [
            "",
            "-1",
            "1.",
            ".5",
            "1.0000001",
            "1e3",
            "abc",
            " 1",
            "99999999999999999999",
        ] {
            assert!(text.parse::<Usd>().is_err(), "{text:?}");
        }
    }
}
