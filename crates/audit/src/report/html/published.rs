//! What the device published during the audit: per topic, charts of the
//! counts per window and the numbers behind them.

use std::fmt::Write as _;

use crate::checks::thousands;
use crate::report::model::WindowPoint;

use super::chart::{Series, chart, x_positions};
use super::esc;
use super::wording::short_time;

const BLUE: &str = "#2563eb";
const ORANGE: &str = "#d97706";
const GREY_BAR: &str = "#64748b";

pub(super) fn charts(h: &mut String, windows: &[WindowPoint]) {
    h.push_str("<section>\n<h2>What the device published during the audit</h2>\n");
    if windows.is_empty() {
        h.push_str(
            "<p class=\"note\">No published windows were watched in this audit, so there are \
             no charts. An audit that subscribes to the device's broker shows here the counts \
             it published per window.</p>\n</section>\n",
        );
        return;
    }
    let mut topics: Vec<&str> = windows.iter().map(|w| w.topic.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    for topic in topics {
        let mut ws: Vec<&WindowPoint> = windows.iter().filter(|w| w.topic == topic).collect();
        ws.sort_by(|a, b| a.start.cmp(&b.start));
        let xs = x_positions(&ws);
        let span = match (ws.first(), ws.last()) {
            (Some(a), Some(b)) => format!(
                "{} windows, {} to {}",
                ws.len(),
                short_time(&a.start),
                short_time(&b.start)
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            h,
            "<h3>Topic <code>{}</code> <span class=\"muted\">{}</span></h3>",
            esc(topic),
            esc(&span)
        );
        let probes: Vec<f64> = ws.iter().map(|w| w.probe_requests as f64).collect();
        let macs: Vec<f64> = ws.iter().map(|w| w.distinct_macs as f64).collect();
        let devices: Vec<f64> = ws.iter().map(|w| w.devices_estimate).collect();
        h.push_str("<div class=\"charts\">\n");
        h.push_str(&chart(
            "Probe requests per window",
            "frames",
            &xs,
            &[Series {
                name: "probe requests",
                color: GREY_BAR,
                values: &probes,
                bars: true,
            }],
        ));
        h.push_str(&chart(
            "Addresses and estimated devices per window",
            "count",
            &xs,
            &[
                Series {
                    name: "distinct MAC addresses",
                    color: ORANGE,
                    values: &macs,
                    bars: false,
                },
                Series {
                    name: "estimated devices",
                    color: BLUE,
                    values: &devices,
                    bars: false,
                },
            ],
        ));
        h.push_str("</div>\n");
        // The numbers behind the charts, for those who want them.
        let _ = writeln!(
            h,
            "<details><summary>The {} published windows as numbers</summary>\n\
             <table class=\"numbers\"><thead><tr><th>Window start</th><th class=\"num\">Probe requests</th>\
             <th class=\"num\">Distinct MAC addresses</th><th class=\"num\">Estimated devices</th></tr></thead><tbody>",
            ws.len()
        );
        for w in &ws {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&w.start),
                thousands(w.probe_requests),
                thousands(w.distinct_macs),
                esc(&one_decimal(w.devices_estimate))
            );
        }
        h.push_str("</tbody></table></details>\n");
    }
    h.push_str(
        "<p class=\"note\">Distinct MAC addresses overcount people: phones change their \
         address while probing. The device estimate links changing addresses back together; \
         it is the number a sensing device reports.</p>\n</section>\n",
    );
}

fn one_decimal(v: f64) -> String {
    format!("{v:.1}")
}
