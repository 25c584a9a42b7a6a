//! Taxes per line: a rate in basis points per tax class, inclusive or exclusive.
//!
//! Rounding: the tax of each line is computed in integer minor units and rounded once, half
//! away from zero (see [`super::proration::round_div`]); the invoice's tax is the sum of its
//! lines' taxes, so lines and totals always add up.

use super::proration::round_div;

/// The tax rate that applies to a tax class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// Rate in basis points (1600 = 16.00 %).
    pub bp: i64,
    /// Whether prices already include the tax.
    pub inclusive: bool,
}

impl Rate {
    /// No tax.
    pub const ZERO: Rate = Rate { bp: 0, inclusive: false };
}

/// A line amount split into net, tax and total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taxed {
    /// Amount before tax.
    pub net: i64,
    /// Tax.
    pub tax: i64,
    /// Amount the customer pays.
    pub total: i64,
}

/// Applies `rate` to `amount` (a price as entered: gross when the rate is inclusive).
pub fn apply(amount: i64, rate: &Rate) -> Taxed {
    let (a, bp) = (i128::from(amount), i128::from(rate.bp));
    if rate.inclusive {
        let tax = round_div(a * bp, 10_000 + bp);
        Taxed { net: amount - tax, tax, total: amount }
    } else {
        let tax = round_div(a * bp, 10_000);
        Taxed { net: amount, tax, total: amount + tax }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_adds_rounded_tax() {
        let r = Rate { bp: 1600, inclusive: false };
        assert_eq!(apply(2999, &r), Taxed { net: 2999, tax: 480, total: 3479 }); // 479.84
        assert_eq!(apply(1645, &r), Taxed { net: 1645, tax: 263, total: 1908 }); // 263.2
        assert_eq!(apply(-1000, &r), Taxed { net: -1000, tax: -160, total: -1160 });
        let half = Rate { bp: 500, inclusive: false };
        assert_eq!(apply(10, &half).tax, 1); // 0.5 rounds away from zero
    }

    #[test]
    fn inclusive_extracts_rounded_tax() {
        let r = Rate { bp: 2000, inclusive: true };
        assert_eq!(apply(2999, &r), Taxed { net: 2499, tax: 500, total: 2999 }); // 499.83
        assert_eq!(apply(1200, &r), Taxed { net: 1000, tax: 200, total: 1200 });
        assert_eq!(apply(0, &r), Taxed { net: 0, tax: 0, total: 0 });
        assert_eq!(apply(500, &Rate::ZERO), Taxed { net: 500, tax: 0, total: 500 });
    }
}
