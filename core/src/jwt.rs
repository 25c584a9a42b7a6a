//! Access tokens: compact JWS with HS256 (RFC 7515, RFC 7519), verified against the
//! RFC 7515 Appendix A.1 example.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What an access token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Staff user id.
    pub sub: i64,
    /// Tenant id.
    pub tid: i64,
    /// Role name at issue time.
    pub role: String,
    /// Email at issue time, so audit entries name the person without a lookup.
    #[serde(default)]
    pub email: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

/// Why a token was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, or not the expected JSON.
    #[error("malformed token")]
    Malformed,
    /// Header names another algorithm (only HS256 is accepted: no `none`, no confusion).
    #[error("unsupported algorithm")]
    Algorithm,
    /// Signature does not match.
    #[error("bad signature")]
    Signature,
    /// Past its `exp`.
    #[error("token expired")]
    Expired,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// HMAC-SHA256 of the JWS signing input (RFC 7515 §5.1 step 5, RFC 7518 §3.2).
fn sign(key: &[u8], signing_input: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(signing_input.as_bytes());
    mac.finalize().into_bytes().into()
}

fn verify_signature(key: &[u8], signing_input: &str, sig_b64: &str) -> Result<(), TokenError> {
    let sig = B64URL.decode(sig_b64).map_err(|_| TokenError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&sig).map_err(|_| TokenError::Signature)
}

/// Encodes and signs `claims`.
pub fn encode(key: &[u8], claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let input = format!("{}.{}", B64URL.encode(HEADER), B64URL.encode(payload));
    let sig = sign(key, &input);
    format!("{input}.{}", B64URL.encode(sig))
}

/// Verifies the signature and expiry (against `now_secs`) and returns the claims.
pub fn decode(key: &[u8], token: &str, now_secs: i64) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let header: serde_json::Value =
        B64URL.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(TokenError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(TokenError::Algorithm);
    }
    verify_signature(key, &token[..h.len() + 1 + p.len()], s)?;
    let claims: Claims =
        B64URL.decode(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(TokenError::Malformed)?;
    if claims.exp <= now_secs {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7515 Appendix A.1: JWS using HMAC SHA-256.
    const A1_KEY: &str = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    const A1_INPUT: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const A1_SIG: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn rfc7515_a1_vector() {
        let key = B64URL.decode(A1_KEY).unwrap();
        assert_eq!(B64URL.encode(sign(&key, A1_INPUT)), A1_SIG);
        assert_eq!(verify_signature(&key, A1_INPUT, A1_SIG), Ok(()));
        assert_eq!(verify_signature(&key, &A1_INPUT.replace('J', "K"), A1_SIG), Err(TokenError::Signature));
    }

    #[test]
    fn round_trip_expiry_and_tampering() {
        let key = b"0123456789abcdef0123456789abcdef";
        let c = Claims { sub: 1, tid: 2, role: "admin".into(), email: "a@b.c".into(), iat: 100, exp: 1000 };
        let t = encode(key, &c);
        assert_eq!(decode(key, &t, 999), Ok(c.clone()));
        assert_eq!(decode(key, &t, 1000), Err(TokenError::Expired));
        assert_eq!(decode(b"another key of thirty-two bytes!", &t, 1), Err(TokenError::Signature));
        // Escalating the role in the payload breaks the signature.
        let forged = Claims { role: "owner".into(), ..c };
        let parts: Vec<&str> = t.split('.').collect();
        let fp = B64URL.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(decode(key, &format!("{}.{}.{}", parts[0], fp, parts[2]), 1), Err(TokenError::Signature));
        // alg=none is refused before anything else.
        let none = format!("{}.{}.", B64URL.encode(r#"{"alg":"none"}"#), parts[1]);
        assert_eq!(decode(key, &none, 1), Err(TokenError::Algorithm));
        assert_eq!(decode(key, "a.b", 1), Err(TokenError::Malformed));
    }
}
