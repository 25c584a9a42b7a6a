//! Process metrics in the Prometheus text format, served at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Named counters, each with an optional label set, created on first use.
#[derive(Default)]
pub struct Metrics {
    counters: RwLock<BTreeMap<(String, String), Arc<AtomicU64>>>,
    help: RwLock<BTreeMap<String, String>>,
}

impl Metrics {
    /// Declares a counter's help text (shown as `# HELP`).
    pub fn describe(&self, name: &str, help: &str) {
        self.help.write().expect("metrics lock").insert(name.into(), help.into());
    }

    /// Adds `by` to counter `name` with `labels` (`key="value",...` without braces, or "").
    pub fn add(&self, name: &str, labels: &str, by: u64) {
        let key = (name.to_string(), labels.to_string());
        if let Some(c) = self.counters.read().expect("metrics lock").get(&key) {
            c.fetch_add(by, Ordering::Relaxed);
            return;
        }
        self.counters.write().expect("metrics lock").entry(key).or_default().fetch_add(by, Ordering::Relaxed);
    }

    /// Adds one to counter `name` with `labels`.
    pub fn inc(&self, name: &str, labels: &str) {
        self.add(name, labels, 1);
    }

    /// Current value of a counter (0 if never touched).
    pub fn get(&self, name: &str, labels: &str) -> u64 {
        self.counters
            .read()
            .expect("metrics lock")
            .get(&(name.to_string(), labels.to_string()))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition of every counter, plus `extra` gauges (name, value).
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let help = self.help.read().expect("metrics lock");
        let mut last = "";
        let counters = self.counters.read().expect("metrics lock");
        for ((name, labels), v) in counters.iter() {
            if name != last {
                if let Some(h) = help.get(name) {
                    let _ = writeln!(out, "# HELP {name} {h}");
                }
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let v = v.load(Ordering::Relaxed);
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {v}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
        for (name, h, v) in extra {
            let _ = writeln!(out, "# HELP {name} {h}\n# TYPE {name} gauge\n{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.describe("isp_logins_total", "Staff login attempts.");
        m.inc("isp_logins_total", "result=\"ok\"");
        m.add("isp_logins_total", "result=\"ok\"", 2);
        m.inc("isp_logins_total", "result=\"failed\"");
        let text = m.render(&[("isp_up", "Always 1.", 1)]);
        assert!(text.contains("# TYPE isp_logins_total counter"));
        assert!(text.contains("isp_logins_total{result=\"ok\"} 3"));
        assert!(text.contains("isp_logins_total{result=\"failed\"} 1"));
        assert!(text.contains("isp_up 1"));
        assert_eq!(m.get("isp_logins_total", "result=\"ok\""), 3);
    }
}
