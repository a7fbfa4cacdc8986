//! Getting summaries off the rig: a durable spool, and the payload format.
//!
//! Every summary is written to the [`Spool`] before it is published and
//! deleted only once the broker has acknowledged it, so a lost uplink or a
//! pulled plug loses nothing; retention bounds what the spool may hold, even
//! when nothing could be sent. Payloads are an [`Envelope`] (the summary
//! stamped with rig, boot and sequence number, so consumers can drop QoS 1
//! duplicates) compressed with zstd and a dictionary that ships with the
//! daemon ([`payload`]); the standard `zstd -d -D DICT` decodes them.
//!
//! **Architecture invariant:** only summaries (the schema crate's types) are
//! ever spooled or published.

pub mod broker;
pub mod consume;
pub mod figures;
pub mod mqtt;
pub mod once;
pub mod payload;
pub mod spool;

pub use broker::{Broker, TlsPem};
pub use mqtt::{BrokerConfig, Publisher, StatusHandle};
pub use payload::{Codec, Envelope, PayloadError};
pub use spool::{Entry, Spool, SpoolError, SpoolPolicy, SpoolStats};
