//! Access-Request decisions: who the user is, whether the credentials match, whether the
//! subscription may be online now, and what the NAS must enforce (RFC 2865 §4, §5).

use super::nas_cache::NasEntry;
use super::profile_cache::ProfileCache;
use crate::dictionary::{attr, microsoft, mikrotik};
use crate::mppe;
use crate::mschap;
use crate::{chap, Code, Packet};
use isp_core::store::auth_log::{reasons, NewAuthLog};
use isp_core::store::plans::QuotaAction;
use isp_core::store::radius_sessions::AuthProfile;
use isp_core::store::subscriptions::{SubscriptionStatus, PASSWORD_CONTEXT};
use isp_core::store::tenants::SuspendedAccess;
use isp_core::{validate, CoreResult, Ctx};
use std::net::Ipv4Addr;
use subtle::ConstantTimeEq;

/// Prefix of the Class attribute that ties accounting to a subscription (RFC 2865 §5.25).
pub const CLASS_PREFIX: &str = "isp:sub:";

/// How the user proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// User-Password (RFC 2865 §5.2).
    Pap,
    /// CHAP-Password (RFC 2865 §5.3).
    Chap,
    /// MS-CHAP2-Response (RFC 2548 §2.3.2).
    MsChapV2,
    /// No usable credentials: nothing we support, or credentials that contradict each other.
    None,
}

impl Method {
    /// Name in the auth log.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pap => "PAP",
            Method::Chap => "CHAP",
            Method::MsChapV2 => "MSCHAPV2",
            Method::None => "NONE",
        }
    }

    /// The method a request uses, or why its credentials cannot be checked at all.
    pub fn of(p: &Packet) -> Result<Method, &'static str> {
        let pap = p.attr(attr::USER_PASSWORD).is_some();
        let chap = p.attr(attr::CHAP_PASSWORD).is_some();
        // RFC 2865 §5.2 and §5.3: an Access-Request MUST NOT contain both. Checking either
        // one alone would let the NAS's (or a forger's) choice of attribute pick the check.
        if pap && chap {
            return Err(PAP_AND_CHAP);
        }
        Ok(if pap {
            Method::Pap
        } else if chap {
            Method::Chap
        } else if p.vendor_attr(microsoft::VENDOR_ID, microsoft::CHAP2_RESPONSE).is_some() {
            Method::MsChapV2
        } else {
            Method::None
        })
    }
}

/// Auth-log reason for an Access-Request with both User-Password and CHAP-Password.
pub const PAP_AND_CHAP: &str = "both User-Password and CHAP-Password in one request (RFC 2865 §5.2)";

/// The subscription id in a Class we sent, if it is one.
pub fn class_subscription(class: &[u8]) -> Option<i64> {
    std::str::from_utf8(class).ok()?.strip_prefix(CLASS_PREFIX)?.parse().ok()
}

/// A decision: the reply to send and the log entry that explains it.
pub struct Decision {
    /// Access-Accept or Access-Reject, not yet signed.
    pub reply: Packet,
    /// What goes into the auth log.
    pub log: NewAuthLog,
}

struct Reject {
    reason: String,
    /// Shown to the user (Reply-Message) when it leaks nothing about other accounts.
    tell_user: bool,
    /// MS-CHAP error code for MS-CHAPv2 clients (RFC 2759 §6).
    mschap_error: u32,
}

fn reject(reason: impl Into<String>, tell_user: bool, mschap_error: u32) -> Reject {
    Reject { reason: reason.into(), tell_user, mschap_error }
}

/// Decides an authenticated (signature-checked) Access-Request from `nas`, with subscriber
/// profiles from `profiles`.
pub async fn decide(
    ctx: &Ctx,
    profiles: &ProfileCache,
    nas: &NasEntry,
    req: &Packet,
    interim_secs: u32,
) -> CoreResult<Decision> {
    let (method, malformed) = match Method::of(req) {
        Ok(m) => (m, None),
        Err(why) => (Method::None, Some(why)),
    };
    let username = req.attr_str(attr::USER_NAME).unwrap_or("").to_string();
    let calling = req.attr_str(attr::CALLING_STATION_ID).map(str::to_string);
    let mut log = NewAuthLog {
        tenant_id: nas.nas.tenant_id,
        nas_id: nas.nas.id,
        username: username.clone(),
        subscription_id: None,
        method: method.as_str(),
        result: "REJECT",
        reason: String::new(),
        calling_station_id: calling.clone(),
        at: ctx.now_ms(),
    };
    let profile = if username.is_empty() { None } else { profiles.get(ctx, nas.nas.tenant_id, &username).await? };
    log.subscription_id = profile.as_ref().map(|p| p.s_id);
    let outcome = match (&profile, malformed) {
        // Refused whoever the user is, before any password is looked at.
        (_, Some(why)) => Err(reject(why, false, mschap::ERROR_AUTHENTICATION_FAILURE)),
        (None, None) if username.is_empty() => Err(reject("no User-Name", false, mschap::ERROR_AUTHENTICATION_FAILURE)),
        (None, None) => Err(reject("unknown user", false, mschap::ERROR_AUTHENTICATION_FAILURE)),
        (Some(p), None) => check(ctx, nas, req, p, method, calling.as_deref(), interim_secs),
    };
    let reply = match outcome {
        Ok((reply, note)) => {
            log.result = "ACCEPT";
            log.reason = note;
            reply
        }
        Err(r) => {
            let mut reply = Packet::response_to(req, Code::AccessReject);
            if r.tell_user {
                reply.add_str(attr::REPLY_MESSAGE, &r.reason);
            }
            if method == Method::MsChapV2 {
                let ident = req
                    .vendor_attr(microsoft::VENDOR_ID, microsoft::CHAP2_RESPONSE)
                    .and_then(|v| v.first().copied())
                    .unwrap_or(0);
                let challenge = crate::auth::random_authenticator();
                let value = mschap::error_value(ident, r.mschap_error, false, &challenge, None);
                reply.add_vendor(microsoft::VENDOR_ID, microsoft::CHAP_ERROR, &value);
            }
            log.reason = r.reason;
            reply
        }
    };
    Ok(Decision { reply, log })
}

fn check(
    ctx: &Ctx,
    nas: &NasEntry,
    req: &Packet,
    p: &AuthProfile,
    method: Method,
    calling: Option<&str>,
    interim_secs: u32,
) -> Result<(Packet, String), Reject> {
    const AUTH_FAIL: u32 = mschap::ERROR_AUTHENTICATION_FAILURE;
    let Some(enc) = &p.s_password_enc else {
        return Err(reject(reasons::NO_PASSWORD, false, AUTH_FAIL));
    };
    let password = ctx.secrets.cipher.decrypt(PASSWORD_CONTEXT, enc).map_err(|e| {
        tracing::error!(error = %e, subscription = p.s_id, "cannot decrypt a subscriber password");
        reject(reasons::UNDECRYPTABLE, false, AUTH_FAIL)
    })?;
    let mut mschap_ok = None;
    let ok = match method {
        Method::Pap => {
            req.user_password(&nas.secret).is_ok_and(|given| bool::from(given.as_slice().ct_eq(password.as_bytes())))
        }
        Method::Chap => chap::verify(req, password.as_bytes()).is_ok(),
        Method::MsChapV2 => {
            let hash = mschap::nt_password_hash(&password);
            mschap_ok = mschap::verify(req, &hash).ok().map(|v| (v, hash));
            mschap_ok.is_some()
        }
        Method::None => return Err(reject(reasons::NO_METHOD, false, AUTH_FAIL)),
    };
    if !ok {
        return Err(reject(reasons::BAD_PASSWORD, false, AUTH_FAIL));
    }
    match p.s_status {
        SubscriptionStatus::Active | SubscriptionStatus::Suspended => {}
        SubscriptionStatus::Pending => {
            return Err(reject("subscription pending", true, mschap::ERROR_ACCT_DISABLED));
        }
        SubscriptionStatus::Cancelled => {
            return Err(reject("subscription cancelled", true, mschap::ERROR_ACCT_DISABLED));
        }
    }
    if let Some(bound) = &p.s_mac_address {
        let got = calling.and_then(|c| validate::normalize_mac(c).ok());
        if got.as_deref() != Some(bound.as_str()) {
            let got = calling.unwrap_or("none");
            // The log names both MACs; the subscriber is not told which MAC is bound.
            return Err(reject(
                format!("{} (bound {bound}, got {got})", reasons::MAC_MISMATCH),
                false,
                mschap::ERROR_NO_DIALIN_PERMISSION,
            ));
        }
    }
    if p.open_sessions >= p.s_simultaneous_use {
        return Err(reject(
            format!("simultaneous-use limit reached ({} of {})", p.open_sessions, p.s_simultaneous_use),
            true,
            mschap::ERROR_NO_DIALIN_PERMISSION,
        ));
    }
    let mut reply = Packet::response_to(req, Code::AccessAccept);
    let mt = mikrotik::VENDOR_ID;
    let mut note = String::from("ok");
    if p.s_status == SubscriptionStatus::Suspended {
        if nas.settings.suspended_access == SuspendedAccess::Reject {
            return Err(reject("subscription suspended", true, mschap::ERROR_ACCT_DISABLED));
        }
        reply.add_vendor_str(mt, mikrotik::RATE_LIMIT, &nas.settings.walled_garden_rate_limit);
        reply.add_vendor_str(mt, mikrotik::ADDRESS_LIST, &nas.settings.walled_garden_address_list);
        note = "subscription suspended: walled garden".into();
    } else {
        let today = isp_core::billing::local_date(ctx.clock.now(), &nas.timezone);
        let (start, end) = p.period(today).map_err(|_| reject("bad start date", false, AUTH_FAIL))?;
        let (octets, seconds) = p.used_in(start);
        let plan = &p.plan;
        let mut rate = plan.mikrotik_rate_limit();
        if let Some(limit) = plan.time_quota_secs {
            if seconds >= limit {
                return Err(reject("time quota exhausted", true, mschap::ERROR_RESTRICTED_LOGON_HOURS));
            }
        }
        if let Some(quota) = plan.data_quota_bytes {
            if octets >= quota {
                match (plan.quota_action, plan.mikrotik_fup_rate_limit()) {
                    (Some(QuotaAction::Fup), Some(fup)) => {
                        rate = fup;
                        note = "data quota used: FUP rate".into();
                    }
                    _ => return Err(reject("data quota exhausted", true, mschap::ERROR_RESTRICTED_LOGON_HOURS)),
                }
            } else if plan.quota_action != Some(QuotaAction::Fup) {
                let left = (quota - octets) as u64;
                reply.add_vendor_u64_split(mt, mikrotik::TOTAL_LIMIT, mikrotik::TOTAL_LIMIT_GIGAWORDS, left);
            }
        }
        reply.add_vendor_str(mt, mikrotik::RATE_LIMIT, &rate);
        if let Some(ip) = p.s_static_ipv4.as_deref().and_then(|s| s.parse::<Ipv4Addr>().ok()) {
            reply.add_ipv4(attr::FRAMED_IP_ADDRESS, ip);
        }
        if let Some(pool) = &plan.ip_pool {
            reply.add_str(attr::FRAMED_POOL, pool);
        }
        // Session-Timeout: the rest of the period, or of the time quota if that is less.
        let now_secs = ctx.now_ms() / 1000;
        let period_end = end.and_hms_opt(0, 0, 0).map_or(now_secs, |t| t.and_utc().timestamp());
        let mut timeout = (period_end - now_secs).max(1);
        if let Some(limit) = plan.time_quota_secs {
            timeout = timeout.min(limit - seconds);
        }
        reply.add_u32(attr::SESSION_TIMEOUT, timeout.clamp(1, i64::from(u32::MAX)) as u32);
    }
    reply.add_u32(attr::ACCT_INTERIM_INTERVAL, interim_secs);
    reply.add_str(attr::CLASS, &format!("{CLASS_PREFIX}{}", p.s_id));
    if let Some((verified, hash)) = mschap_ok {
        reply.add_mschapv2_success(&verified);
        let keys = mppe::server_keys(&hash, &verified.nt_response);
        reply.add_mppe_keys(&keys, &nas.secret, &req.authenticator);
        reply.add_mppe_encryption(mppe::POLICY_ENCRYPTION_ALLOWED, mppe::TYPES_128_BIT);
    }
    Ok((reply, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::{hex, RFC2865_ACCESS_REQUEST, RFC2865_CHAP_REQUEST};

    #[test]
    fn user_password_and_chap_password_together_are_refused() {
        // RFC 2865 §7.1 (PAP) and §7.2 (CHAP) as sent, then each with the other's attribute.
        let pap = Packet::decode(&hex(RFC2865_ACCESS_REQUEST)).unwrap();
        let chap = Packet::decode(&hex(RFC2865_CHAP_REQUEST)).unwrap();
        assert_eq!(Method::of(&pap), Ok(Method::Pap));
        assert_eq!(Method::of(&chap), Ok(Method::Chap));
        let chap_password = chap.attr(attr::CHAP_PASSWORD).unwrap().to_vec();
        let user_password = pap.attr(attr::USER_PASSWORD).unwrap().to_vec();
        let mut both = pap.clone();
        both.add(attr::CHAP_PASSWORD, chap_password);
        assert_eq!(Method::of(&both), Err(PAP_AND_CHAP));
        let mut both = chap.clone();
        both.add(attr::USER_PASSWORD, user_password);
        assert_eq!(Method::of(&both), Err(PAP_AND_CHAP));
        // Neither is no method, which is refused later as such, not as malformed.
        let mut neither = pap.clone();
        neither.remove(attr::USER_PASSWORD);
        assert_eq!(Method::of(&neither), Ok(Method::None));
    }

    #[test]
    fn class_round_trip() {
        assert_eq!(class_subscription(b"isp:sub:42"), Some(42));
        assert_eq!(class_subscription(b"isp:sub:x"), None);
        assert_eq!(class_subscription(b"other"), None);
    }
}
