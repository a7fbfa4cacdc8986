//! What a collector exposes for Prometheus (OpenMetrics text, `GET
//! /metrics`): payloads stored, duplicates and refusals, rigs online, each
//! rig's last window end and spool backlog.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use vitrine_schema::{RigState, Status};

#[derive(Debug, Default)]
struct Rig {
    online: bool,
    spool_held: u64,
    /// End of the last window stored, Unix seconds.
    last_window_end: Option<i64>,
    stored: u64,
}

#[derive(Debug, Default)]
struct Inner {
    stored: u64,
    duplicates: u64,
    /// By reason.
    refused: BTreeMap<String, u64>,
    rigs: BTreeMap<(String, String), Rig>,
}

/// The collector's counters, shared with the HTTP thread.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn rig<'a>(inner: &'a mut Inner, site: &str, rig: &str) -> &'a mut Rig {
        inner
            .rigs
            .entry((site.to_owned(), rig.to_owned()))
            .or_default()
    }

    pub fn stored(&self, site: &str, rig: &str, window_end: i64) {
        self.with(|m| {
            m.stored += 1;
            let r = Self::rig(m, site, rig);
            r.stored += 1;
            r.last_window_end = Some(r.last_window_end.map_or(window_end, |e| e.max(window_end)));
        });
    }

    pub fn duplicate(&self) {
        self.with(|m| m.duplicates += 1);
    }

    pub fn refused(&self, reason: &str) {
        self.with(|m| *m.refused.entry(reason.to_owned()).or_default() += 1);
    }

    pub fn status(&self, site: &str, rig: &str, s: &Status) {
        self.with(|m| {
            let r = Self::rig(m, site, rig);
            r.online = s.state == RigState::Online;
            r.spool_held = s.spool.held;
        });
    }

    /// Summaries stored so far.
    pub fn stored_total(&self) -> u64 {
        self.with(|m| m.stored)
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        self.with(|m| {
            let mut o = String::new();
            let _ = writeln!(o, "# TYPE vitrine_collector_payloads counter");
            let _ = writeln!(
                o,
                "# HELP vitrine_collector_payloads Payloads received, by what became of them."
            );
            let _ = writeln!(o, "vitrine_collector_payloads_total{{result=\"stored\"}} {}", m.stored);
            let _ = writeln!(
                o,
                "vitrine_collector_payloads_total{{result=\"duplicate\"}} {}",
                m.duplicates
            );
            for (reason, n) in &m.refused {
                let _ = writeln!(
                    o,
                    "vitrine_collector_payloads_total{{result=\"refused\",reason=\"{}\"}} {n}",
                    escape(reason)
                );
            }
            let _ = writeln!(o, "# TYPE vitrine_rigs_online gauge");
            let _ = writeln!(o, "# HELP vitrine_rigs_online Rigs whose last status says online.");
            let online = m.rigs.values().filter(|r| r.online).count();
            let _ = writeln!(o, "vitrine_rigs_online {online}");
            let _ = writeln!(o, "# TYPE vitrine_rig_last_window_end_seconds gauge");
            let _ = writeln!(
                o,
                "# HELP vitrine_rig_last_window_end_seconds End of the last window stored, Unix time."
            );
            for ((site, rig), r) in &m.rigs {
                if let Some(end) = r.last_window_end {
                    let _ = writeln!(
                        o,
                        "vitrine_rig_last_window_end_seconds{{site=\"{}\",rig=\"{}\"}} {end}",
                        escape(site),
                        escape(rig)
                    );
                }
            }
            let _ = writeln!(o, "# TYPE vitrine_rig_spool_held gauge");
            let _ = writeln!(
                o,
                "# HELP vitrine_rig_spool_held Summaries waiting in the rig's spool, as its status says."
            );
            for ((site, rig), r) in &m.rigs {
                let _ = writeln!(
                    o,
                    "vitrine_rig_spool_held{{site=\"{}\",rig=\"{}\"}} {}",
                    escape(site),
                    escape(rig),
                    r.spool_held
                );
            }
            o.push_str("# EOF\n");
            o
        })
    }

    /// Serves [`render`](Self::render) on `addr` (`GET /metrics`) from a
    /// thread of its own; returns the address bound (port 0 picks one).
    pub fn serve(&self, addr: &str) -> anyhow::Result<std::net::SocketAddr> {
        let server =
            tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("--metrics {addr}: {e}"))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("--metrics {addr}: not an IP address"))?;
        let metrics = self.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let response = if request.url() == "/metrics" {
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                    )
                    .expect("a valid header");
                    tiny_http::Response::from_string(metrics.render()).with_header(header)
                } else {
                    tiny_http::Response::from_string("not found\n").with_status_code(404)
                };
                let _ = request.respond(response);
            }
        });
        Ok(bound)
    }
}

/// A label value as OpenMetrics escapes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_per_rig_and_escapes_labels() {
        let m = Metrics::default();
        m.stored("store-7", "rig-a", 1_700_000_060);
        m.stored("store-7", "rig-a", 1_700_000_000);
        m.duplicate();
        m.refused("undecodable");
        m.refused("undecodable");
        let mut s: Status = serde_json::from_str(
            r#"{"state":"online","version":"0.1.0","boot":"b","spool":{"held":4,"acknowledged":0,"expired":0,"dropped_full":0,"quarantined":0}}"#,
        )
        .unwrap();
        m.status("store-7", "rig-a", &s);
        s.state = RigState::Offline;
        m.status("st\"ore", "rig-b", &s);
        let text = m.render();
        for line in [
            "vitrine_collector_payloads_total{result=\"stored\"} 2",
            "vitrine_collector_payloads_total{result=\"duplicate\"} 1",
            "vitrine_collector_payloads_total{result=\"refused\",reason=\"undecodable\"} 2",
            "vitrine_rigs_online 1",
            "vitrine_rig_last_window_end_seconds{site=\"store-7\",rig=\"rig-a\"} 1700000060",
            "vitrine_rig_spool_held{site=\"store-7\",rig=\"rig-a\"} 4",
            "vitrine_rig_spool_held{site=\"st\\\"ore\",rig=\"rig-b\"} 4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
