//! One retained status, published once and bounded in time: what a rig
//! says when it will not start (`vitrined firstboot` refusing its
//! configuration), where there is no spool and no publisher to run.

use std::time::{Duration, Instant};

use rumqttc::{Client, ConnectionError, Event, Outgoing, Packet, QoS};
use vitrine_schema::Status;

use crate::mqtt::BrokerConfig;

/// Publishes `status`, retained at QoS 1, on the rig's status topic
/// (`vitrine/<site>/<rig>/status`) and waits for the broker's
/// acknowledgement, at most `within` in all (connecting, TLS, the
/// acknowledgement). One attempt: a broker that refuses, cannot be reached
/// or does not answer in time is an error, not a retry.
///
/// The client id is the rig's with `-firstboot` appended and the session
/// is clean, so that the daemon's own persistent session is left alone.
pub fn publish_status(cfg: &BrokerConfig, status: &Status, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let mut opts = cfg
        .broker
        .options(&format!("{}-firstboot", cfg.client_id()));
    opts.set_clean_session(true);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(opts, 4);
    // Queued now, sent once connected.
    client
        .try_publish(
            cfg.topic("status"),
            QoS::AtLeastOnce,
            true,
            status.to_json(),
        )
        .map_err(|e| e.to_string())?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no answer from {} within {within:?}",
                cfg.broker.url
            ));
        }
        match connection.recv_timeout(left) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => break,
            Ok(Ok(_)) => {}
            Ok(Err(ConnectionError::ConnectionRefused(code))) => {
                return Err(format!(
                    "{} refused the connection: {code:?}",
                    cfg.broker.url
                ));
            }
            Ok(Err(e)) => return Err(format!("{}: {e}", cfg.broker.url)),
            Err(_) => {
                return Err(format!(
                    "no answer from {} within {within:?}",
                    cfg.broker.url
                ));
            }
        }
    }
    // A clean goodbye, briefly: the status is already acknowledged.
    let _ = client.try_disconnect();
    let bye = Instant::now() + Duration::from_millis(500);
    while let Some(left) = bye.checked_duration_since(Instant::now()) {
        match connection.recv_timeout(left) {
            Ok(Ok(Event::Outgoing(Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(_)) => {}
        }
    }
    Ok(())
}
