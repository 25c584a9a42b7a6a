//! Input checks shared by the API, the CLI and the seed. Each returns the message a client
//! sees next to the field name.

use chrono::NaiveDate;
use std::net::Ipv4Addr;

/// Result of a field check: Ok or the reason.
pub type Check = Result<(), String>;

/// Trimmed, non-empty, at most `max` characters.
pub fn text(value: &str, max: usize) -> Check {
    let v = value.trim();
    if v.is_empty() {
        return Err("must not be empty".into());
    }
    if v.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// A plausible email address (one `@`, a dot in the domain, no spaces).
pub fn email(value: &str) -> Check {
    let v = value.trim();
    let ok = v.len() <= 254
        && !v.contains(char::is_whitespace)
        && matches!(v.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.') && !d.contains('@'));
    if ok {
        Ok(())
    } else {
        Err("is not a valid email address".into())
    }
}

/// A phone number: digits with optional leading `+` and separators, 5-20 digits.
pub fn phone(value: &str) -> Check {
    let v = value.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.') || (c == '+' && i == 0));
    if allowed && (5..=20).contains(&digits) {
        Ok(())
    } else {
        Err("is not a valid phone number".into())
    }
}

/// A tenant slug: 3-40 of `a-z`, `0-9`, `-`, not starting or ending with `-`.
pub fn slug(value: &str) -> Check {
    let ok = (3..=40).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err("must be 3-40 characters of a-z, 0-9 and '-'".into())
    }
}

/// An ISO 4217 alphabetic currency code.
pub fn currency(value: &str) -> Check {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err("must be an ISO 4217 code such as USD".into())
    }
}

/// Digits after the decimal point of a currency's minor unit (ISO 4217 exponent).
pub fn currency_exponent(code: &str) -> u32 {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// An IANA time zone name such as `Europe/Berlin` or `UTC`, known to the tz database (billing
/// dates are the tenant's local dates, so an unknown zone is refused rather than read as UTC).
pub fn timezone(value: &str) -> Check {
    if value.len() <= 64 && value.parse::<chrono_tz::Tz>().is_ok() {
        Ok(())
    } else {
        Err("must be an IANA time zone such as Europe/Berlin or UTC".into())
    }
}

/// A dotted-quad IPv4 address.
pub fn ipv4(value: &str) -> Check {
    value.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| "is not an IPv4 address".into())
}

/// A MAC address, normalised to upper-case `AA:BB:CC:DD:EE:FF` (accepts `-`, `:` or none).
pub fn normalize_mac(value: &str) -> Result<String, String> {
    let hex: String = value.chars().filter(|c| !matches!(c, ':' | '-' | '.')).collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("is not a MAC address".into());
    }
    let up = hex.to_ascii_uppercase();
    Ok((0..6).map(|i| &up[i * 2..i * 2 + 2]).collect::<Vec<_>>().join(":"))
}

/// A calendar date `YYYY-MM-DD`.
pub fn date(value: &str) -> Check {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map(|_| ()).map_err(|_| "must be a date YYYY-MM-DD".into())
}

/// A PPPoE / hotspot login: 1-64 printable ASCII characters without spaces.
pub fn login(value: &str) -> Check {
    let ok = (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err("must be 1-64 printable characters without spaces".into())
    }
}

/// The largest magnitude any one money field accepts, in minor units: 10^12, that is
/// 10,000,000,000.00 of a two-decimal currency or 1,000,000,000,000 JPY. No bill of an ISP comes
/// near it, and it keeps every sum the system makes far from `i64::MAX` (about 9.2 x 10^18):
/// balances, statements and reports stay exact over millions of maximal amounts.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// Which sign a money field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// Greater than zero (payments, refunds, charges).
    Positive,
    /// Zero or more (prices).
    NonNegative,
    /// Less than zero (credits).
    Negative,
}

/// An amount in minor units of the given sign whose magnitude is at most [`MAX_AMOUNT_MINOR`].
pub fn amount(value: i64, sign: Sign) -> Check {
    let ok_sign = match sign {
        Sign::Positive => value > 0,
        Sign::NonNegative => value >= 0,
        Sign::Negative => value < 0,
    };
    if !ok_sign {
        return Err(match sign {
            Sign::Positive => "must be positive",
            Sign::NonNegative => "must not be negative",
            Sign::Negative => "must be negative",
        }
        .into());
    }
    if value.unsigned_abs() > MAX_AMOUNT_MINOR.unsigned_abs() {
        return Err(match sign {
            Sign::Negative => format!("must be at least -{MAX_AMOUNT_MINOR} (minor units)"),
            _ => format!("must be at most {MAX_AMOUNT_MINOR} (minor units)"),
        });
    }
    Ok(())
}

/// A PPPoE / hotspot password: 1-128 bytes (the RADIUS User-Password limit), no control chars.
pub fn access_password(value: &str) -> Check {
    if value.is_empty() || value.len() > 128 || value.chars().any(|c| c.is_control()) {
        Err("must be 1-128 bytes without control characters".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_accept_and_reject() {
        assert!(email("a@b.co").is_ok() && email("a@b").is_err() && email("a b@c.de").is_err());
        assert!(phone("+1 (555) 010-2030").is_ok() && phone("12ab").is_err() && phone("1+2345678").is_err());
        assert!(slug("demo-isp").is_ok() && slug("Demo").is_err() && slug("-ab").is_err());
        assert!(currency("EUR").is_ok() && currency("eur").is_err());
        assert_eq!(currency_exponent("JPY"), 0);
        assert_eq!(currency_exponent("KWD"), 3);
        assert!(timezone("America/Argentina/Buenos_Aires").is_ok() && timezone("Mars").is_err());
        assert!(timezone("Pacific/Auckland").is_ok() && timezone("Europe/Atlantis").is_err());
        assert!(ipv4("10.0.0.1").is_ok() && ipv4("10.0.0.256").is_err());
        assert_eq!(normalize_mac("aa-bb-cc-dd-ee-0f").unwrap(), "AA:BB:CC:DD:EE:0F");
        assert!(normalize_mac("aa:bb").is_err());
        assert!(date("2024-02-29").is_ok() && date("2023-02-29").is_err());
        assert!(login("user@realm").is_ok() && login("a b").is_err());
        assert!(text("  ", 10).is_err() && text("abc", 2).is_err());
    }

    #[test]
    fn amounts_are_bounded_and_signed() {
        assert!(amount(1, Sign::Positive).is_ok() && amount(MAX_AMOUNT_MINOR, Sign::Positive).is_ok());
        assert!(amount(0, Sign::Positive).is_err() && amount(-5, Sign::Positive).is_err());
        assert!(amount(MAX_AMOUNT_MINOR + 1, Sign::Positive).is_err());
        assert!(amount(i64::MAX, Sign::Positive).is_err() && amount(i64::MAX, Sign::NonNegative).is_err());
        assert!(amount(0, Sign::NonNegative).is_ok() && amount(-1, Sign::NonNegative).is_err());
        assert!(amount(-MAX_AMOUNT_MINOR, Sign::Negative).is_ok() && amount(0, Sign::Negative).is_err());
        assert!(amount(-MAX_AMOUNT_MINOR - 1, Sign::Negative).is_err() && amount(i64::MIN, Sign::Negative).is_err());
        assert_eq!(amount(i64::MAX, Sign::Positive).unwrap_err(), "must be at most 1000000000000 (minor units)");
    }
}
