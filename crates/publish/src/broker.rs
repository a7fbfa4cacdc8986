//! The broker a client connects to, the publisher and every consumer alike
//! (`vitrine-audit tail`, `mqtt`, `self`, the hil-tests): the configuration's
//! [`BrokerClient`] (URL, CA, client certificate, user name, password file,
//! parsed and checked by `vitrine-config`) with its files read, once, before
//! anything connects.

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use vitrine_config::{BrokerClient, BrokerOptions, ConfigError, Sourced};

/// TLS to the broker: the server is verified against `ca`; a client
/// certificate and key are sent when the broker asks for them. PEM
/// contents, read (with a bound, before anything starts) by [`Broker::load`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TlsPem {
    pub ca: Vec<u8>,
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPem")
            .field("ca_bytes", &self.ca.len())
            .field("client", &self.client.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A broker, ready to connect to: host, port, credentials and TLS.
#[derive(Clone, PartialEq, Eq)]
pub struct Broker {
    /// As configured, for messages and reports.
    pub url: String,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Set for `mqtts://` URLs.
    pub tls: Option<TlsPem>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .finish()
    }
}

impl Broker {
    /// Reads the files `client` names (CA, client certificate and key,
    /// password; see [`BrokerClient::read_secrets`]) and checks that the
    /// certificates and the key are PEM; every error names the file and
    /// where it was named.
    pub fn load(client: &BrokerClient) -> Result<Broker, ConfigError> {
        let secrets = client.read_secrets()?;
        let tls = if client.tls {
            let ca = secrets.ca.unwrap_or_default();
            if let Some(file) = &client.ca_file {
                certificates(file, &ca, "CA certificate")?;
            }
            if let (Some((cert, key)), Some((cert_file, key_file))) =
                (&secrets.client, &client.client_cert)
            {
                certificates(cert_file, cert, "client certificate")?;
                if PrivateKeyDer::from_pem_slice(key).is_err() {
                    return Err(key_file.origin.error(format!(
                        "the client key {} holds no PEM private key",
                        key_file.value.display()
                    )));
                }
            }
            Some(TlsPem {
                ca,
                client: secrets.client,
            })
        } else {
            None
        };
        Ok(Broker {
            url: client.url.value.clone(),
            host: client.host.clone(),
            port: client.port,
            username: client.username.clone(),
            password: secrets.password,
            tls,
        })
    }

    /// A broker with nothing but its URL (`mqtt://host[:port]`; an
    /// `mqtts://` one needs a CA, [`Broker::load`]).
    pub fn from_url(url: &str) -> Result<Broker, ConfigError> {
        Broker::load(&BrokerClient::from_options(&BrokerOptions::url(url))?)
    }

    /// rumqttc's options for this broker: address, credentials, TLS.
    pub(crate) fn options(&self, client_id: &str) -> MqttOptions {
        let mut opts = MqttOptions::new(client_id, self.host.clone(), self.port);
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            opts.set_credentials(u.clone(), p.clone());
        } else if let Some(u) = &self.username {
            opts.set_credentials(u.clone(), "");
        }
        if let Some(tls) = &self.tls {
            opts.set_transport(Transport::tls_with_config(tls_configuration(tls)));
        }
        opts
    }
}

/// Whether `pem` holds at least one PEM certificate and nothing unreadable
/// ([`Broker::load`]'s rule for a CA or client certificate), for whoever
/// has the text before it is a file (`vitrined firstboot`).
pub fn holds_certificates(pem: &[u8]) -> bool {
    let mut found = 0;
    for c in CertificateDer::pem_slice_iter(pem) {
        if c.is_err() {
            return false;
        }
        found += 1;
    }
    found > 0
}

/// Whether `pem` holds a PEM private key ([`Broker::load`]'s rule for a
/// client key).
pub fn holds_private_key(pem: &[u8]) -> bool {
    PrivateKeyDer::from_pem_slice(pem).is_ok()
}

/// At least one PEM certificate in `pem`, read from `file`.
fn certificates(
    file: &Sourced<std::path::PathBuf>,
    pem: &[u8],
    what: &str,
) -> Result<(), ConfigError> {
    let mut found = 0;
    for c in CertificateDer::pem_slice_iter(pem) {
        if c.is_err() {
            found = 0;
            break;
        }
        found += 1;
    }
    if found == 0 {
        return Err(file.origin.error(format!(
            "the {what} {} holds no PEM certificate",
            file.value.display()
        )));
    }
    Ok(())
}

/// rustls with the ring provider (installed once as the process default),
/// verifying the server against the given CA.
fn tls_configuration(tls: &TlsPem) -> TlsConfiguration {
    let _ = rustls::crypto::ring::default_provider().install_default();
    TlsConfiguration::Simple {
        ca: tls.ca.clone(),
        alpn: None,
        client_auth: tls.client.clone(),
    }
}
