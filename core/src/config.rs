//! Configuration: one optional TOML file, overridden by `ISP_*` environment variables.
//!
//! With neither, everything works: an embedded SQLite database under `./data/`, secrets
//! generated there on first start.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything the `isp` binary and its parts can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listen address of the API (`ISP_LISTEN`).
    pub listen: SocketAddr,
    /// Folder for the SQLite database, the master key and the JWT secret (`ISP_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means `sqlite://<data_dir>/isp.db`
    /// (`DATABASE_URL` or `ISP_DATABASE_URL`).
    pub database_url: String,
    /// Take the client IP from `X-Forwarded-For` (only behind a reverse proxy you run;
    /// `ISP_TRUST_PROXY`).
    pub trust_proxy: bool,
    /// Largest number of pooled database connections (`ISP_DB_MAX_CONNECTIONS`).
    pub db_max_connections: u32,
    /// `text` or `json` (`ISP_LOG_FORMAT`).
    pub log_format: String,
    /// tracing filter such as `info` or `isp_api=debug` (`ISP_LOG` or `RUST_LOG`).
    pub log_level: String,
    /// Staff authentication.
    pub auth: AuthConfig,
    /// GraphQL limits.
    pub graphql: GraphqlConfig,
    /// RADIUS listeners, accounting and the device-job worker.
    pub radius: RadiusConfig,
    /// Routers and OLTs the worker and `netctl` talk to.
    pub devices: DevicesConfig,
    /// Customer notifications (email, SMS, WhatsApp) and their delivery worker.
    pub notify: NotifyConfig,
    /// The helpdesk's automatic tickets.
    pub helpdesk: HelpdeskConfig,
}

/// When the helpdesk raises tickets by itself (besides the dead-lettered device jobs, which
/// always raise one).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HelpdeskConfig {
    /// Raise a ticket for a subscriber whose logins keep failing (`ISP_LOGIN_FAILURE_TICKETS`).
    pub login_failure_tickets: bool,
    /// Rejected logins of one subscription, within the window, that raise the ticket. Only
    /// failures staff can act on count (bad or missing password, no usable method), not the
    /// deliberate refusals (suspended, cancelled, quota exhausted).
    pub login_failures: i64,
    /// The window, in minutes.
    pub login_failure_window_minutes: i64,
}

impl Default for HelpdeskConfig {
    fn default() -> Self {
        Self { login_failure_tickets: true, login_failures: 5, login_failure_window_minutes: 15 }
    }
}

/// How the notification delivery worker sends. The channels themselves (SMTP server, SMS
/// provider) are tenant settings in the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Base URL of the customer portal, for the links in messages (`ISP_NOTIFY_PORTAL_URL`).
    pub portal_url: String,
    /// Delivery attempts before a message is dead-lettered.
    pub max_attempts: i64,
    /// Delay before the first retry in milliseconds; it doubles with each attempt, up to an hour.
    pub backoff_ms: i64,
    /// Time allowed for one delivery (connect, TLS, send) in milliseconds.
    pub timeout_ms: u64,
    /// How often the worker looks for due messages when nobody wakes it, in milliseconds.
    pub poll_ms: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self { portal_url: String::new(), max_attempts: 6, backoff_ms: 30_000, timeout_ms: 15_000, poll_ms: 1_000 }
    }
}

/// How the worker and `netctl` talk to routers and OLTs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// Time allowed to connect and log in, and for each command, in milliseconds
    /// (`ISP_DEVICE_TIMEOUT_MS`).
    pub timeout_ms: u64,
    /// Jobs delivered to one device at the same time, which is also the number of RouterOS
    /// API connections kept open to it.
    pub max_per_device: usize,
    /// An idle RouterOS API connection is closed after this many seconds.
    pub idle_secs: u64,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        Self { timeout_ms: 10_000, max_per_device: 2, idle_secs: 60 }
    }
}

/// RADIUS server and device-job worker settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RadiusConfig {
    /// UDP address of the authentication listener (`ISP_RADIUS_AUTH`).
    pub auth_listen: SocketAddr,
    /// UDP address of the accounting listener (`ISP_RADIUS_ACCT`).
    pub acct_listen: SocketAddr,
    /// Acct-Interim-Interval sent in every Access-Accept, in seconds.
    pub acct_interim_interval_secs: u32,
    /// A session with no update for this many interim intervals is closed as stale.
    pub stale_after_intervals: u32,
    /// How often the stale-session sweep runs, in seconds.
    pub stale_check_secs: u64,
    /// Largest number of remembered replies for retransmitted requests.
    pub duplicate_cache_size: usize,
    /// How long a reply is remembered for retransmissions, in seconds.
    pub duplicate_ttl_secs: u64,
    /// How long a NAS lookup (source IP to tenant and secret) is cached, in seconds.
    pub nas_cache_ttl_secs: u64,
    /// How long the worker waits for a CoA/Disconnect answer, in milliseconds.
    pub coa_timeout_ms: u64,
    /// Delivery attempts before a device job is dead-lettered.
    pub job_max_attempts: i64,
    /// How often the worker looks for due jobs when nobody wakes it, in milliseconds.
    pub job_poll_ms: u64,
}

impl Default for RadiusConfig {
    fn default() -> Self {
        Self {
            auth_listen: "0.0.0.0:1812".parse().expect("static address"),
            acct_listen: "0.0.0.0:1813".parse().expect("static address"),
            acct_interim_interval_secs: 300,
            stale_after_intervals: 3,
            stale_check_secs: 60,
            duplicate_cache_size: 65_536,
            duplicate_ttl_secs: 30,
            nas_cache_ttl_secs: 10,
            coa_timeout_ms: 2_000,
            job_max_attempts: 8,
            job_poll_ms: 1_000,
        }
    }
}

/// Staff authentication settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether `registerTenant` may be called by anyone (`ISP_ALLOW_REGISTRATION`).
    pub allow_registration: bool,
    /// HS256 secret for access tokens; empty means generated into the data dir
    /// (`ISP_JWT_SECRET`). Every API process of one deployment needs the same one.
    pub jwt_secret: String,
    /// Base64 AES-256 key for secrets at rest; empty means generated into the data dir
    /// (`ISP_MASTER_KEY`). Every process of one deployment needs the same one.
    pub master_key: String,
    /// Lifetime of an access token in seconds.
    pub access_token_ttl_secs: i64,
    /// Lifetime of a refresh token in days.
    pub refresh_token_ttl_days: i64,
    /// argon2id memory cost in KiB (`ISP_ARGON2_MEMORY_KIB`).
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// Failed logins per account within the window before RATE_LIMITED.
    pub max_failures_per_account: i64,
    /// Failed logins per client IP within the window before RATE_LIMITED.
    pub max_failures_per_ip: i64,
    /// Window of the login throttle, in seconds.
    pub throttle_window_secs: i64,
}

/// Limits that keep one GraphQL request from exhausting the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphqlConfig {
    /// Deepest allowed selection nesting.
    pub max_depth: usize,
    /// Largest allowed query complexity (connections count `first` times their children).
    pub max_complexity: usize,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted multipart request (GraphQL file uploads) in bytes, all files together.
    pub max_upload_bytes: usize,
    /// Most files in one multipart request.
    pub max_upload_files: usize,
    /// Serve GraphiQL on GET /graphql.
    pub graphiql: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:3000".parse().expect("static address"),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            trust_proxy: false,
            db_max_connections: 8,
            log_format: "text".into(),
            log_level: "info".into(),
            auth: AuthConfig::default(),
            graphql: GraphqlConfig::default(),
            radius: RadiusConfig::default(),
            devices: DevicesConfig::default(),
            notify: NotifyConfig::default(),
            helpdesk: HelpdeskConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            allow_registration: true,
            jwt_secret: String::new(),
            master_key: String::new(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            max_failures_per_account: 5,
            max_failures_per_ip: 30,
            throttle_window_secs: 15 * 60,
        }
    }
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self {
            max_depth: 15,
            max_complexity: 20_000,
            max_body_bytes: 256 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            max_upload_files: 10,
            graphiql: true,
        }
    }
}

/// A configuration that could not be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML file is not valid.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// File path.
        path: PathBuf,
        /// Cause.
        source: toml::de::Error,
    },
    /// An environment variable has a value of the wrong kind.
    #[error("environment variable {name}={value:?}: {reason}")]
    Env {
        /// Variable name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

impl Config {
    /// Reads the TOML file (if any), then applies environment overrides from `env`.
    ///
    /// `env` is a lookup function so tests need not touch the process environment.
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.into(), source })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse { path: p.into(), source })?
            }
            None => Config::default(),
        };
        cfg.apply_env(env)?;
        Ok(cfg)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(name: &'static str, v: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            v.parse::<T>().map_err(|e| ConfigError::Env { name, value: v, reason: e.to_string() })
        }
        fn parse_bool(name: &'static str, v: String) -> Result<bool, ConfigError> {
            match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::Env { name, value: v, reason: "expected true or false".into() }),
            }
        }
        if let Some(v) = env("ISP_LISTEN") {
            self.listen = parse("ISP_LISTEN", v)?;
        }
        if let Some(v) = env("ISP_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("ISP_DATABASE_URL").or_else(|| env("DATABASE_URL")) {
            self.database_url = v;
        }
        if let Some(v) = env("ISP_TRUST_PROXY") {
            self.trust_proxy = parse_bool("ISP_TRUST_PROXY", v)?;
        }
        if let Some(v) = env("ISP_DB_MAX_CONNECTIONS") {
            self.db_max_connections = parse("ISP_DB_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = env("ISP_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = env("ISP_LOG").or_else(|| env("RUST_LOG")) {
            self.log_level = v;
        }
        if let Some(v) = env("ISP_ALLOW_REGISTRATION") {
            self.auth.allow_registration = parse_bool("ISP_ALLOW_REGISTRATION", v)?;
        }
        if let Some(v) = env("ISP_JWT_SECRET") {
            self.auth.jwt_secret = v;
        }
        if let Some(v) = env("ISP_MASTER_KEY") {
            self.auth.master_key = v;
        }
        if let Some(v) = env("ISP_ARGON2_MEMORY_KIB") {
            self.auth.argon2_memory_kib = parse("ISP_ARGON2_MEMORY_KIB", v)?;
        }
        if let Some(v) = env("ISP_RADIUS_AUTH") {
            self.radius.auth_listen = parse("ISP_RADIUS_AUTH", v)?;
        }
        if let Some(v) = env("ISP_RADIUS_ACCT") {
            self.radius.acct_listen = parse("ISP_RADIUS_ACCT", v)?;
        }
        if let Some(v) = env("ISP_DEVICE_TIMEOUT_MS") {
            self.devices.timeout_ms = parse("ISP_DEVICE_TIMEOUT_MS", v)?;
        }
        if let Some(v) = env("ISP_NOTIFY_PORTAL_URL") {
            self.notify.portal_url = v;
        }
        if let Some(v) = env("ISP_MAX_UPLOAD_BYTES") {
            self.graphql.max_upload_bytes = parse("ISP_MAX_UPLOAD_BYTES", v)?;
        }
        if let Some(v) = env("ISP_LOGIN_FAILURE_TICKETS") {
            self.helpdesk.login_failure_tickets = parse_bool("ISP_LOGIN_FAILURE_TICKETS", v)?;
        }
        if let Some(v) = env("ISP_GRAPHIQL") {
            self.graphql.graphiql = parse_bool("ISP_GRAPHIQL", v)?;
        }
        Ok(())
    }

    /// The database URL in effect: the configured one or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}?mode=rwc", self.data_dir.join("isp.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Rejects settings that cannot work, with the setting's name.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(format!("log_format must be text or json, not {:?}", self.log_format));
        }
        let url = self.effective_database_url();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:")) {
            return Err("database_url must start with sqlite: or postgres:".into());
        }
        if self.auth.access_token_ttl_secs < 30 {
            return Err("auth.access_token_ttl_secs must be at least 30".into());
        }
        if self.auth.argon2_memory_kib < 64 || self.auth.argon2_iterations == 0 {
            return Err("auth.argon2_memory_kib must be at least 64 and argon2_iterations at least 1".into());
        }
        if self.radius.acct_interim_interval_secs < 60 {
            return Err("radius.acct_interim_interval_secs must be at least 60".into());
        }
        if self.devices.timeout_ms < 100 || self.devices.max_per_device == 0 {
            return Err("devices.timeout_ms must be at least 100 and devices.max_per_device at least 1".into());
        }
        if self.radius.job_max_attempts < 1 || self.radius.stale_after_intervals < 1 {
            return Err("radius.job_max_attempts and radius.stale_after_intervals must be at least 1".into());
        }
        if self.db_max_connections == 0 {
            return Err("db_max_connections must be at least 1".into());
        }
        if self.helpdesk.login_failures < 1 || !(1..=1440).contains(&self.helpdesk.login_failure_window_minutes) {
            return Err(
                "helpdesk.login_failures must be at least 1 and helpdesk.login_failure_window_minutes 1-1440".into()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_need_no_file() {
        let c = Config::load(None, |_| None).unwrap();
        assert_eq!(c.listen.port(), 3000);
        assert_eq!((c.radius.auth_listen.port(), c.radius.acct_listen.port()), (1812, 1813));
        assert_eq!(c.radius.acct_interim_interval_secs, 300);
        assert!(c.effective_database_url().starts_with("sqlite://./data/isp.db"));
        c.validate().unwrap();
    }

    #[test]
    fn the_deployment_sample_loads_and_names_every_section() {
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/isp.toml");
        let c = Config::load(Some(&f), |_| None).unwrap();
        c.validate().unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/isp"));
        assert!(!c.auth.allow_registration && c.trust_proxy);
        // Every other value in the sample is the default (it documents them).
        let d = Config::default();
        assert_eq!((c.radius.acct_interim_interval_secs, c.radius.job_max_attempts), (300, 8));
        assert_eq!(c.graphql.max_complexity, d.graphql.max_complexity);
        assert_eq!(c.devices.timeout_ms, d.devices.timeout_ms);
        assert_eq!(c.auth.argon2_memory_kib, d.auth.argon2_memory_kib);
    }

    #[test]
    fn env_overrides_file() {
        let dir = std::env::temp_dir().join(format!("isp-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("isp.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:4000\"\n[auth]\nallow_registration = false\n").unwrap();
        let env: HashMap<&str, &str> = [
            ("ISP_LISTEN", "127.0.0.1:5000"),
            ("DATABASE_URL", "postgres://x/y"),
            ("ISP_RADIUS_AUTH", "127.0.0.1:11812"),
        ]
        .into();
        let c = Config::load(Some(&f), |k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.listen.port(), 5000);
        assert!(!c.auth.allow_registration);
        assert_eq!(c.effective_database_url(), "postgres://x/y");
        assert_eq!(c.radius.auth_listen.port(), 11812);
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::load(None, |k| (k == "ISP_LISTEN").then(|| "nope".into())).unwrap_err();
        assert!(err.to_string().contains("ISP_LISTEN"));
        let dir = std::env::temp_dir().join(format!("isp-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.toml");
        std::fs::write(&f, "lisen = 1\n").unwrap();
        assert!(Config::load(Some(&f), |_| None).unwrap_err().to_string().contains("lisen"));
    }
}
