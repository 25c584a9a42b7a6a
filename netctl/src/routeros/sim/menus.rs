//! The simulator's router configuration: the menus it knows, and what `print`, `add`, `set`,
//! `enable`, `disable` and `remove` do to them, with RouterOS's own `!trap` messages.

use crate::routeros::sentence::{Attributes, Command, ReplyBody, Trap};

/// In-memory router state, shared by every connection to one simulator.
#[derive(Debug, Default)]
pub struct SimState {
    /// `/ppp/secret` rows, each with `.id`.
    pub ppp_secrets: Vec<Attributes>,
    /// `/ppp/active` rows (connected PPP sessions), each with `.id`.
    pub ppp_active: Vec<Attributes>,
    /// `/ip/hotspot/user` rows, each with `.id`.
    pub hotspot_users: Vec<Attributes>,
    /// `/ip/hotspot/active` rows (logged-in hotspot users), each with `.id`.
    pub hotspot_active: Vec<Attributes>,
    /// `/ip/firewall/address-list` rows, each with `.id`.
    pub address_list: Vec<Attributes>,
    /// Mutating commands received (`add`, `set`, `enable`, `disable`, `remove`), refused or not.
    pub mutations: u64,
    /// Commands received after login, `/cancel` included, in order.
    pub log: Vec<Command>,
    /// While set, mutating commands succeed but change nothing, as if a script on the router
    /// reverted every change at once.
    pub frozen: bool,
    next_id: u64,
}

/// The menus the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Menu {
    PppSecret,
    PppActive,
    HotspotUser,
    HotspotActive,
    AddressList,
}

/// Replies before the `!done`, and the `=ret=` of the `!done`.
pub(crate) type Answer = (Vec<ReplyBody>, Option<String>);

impl Menu {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/ppp/secret" => Menu::PppSecret,
            "/ppp/active" => Menu::PppActive,
            "/ip/hotspot/user" => Menu::HotspotUser,
            "/ip/hotspot/active" => Menu::HotspotActive,
            "/ip/firewall/address-list" => Menu::AddressList,
            _ => return None,
        })
    }

    /// Every property of a row, with the value a new row starts with.
    pub(crate) fn defaults(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Menu::PppSecret => &[
                ("name", ""),
                ("password", ""),
                ("service", "any"),
                ("profile", "default"),
                ("local-address", ""),
                ("remote-address", ""),
                ("caller-id", ""),
                ("disabled", "false"),
                ("comment", ""),
            ],
            Menu::PppActive => &[
                ("name", ""),
                ("service", "pppoe"),
                ("caller-id", ""),
                ("address", ""),
                ("uptime", "0s"),
                ("encoding", ""),
                ("session-id", "0x81000001"),
                ("radius", "false"),
            ],
            Menu::HotspotUser => &[
                ("server", "all"),
                ("name", ""),
                ("password", ""),
                ("profile", "default"),
                ("address", ""),
                ("mac-address", ""),
                ("limit-uptime", ""),
                ("disabled", "false"),
                ("comment", ""),
            ],
            Menu::HotspotActive => &[
                ("server", "hotspot1"),
                ("user", ""),
                ("address", ""),
                ("mac-address", ""),
                ("login-by", "http-chap"),
                ("uptime", "0s"),
                ("idle-time", "0s"),
                ("radius", "false"),
            ],
            Menu::AddressList => &[
                ("list", ""),
                ("address", ""),
                ("timeout", ""),
                ("creation-time", "nov/26/2026 00:00:00"),
                ("dynamic", "false"),
                ("disabled", "false"),
                ("comment", ""),
            ],
        }
    }

    /// Properties the router computes; `add`/`set` refuse them.
    fn read_only(self) -> &'static [&'static str] {
        match self {
            Menu::AddressList => &["creation-time", "dynamic"],
            _ => &[],
        }
    }

    /// Active-session menus only list and disconnect.
    fn allows(self, verb: &str) -> bool {
        match self {
            Menu::PppActive | Menu::HotspotActive => matches!(verb, "print" | "remove"),
            _ => matches!(verb, "print" | "add" | "set" | "enable" | "disable" | "remove"),
        }
    }
}

/// Whether `verb` changes the router.
pub(crate) fn is_mutation(path: &str) -> bool {
    matches!(path.rsplit('/').next(), Some("add" | "set" | "enable" | "disable" | "remove"))
}

impl SimState {
    fn rows(&mut self, menu: Menu) -> &mut Vec<Attributes> {
        match menu {
            Menu::PppSecret => &mut self.ppp_secrets,
            Menu::PppActive => &mut self.ppp_active,
            Menu::HotspotUser => &mut self.hotspot_users,
            Menu::HotspotActive => &mut self.hotspot_active,
            Menu::AddressList => &mut self.address_list,
        }
    }

    /// Runs one command (other than `/login` and `/cancel`).
    pub(crate) fn handle(&mut self, cmd: &Command) -> Result<Answer, ReplyBody> {
        // Read-only system menus, as `netctl devices test` reads them.
        let system: Option<&[(&str, &str)]> = match cmd.path.as_str() {
            "/system/identity/print" => Some(&[("name", "sim-router")]),
            "/system/resource/print" => {
                Some(&[("version", "7.16.2 (stable)"), ("board-name", "CHR"), ("uptime", "3d4h5m6s")])
            }
            _ => None,
        };
        if let Some(row) = system {
            let row: Attributes = row.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            return Ok((vec![ReplyBody::Re(row)], None));
        }
        let (menu_path, verb) = cmd.path.rsplit_once('/').unwrap_or(("", ""));
        let Some(menu) = Menu::from_path(menu_path) else {
            return Err(trap(None, "no such command prefix"));
        };
        if !menu.allows(verb) {
            return Err(trap(None, "no such command"));
        }
        if is_mutation(&cmd.path) {
            self.mutations += 1;
            if self.frozen {
                return Ok((Vec::new(), None));
            }
        }
        match verb {
            "print" => print(self.rows(menu), cmd),
            "add" => {
                let mut row = Attributes::new();
                for (k, v) in &cmd.attributes {
                    row.insert(k.clone(), checked_value(menu, k, v)?);
                }
                self.insert(menu, row).map(|id| (Vec::new(), Some(id)))
            }
            "set" => set(menu, self.rows(menu), cmd, None),
            "enable" => set(menu, self.rows(menu), cmd, Some("false")),
            "disable" => set(menu, self.rows(menu), cmd, Some("true")),
            _ => remove(self.rows(menu), cmd),
        }
    }

    /// Adds a row to `menu` (defaults filled in) as `add` would; returns its `.id`.
    pub(crate) fn insert(&mut self, menu: Menu, given: Attributes) -> Result<String, ReplyBody> {
        let mut row: Attributes = menu.defaults().iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        row.extend(given);
        let same =
            |rows: &[Attributes], keys: &[&str]| rows.iter().any(|r| keys.iter().all(|k| r.get(*k) == row.get(*k)));
        match menu {
            Menu::PppSecret | Menu::HotspotUser if row["name"].is_empty() => {
                return Err(trap(Some(1), "failure: name must be set"))
            }
            Menu::PppSecret if same(&self.ppp_secrets, &["name"]) => {
                return Err(trap(Some(1), "failure: secret with the same name already exists"))
            }
            Menu::HotspotUser if same(&self.hotspot_users, &["name", "server"]) => {
                return Err(trap(Some(1), "failure: already have user with this name for this server"))
            }
            Menu::AddressList if row["list"].is_empty() || row["address"].is_empty() => {
                return Err(trap(Some(1), "failure: list and address must be set"))
            }
            Menu::AddressList if same(&self.address_list, &["list", "address"]) => {
                return Err(trap(Some(1), "failure: already have such entry"))
            }
            _ => {}
        }
        self.next_id += 1;
        let id = format!("*{:X}", self.next_id);
        row.insert(".id".into(), id.clone());
        self.rows(menu).push(row);
        Ok(id)
    }
}

fn trap(category: Option<u32>, message: &str) -> ReplyBody {
    ReplyBody::Trap(Trap { category, message: message.to_owned() })
}

/// Validates an attribute of `add`/`set` and stores it the way RouterOS prints it back:
/// booleans as `true`/`false`, single-host address-list entries without `/32`.
fn checked_value(menu: Menu, key: &str, value: &str) -> Result<String, ReplyBody> {
    if !menu.defaults().iter().any(|(k, _)| *k == key) || menu.read_only().contains(&key) {
        return Err(trap(None, "unknown parameter"));
    }
    Ok(match (key, value) {
        ("disabled" | "radius" | "dynamic", "yes" | "true") => "true".to_owned(),
        ("disabled" | "radius" | "dynamic", "no" | "false") => "false".to_owned(),
        ("disabled" | "radius" | "dynamic", _) => {
            return Err(trap(Some(1), &format!("value of {key} must be one of yes, no")))
        }
        ("address", v) if menu == Menu::AddressList => v.strip_suffix("/32").unwrap_or(v).to_owned(),
        (_, v) => v.to_owned(),
    })
}

/// `print` with AND-ed `?name=value` / `?=name=value` (equal), `?name` (has) and `?-name`
/// (has not) queries and `=.proplist=`; `!empty` when no row matches, as RouterOS 7.18+ does.
fn print(rows: &[Attributes], cmd: &Command) -> Result<Answer, ReplyBody> {
    enum Filter<'a> {
        Equals(&'a str, &'a str),
        Has(&'a str),
        HasNot(&'a str),
    }
    let mut filters = Vec::new();
    for q in &cmd.queries {
        let q = q.strip_prefix('=').unwrap_or(q);
        filters.push(match q.split_once('=') {
            Some((k, v)) => Filter::Equals(k, v),
            None if q.starts_with('#') || q.starts_with('<') || q.starts_with('>') => {
                return Err(trap(Some(1), "simulator supports only =, has and -has queries"))
            }
            None => match q.strip_prefix('-') {
                Some(k) => Filter::HasNot(k),
                None => Filter::Has(q),
            },
        });
    }
    let matches = |r: &Attributes| {
        filters.iter().all(|f| match f {
            Filter::Equals(k, v) => r.get(*k).map(String::as_str) == Some(*v),
            Filter::Has(k) => r.contains_key(*k),
            Filter::HasNot(k) => !r.contains_key(*k),
        })
    };
    let proplist: Option<Vec<&str>> = cmd.get(".proplist").map(|p| p.split(',').collect());
    let out: Vec<_> = rows
        .iter()
        .filter(|r| matches(r))
        .map(|r| match &proplist {
            Some(props) => {
                ReplyBody::Re(r.iter().filter(|(k, _)| props.contains(&k.as_str())).map(clone_pair).collect())
            }
            None => ReplyBody::Re(r.clone()),
        })
        .collect();
    Ok((if out.is_empty() { vec![ReplyBody::Empty] } else { out }, None))
}

fn clone_pair((k, v): (&String, &String)) -> (String, String) {
    (k.clone(), v.clone())
}

/// Finds the rows named by `=.id=` or `=numbers=` (comma-separated `.id`s or names).
fn targets(rows: &[Attributes], cmd: &Command) -> Result<Vec<usize>, ReplyBody> {
    let spec = cmd.get(".id").or_else(|| cmd.get("numbers")).ok_or_else(|| trap(Some(1), "no such item"))?;
    let mut idx = spec
        .split(',')
        .map(|item| {
            rows.iter()
                .position(|r| {
                    r.get(".id").map(String::as_str) == Some(item) || r.get("name").map(String::as_str) == Some(item)
                })
                .ok_or_else(|| trap(Some(0), "no such item"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    idx.sort_unstable();
    idx.dedup();
    Ok(idx)
}

/// `set` (and `enable`/`disable`, which force `disabled`): every target is checked before any
/// is changed, so a refused command changes nothing.
fn set(menu: Menu, rows: &mut [Attributes], cmd: &Command, disabled: Option<&str>) -> Result<Answer, ReplyBody> {
    let idx = targets(rows, cmd)?;
    let mut changes = Vec::new();
    for (k, v) in cmd.attributes.iter().filter(|(k, _)| k != ".id" && k != "numbers") {
        changes.push((k.clone(), checked_value(menu, k, v)?));
    }
    if let Some(d) = disabled {
        changes.push(("disabled".to_owned(), d.to_owned()));
    }
    for i in idx {
        rows[i].extend(changes.iter().cloned());
    }
    Ok((Vec::new(), None))
}

fn remove(rows: &mut Vec<Attributes>, cmd: &Command) -> Result<Answer, ReplyBody> {
    for i in targets(rows, cmd)?.into_iter().rev() {
        rows.remove(i);
    }
    Ok((Vec::new(), None))
}
