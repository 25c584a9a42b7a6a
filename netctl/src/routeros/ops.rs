//! Idempotent, verified RouterOS operations for suspensions and reactivations: put an address
//! on a firewall address list or take it off, disable or enable a PPP secret or hotspot user,
//! disconnect their sessions.
//!
//! Every change reads the router first and sends nothing when it is already in the wanted
//! state ([`Change::AlreadyInState`]), so an operation can be retried after a lost connection
//! or run again by a reconciler; after a change it reads the router back and fails with
//! [`OpError::Unverified`] when the router disagrees. Reads filter on the router (`?name=`,
//! `?list=`, `?address=`) and ask only for the properties used (`=.proplist=`), so a router
//! with 100k secrets is not dumped for one change.

use super::client::{ClientError, ErrorKind, RouterApi};
use super::sentence::{Attributes, Command};
use std::time::Duration;
use thiserror::Error;

const ADDRESS_LIST: &str = "/ip/firewall/address-list";
const PPP_SECRET: &str = "/ppp/secret";
const PPP_ACTIVE: &str = "/ppp/active";
const HOTSPOT_USER: &str = "/ip/hotspot/user";
const HOTSPOT_ACTIVE: &str = "/ip/hotspot/active";

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The router was changed, and reading it back confirms the change.
    Applied,
    /// The router was already in the wanted state; nothing was sent.
    AlreadyInState,
}

/// Why an operation failed; [`OpError::kind`] says whether a retry can help.
#[derive(Debug, Error)]
pub enum OpError {
    /// Talking to the router failed, or it refused a command.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The item to change does not exist on the router.
    #[error("{what} {name:?} does not exist on the router")]
    NotFound {
        /// What was looked for, e.g. `PPP secret`.
        what: &'static str,
        /// Its name (or address).
        name: String,
    },
    /// The router accepted the change, but reading it back shows otherwise.
    #[error("after the change the router shows {what} {name:?} {found}, not {expected}")]
    Unverified {
        /// What was changed, e.g. `address-list entry`.
        what: &'static str,
        /// Its name (or address).
        name: String,
        /// The state asked for.
        expected: String,
        /// The state read back.
        found: String,
    },
    /// The router sent a row this code cannot use (e.g. without `.id`).
    #[error("unexpected reply from the router: {0}")]
    BadReply(String),
    /// Every connection to the device stayed busy for this long (see [`super::pool`]).
    #[error("no connection to the device became free within {0:?}")]
    PoolBusy(Duration),
}

impl OpError {
    /// What this failure means for a retry.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpError::Client(e) if is_no_such_item(e) => ErrorKind::NotFound,
            OpError::Client(e) => e.kind(),
            OpError::NotFound { .. } => ErrorKind::NotFound,
            OpError::Unverified { .. } => ErrorKind::Unverified,
            OpError::BadReply(_) => ErrorKind::Rejected,
            OpError::PoolBusy(_) => ErrorKind::Unreachable,
        }
    }

    /// Whether the connection used is gone (see [`ClientError::is_connection_lost`]).
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, OpError::Client(e) if e.is_connection_lost())
    }
}

/// One entry of a firewall address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressListEntry {
    /// `.id`, e.g. `*1A`.
    pub id: String,
    /// The address as the router prints it (a single host without `/32`).
    pub address: String,
    /// `comment`, e.g. the subscription the entry is for.
    pub comment: String,
    /// Whether the entry is disabled (and so blocks nothing).
    pub disabled: bool,
}

/// A PPP secret (PPPoE/L2TP/... account); the password is never read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PppSecret {
    /// `.id`.
    pub id: String,
    /// User name.
    pub name: String,
    /// `service` (`any`, `pppoe`, ...).
    pub service: String,
    /// PPP profile.
    pub profile: String,
    /// Whether the secret is disabled (logins refused).
    pub disabled: bool,
    /// `comment`.
    pub comment: String,
}

/// A hotspot user; the password is never read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotspotUser {
    /// `.id`.
    pub id: String,
    /// User name.
    pub name: String,
    /// Hotspot server the user belongs to (`all` for every server).
    pub server: String,
    /// User profile.
    pub profile: String,
    /// Whether the user is disabled (logins refused).
    pub disabled: bool,
    /// `comment`.
    pub comment: String,
}

/// A connected PPP session (`/ppp/active`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    /// `.id`, used to disconnect it.
    pub id: String,
    /// User name.
    pub name: String,
    /// Address given to the client.
    pub address: String,
    /// `caller-id`: the client's MAC address for PPPoE.
    pub caller_id: String,
    /// Connected time as RouterOS prints it, e.g. `1h2m3s`.
    pub uptime: String,
    /// `pppoe`, `l2tp`, ...
    pub service: String,
}

/// A logged-in hotspot session (`/ip/hotspot/active`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotspotSession {
    /// `.id`, used to log it out.
    pub id: String,
    /// User name.
    pub user: String,
    /// Client IP address.
    pub address: String,
    /// Client MAC address.
    pub mac_address: String,
    /// Logged-in time as RouterOS prints it.
    pub uptime: String,
    /// Hotspot server.
    pub server: String,
}

/// The entries of address list `list`.
pub async fn address_list_entries(api: &impl RouterApi, list: &str) -> Result<Vec<AddressListEntry>, OpError> {
    let rows = print(api, ADDRESS_LIST, &[("list", list)], ".id,address,comment,disabled").await?;
    rows.iter().map(address_entry).collect()
}

/// Puts `address` on address list `list` with `comment` (`present`), or removes every entry
/// of that list for that address (`!present`). Adding when an enabled entry exists sends
/// nothing (never a duplicate); a disabled entry is enabled instead of adding a second one.
pub async fn address_list_set(
    api: &impl RouterApi,
    list: &str,
    address: &str,
    comment: &str,
    present: bool,
) -> Result<Change, OpError> {
    // RouterOS prints a single host without `/32`, so that is what a query must match.
    let address = address.strip_suffix("/32").unwrap_or(address);
    let entries = address_entries(api, list, address).await?;
    let mut change = Change::Applied;
    if present {
        if entries.iter().any(|e| !e.disabled) {
            return Ok(Change::AlreadyInState);
        }
        let enabled = match entries.first() {
            Some(e) => tolerate_gone(api.run(Command::new(format!("{ADDRESS_LIST}/enable")).attr(".id", &e.id)).await)?,
            None => false,
        };
        if !enabled {
            let add = Command::new(format!("{ADDRESS_LIST}/add"))
                .attr("list", list)
                .attr("address", address)
                .attr("comment", comment);
            match api.run(add).await {
                Ok(_) => {}
                // Added by someone else since the read: the readback decides.
                Err(ClientError::Trap { message, .. }) if message.contains("already have such entry") => {
                    change = Change::AlreadyInState
                }
                Err(e) => return Err(e.into()),
            }
        }
    } else {
        if entries.is_empty() {
            return Ok(Change::AlreadyInState);
        }
        for e in &entries {
            tolerate_gone(api.run(Command::new(format!("{ADDRESS_LIST}/remove")).attr(".id", &e.id)).await)?;
        }
    }
    let after = address_entries(api, list, address).await?;
    let (ok, found) = if present {
        (after.iter().any(|e| !e.disabled), if after.is_empty() { "absent" } else { "disabled" })
    } else {
        (after.is_empty(), "present")
    };
    if !ok {
        return Err(OpError::Unverified {
            what: "address-list entry",
            name: format!("{list}/{address}"),
            expected: if present { "present" } else { "absent" }.into(),
            found: found.into(),
        });
    }
    Ok(change)
}

/// Every PPP secret (without passwords).
pub async fn ppp_secrets(api: &impl RouterApi) -> Result<Vec<PppSecret>, OpError> {
    print(api, PPP_SECRET, &[], ".id,name,service,profile,disabled,comment").await?.iter().map(ppp_secret_row).collect()
}

/// The PPP secret called `name`, if there is one.
pub async fn ppp_secret(api: &impl RouterApi, name: &str) -> Result<Option<PppSecret>, OpError> {
    let rows = print(api, PPP_SECRET, &[("name", name)], ".id,name,service,profile,disabled,comment").await?;
    rows.first().map(ppp_secret_row).transpose()
}

/// Disables (suspends) or enables the PPP secret `name`; [`OpError::NotFound`] if there is
/// none. Existing sessions stay up: disconnect them with [`ppp_active_remove`].
pub async fn ppp_secret_set_disabled(api: &impl RouterApi, name: &str, disabled: bool) -> Result<Change, OpError> {
    set_disabled(api, PPP_SECRET, "PPP secret", name, disabled).await
}

/// Every connected PPP session.
pub async fn ppp_active(api: &impl RouterApi) -> Result<Vec<ActiveSession>, OpError> {
    let rows = print(api, PPP_ACTIVE, &[], ".id,name,address,caller-id,uptime,service").await?;
    rows.iter()
        .map(|r| {
            Ok(ActiveSession {
                id: id(r)?,
                name: text(r, "name"),
                address: text(r, "address"),
                caller_id: text(r, "caller-id"),
                uptime: text(r, "uptime"),
                service: text(r, "service"),
            })
        })
        .collect()
}

/// Disconnects every PPP session of user `name`; returns how many were disconnected (0 when
/// none was connected).
pub async fn ppp_active_remove(api: &impl RouterApi, name: &str) -> Result<usize, OpError> {
    remove_sessions(api, PPP_ACTIVE, "PPP session", "name", name).await
}

/// Every hotspot user (without passwords).
pub async fn hotspot_users(api: &impl RouterApi) -> Result<Vec<HotspotUser>, OpError> {
    let rows = print(api, HOTSPOT_USER, &[], ".id,name,server,profile,disabled,comment").await?;
    rows.iter()
        .map(|r| {
            Ok(HotspotUser {
                id: id(r)?,
                name: text(r, "name"),
                server: text(r, "server"),
                profile: text(r, "profile"),
                disabled: flag(r, "disabled"),
                comment: text(r, "comment"),
            })
        })
        .collect()
}

/// Disables or enables the hotspot user `name` (on every server it exists for);
/// [`OpError::NotFound`] if there is none.
pub async fn hotspot_user_set_disabled(api: &impl RouterApi, name: &str, disabled: bool) -> Result<Change, OpError> {
    set_disabled(api, HOTSPOT_USER, "hotspot user", name, disabled).await
}

/// Every logged-in hotspot session.
pub async fn hotspot_active(api: &impl RouterApi) -> Result<Vec<HotspotSession>, OpError> {
    let rows = print(api, HOTSPOT_ACTIVE, &[], ".id,user,address,mac-address,uptime,server").await?;
    rows.iter()
        .map(|r| {
            Ok(HotspotSession {
                id: id(r)?,
                user: text(r, "user"),
                address: text(r, "address"),
                mac_address: text(r, "mac-address"),
                uptime: text(r, "uptime"),
                server: text(r, "server"),
            })
        })
        .collect()
}

/// Logs out every hotspot session of `user`; returns how many were logged out.
pub async fn hotspot_active_remove(api: &impl RouterApi, user: &str) -> Result<usize, OpError> {
    remove_sessions(api, HOTSPOT_ACTIVE, "hotspot session", "user", user).await
}

async fn print(
    api: &impl RouterApi,
    menu: &str,
    filters: &[(&str, &str)],
    proplist: &str,
) -> Result<Vec<Attributes>, OpError> {
    let mut cmd = Command::new(format!("{menu}/print")).attr(".proplist", proplist);
    for (k, v) in filters {
        cmd = cmd.query(format!("{k}={v}"));
    }
    Ok(api.run(cmd).await?.rows)
}

async fn address_entries(api: &impl RouterApi, list: &str, address: &str) -> Result<Vec<AddressListEntry>, OpError> {
    let rows =
        print(api, ADDRESS_LIST, &[("list", list), ("address", address)], ".id,address,comment,disabled").await?;
    rows.iter().map(address_entry).collect()
}

async fn set_disabled(
    api: &impl RouterApi,
    menu: &str,
    what: &'static str,
    name: &str,
    disabled: bool,
) -> Result<Change, OpError> {
    let not_found = || OpError::NotFound { what, name: name.to_owned() };
    let rows = print(api, menu, &[("name", name)], ".id,disabled").await?;
    if rows.is_empty() {
        return Err(not_found());
    }
    let pending: Vec<String> =
        rows.iter().filter(|r| flag(r, "disabled") != disabled).map(id).collect::<Result<_, _>>()?;
    if pending.is_empty() {
        return Ok(Change::AlreadyInState);
    }
    let value = if disabled { "yes" } else { "no" };
    for item in &pending {
        tolerate_gone(api.run(Command::new(format!("{menu}/set")).attr(".id", item).attr("disabled", value)).await)?;
    }
    let after = print(api, menu, &[("name", name)], ".id,disabled").await?;
    if after.is_empty() {
        return Err(not_found());
    }
    if after.iter().any(|r| flag(r, "disabled") != disabled) {
        let state = |d: bool| if d { "disabled" } else { "enabled" }.to_owned();
        return Err(OpError::Unverified {
            what,
            name: name.to_owned(),
            expected: state(disabled),
            found: state(!disabled),
        });
    }
    Ok(Change::Applied)
}

async fn remove_sessions(
    api: &impl RouterApi,
    menu: &str,
    what: &'static str,
    key: &str,
    value: &str,
) -> Result<usize, OpError> {
    let ids: Vec<String> = print(api, menu, &[(key, value)], ".id").await?.iter().map(id).collect::<Result<_, _>>()?;
    let mut removed = Vec::new();
    for item in ids {
        // A session that ended meanwhile is not counted.
        if tolerate_gone(api.run(Command::new(format!("{menu}/remove")).attr(".id", &item)).await)? {
            removed.push(item);
        }
    }
    if removed.is_empty() {
        return Ok(0);
    }
    // A client may dial in again at once with a new `.id`; only the removed ones must be gone.
    let after = print(api, menu, &[(key, value)], ".id").await?;
    if after.iter().any(|r| r.get(".id").is_some_and(|i| removed.contains(i))) {
        return Err(OpError::Unverified {
            what,
            name: value.to_owned(),
            expected: "gone".into(),
            found: "connected".into(),
        });
    }
    Ok(removed.len())
}

/// `Ok(true)` if the command ran, `Ok(false)` if its item was gone ("no such item").
fn tolerate_gone<T>(result: Result<T, ClientError>) -> Result<bool, OpError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_no_such_item(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn is_no_such_item(e: &ClientError) -> bool {
    matches!(e, ClientError::Trap { message, .. } if message.starts_with("no such item"))
}

fn id(row: &Attributes) -> Result<String, OpError> {
    row.get(".id").cloned().ok_or_else(|| OpError::BadReply(format!("row without .id: {row:?}")))
}

fn text(row: &Attributes, key: &str) -> String {
    row.get(key).cloned().unwrap_or_default()
}

fn flag(row: &Attributes, key: &str) -> bool {
    matches!(row.get(key).map(String::as_str), Some("true" | "yes"))
}

fn address_entry(r: &Attributes) -> Result<AddressListEntry, OpError> {
    Ok(AddressListEntry {
        id: id(r)?,
        address: text(r, "address"),
        comment: text(r, "comment"),
        disabled: flag(r, "disabled"),
    })
}

fn ppp_secret_row(r: &Attributes) -> Result<PppSecret, OpError> {
    Ok(PppSecret {
        id: id(r)?,
        name: text(r, "name"),
        service: text(r, "service"),
        profile: text(r, "profile"),
        disabled: flag(r, "disabled"),
        comment: text(r, "comment"),
    })
}
