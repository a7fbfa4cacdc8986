//! `vitrine-audit tail`: the summaries rigs publish, printed as they come.

use std::io::Write;
use std::ops::ControlFlow;

use anyhow::Context;
use vitrine_publish::Broker;
use vitrine_publish::consume::{self, Received, printable, subscribe};

use crate::cli::Format;

pub fn run(broker: &Broker, topic: &str, format: Format, count: Option<u64>) -> anyhow::Result<()> {
    let client_id = format!("vitrine-audit-tail-{}", std::process::id());
    let mut out = std::io::stdout().lock();
    let mut shown = 0u64;
    // The columns of the last summary shown: a summary of another sensor
    // (a camera's, on `vitrine/+/+/+`) brings its own header.
    let mut layout = None;
    subscribe(broker, &client_id, topic, |received| {
        // Everything printed comes from other devices: control characters
        // escaped (serde_json leaves DEL and C1 as they are).
        let line = match received {
            Received::Summary {
                topic,
                envelope,
                unknown,
            } => {
                if !unknown.is_empty() {
                    // The typed envelope leaves them out: say so, since the
                    // schema allows none.
                    tracing::warn!(
                        topic = %printable(&topic),
                        seq = envelope.seq,
                        fields = %printable(&unknown.join(", ")),
                        "summary with fields its schema does not have (not shown)"
                    );
                }
                match format {
                    Format::Jsonl => consume::printable_json(
                        &serde_json::to_string(&envelope).expect("envelopes serialize"),
                    )
                    .into_owned(),
                    Format::Table => {
                        let mut text = String::new();
                        let this = vitrine_schema::table::Layout::of(&envelope.summary);
                        if shown.is_multiple_of(40) || layout != Some(this) {
                            layout = Some(this);
                            // The summary table's header, with a rig column in front.
                            for (i, line) in
                                vitrine_schema::table::header_for(this).lines().enumerate()
                            {
                                text += &format!(
                                    "{:<24} {line}\n",
                                    if i == 0 { "rig #seq" } else { "" }
                                );
                            }
                        }
                        let rig = format!("{}/{} #{}", envelope.site, envelope.rig, envelope.seq);
                        let mark = if unknown.is_empty() { "" } else { " +unknown fields" };
                        text + &printable(&format!(
                            "{rig:<24} {}{mark}",
                            vitrine_schema::table::row_for(&envelope.summary, this)
                        ))
                    }
                }
            }
            Received::Idle => return ControlFlow::Continue(()),
            Received::Undecodable { topic, reason } => {
                tracing::warn!(topic = %printable(&topic), reason = %printable(&reason), "payload not decoded");
                return ControlFlow::Continue(());
            }
            Received::Oversized { topic, size } => {
                tracing::warn!(
                    topic = %printable(&topic),
                    size,
                    limit = consume::PAYLOAD_LIMIT,
                    "message over the payload bound skipped"
                );
                return ControlFlow::Continue(());
            }
            Received::Refused { size } => {
                tracing::warn!(
                    size,
                    limit = consume::READ_LIMIT,
                    "a packet over the read bound broke the connection; reconnecting"
                );
                return ControlFlow::Continue(());
            }
        };
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return ControlFlow::Break(());
        }
        shown += 1;
        if count.is_some_and(|c| shown >= c) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .context("cannot watch the stream")
}
