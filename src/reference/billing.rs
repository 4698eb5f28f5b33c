//! Balances and charges: what a workspace may still spend, what it spent on each UTC day (for
//! `GET /v2/billing/costs`), and the refund of a video that failed. Amounts are exact
//! micro-dollars ([`Usd`]), so a balance never drifts.

use std::collections::BTreeMap;

use time::Date;

use super::error::{ApiError, BILLING_DOC_URL, Code};
use super::money::Usd;

/// A charge that was made, enough to take it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Charge {
    pub amount: Usd,
    /// The UTC day it was booked on.
    pub day: Date,
}

/// One workspace's money.
#[derive(Debug)]
pub(crate) struct Wallet {
    balance: Usd,
    /// Charges per UTC day, net of refunds.
    spent: BTreeMap<Date, Usd>,
}

impl Wallet {
    pub(crate) fn new(balance: Usd) -> Self {
        Wallet {
            balance,
            spent: BTreeMap::new(),
        }
    }

    pub(crate) fn balance(&self) -> Usd {
        self.balance
    }

    /// Step 7 of a submission: 402 when the generation costs more than the balance. A cost
    /// equal to the balance is allowed.
    pub(crate) fn afford(&self, cost: Usd) -> Result<(), ApiError> {
        if self.balance < cost {
            let balance = self.balance;
            return Err(ApiError::new(
                Code::QuotaExceeded,
                format!(
                    "Insufficient balance: this generation costs ${cost} and the workspace \
                     balance is ${balance}. Add credits at https://getimg.ai/app/developer/billing."
                ),
            )
            .doc_url(BILLING_DOC_URL));
        }
        Ok(())
    }

    /// Debit `amount`, booked on `day`. The caller checked [`Wallet::afford`] under the same
    /// lock, so the balance does not go below zero (it would stop at zero).
    pub(crate) fn charge(&mut self, amount: Usd, day: Date) -> Charge {
        self.balance = self.balance.minus(amount).unwrap_or(Usd::ZERO);
        let slot = self.spent.entry(day).or_default();
        *slot = slot.plus(amount);
        Charge { amount, day }
    }

    /// Take a charge back: the balance regains it and its day no longer counts it.
    pub(crate) fn refund(&mut self, charge: Charge) {
        self.balance = self.balance.plus(charge.amount);
        if let Some(slot) = self.spent.get_mut(&charge.day) {
            *slot = slot.minus(charge.amount).unwrap_or(Usd::ZERO);
        }
    }

    /// What was spent on each UTC day from `first` to `last`, inclusive, zeros included.
    pub(crate) fn costs(&self, first: Date, last: Date) -> Vec<(Date, Usd)> {
        let mut out = Vec::new();
        let mut day = first;
        while day <= last {
            out.push((day, self.spent.get(&day).copied().unwrap_or(Usd::ZERO)));
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const DAY: Date = date!(2026 - 05 - 01);

    fn cents(n: u64) -> Usd {
        Usd::from_micros(n * 10_000)
    }

    #[test]
    fn a_cost_above_the_balance_is_refused_with_402() {
        let wallet = Wallet::new(cents(100));
        let err = wallet.afford(cents(101)).unwrap_err();
        assert_eq!(err.code, Code::QuotaExceeded);
        assert_eq!(err.param, None);
        assert_eq!(err.doc_url, Some(BILLING_DOC_URL));
        assert!(
            err.message
                .contains("costs $1.01 and the workspace balance is $1.00"),
            "{}",
            err.message
        );
        assert!(wallet.afford(cents(100)).is_ok());
        assert!(Wallet::new(Usd::ZERO).afford(cents(1)).is_err());
    }

    #[test]
    fn a_charge_debits_and_is_booked_on_its_day() {
        let mut wallet = Wallet::new(cents(100));
        wallet.charge(cents(25), DAY);
        wallet.charge(cents(10), DAY);
        assert_eq!(wallet.balance(), cents(65));
        assert_eq!(wallet.costs(DAY, DAY), [(DAY, cents(35))]);
    }

    #[test]
    fn a_refund_undoes_exactly_its_charge() {
        let mut wallet = Wallet::new(cents(100));
        let kept = wallet.charge(cents(25), DAY);
        let failed = wallet.charge(cents(40), DAY);
        wallet.refund(failed);
        assert_eq!(wallet.balance(), cents(75));
        assert_eq!(wallet.costs(DAY, DAY), [(DAY, kept.amount)]);
    }

    #[test]
    fn costs_cover_every_day_of_the_range() {
        let mut wallet = Wallet::new(cents(100));
        wallet.charge(cents(5), date!(2026 - 05 - 02));
        assert_eq!(
            wallet.costs(DAY, date!(2026 - 05 - 03)),
            [
                (DAY, Usd::ZERO),
                (date!(2026 - 05 - 02), cents(5)),
                (date!(2026 - 05 - 03), Usd::ZERO)
            ]
        );
        assert!(wallet.costs(date!(2026 - 05 - 03), DAY).is_empty());
    }
}
