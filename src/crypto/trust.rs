//! Which client certificates the broker trusts (issue 20, item 3): a leaf issued by the
//! configured CA itself, or by an intermediate CA named for the leaf's own agency; with the
//! clientAuth extended key usage; and not revoked by the `client_crl` file, which is re-read
//! when it changes (`watch_crl`). A refusal fails the TLS handshake with its own alert; a
//! connection open when its certificate is revoked is told by `reloaded` and `still_trusted`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use super::{certificate_agencies, load_certs};

/// How often `watch_crl` looks at the CRL file's modification time.
const CRL_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The client certificate verifier of `server_tls_config`.
#[derive(Debug)]
pub struct AgencyTrust {
    roots: Arc<rustls::RootCertStore>,
    hints: Vec<DistinguishedName>,
    /// The trust anchors of `client_ca`, as certificates (whose lists a CRL file must hold).
    anchors: Vec<CertificateDer<'static>>,
    /// Agency intermediates configured in `client_ca` (not trust anchors themselves).
    intermediates: Vec<CertificateDer<'static>>,
    crl: Option<CrlWatch>,
    /// webpki's verifier over `roots` with the CRLs as last read.
    webpki: RwLock<Arc<dyn ClientCertVerifier>>,
    /// How many times the CRL file has been reloaded.
    reloads: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug)]
struct CrlWatch {
    path: PathBuf,
    seen: Mutex<Seen>,
}

#[derive(Debug)]
struct Seen {
    stamp: Option<Stamp>,
}

/// What tells a changed file: its modification time, length and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

impl AgencyTrust {
    /// Reads `client_ca` (trust anchors, and agency intermediates: CA certificates naming one
    /// agency) and `client_crl`; refuses either when malformed, naming the file.
    pub fn load(client_ca: &Path, client_crl: Option<&Path>) -> anyhow::Result<AgencyTrust> {
        let mut roots = rustls::RootCertStore::empty();
        let mut anchors = Vec::new();
        let mut intermediates = Vec::new();
        for cert in load_certs(client_ca).context("server.client_ca")? {
            if certificate_agencies(&cert).is_empty() {
                roots.add(cert.clone()).map_err(|e| {
                    anyhow!("{}: not a usable CA certificate: {e}", client_ca.display())
                })?;
                anchors.push(cert);
            } else if agency_intermediate(&cert).is_some() {
                intermediates.push(cert);
            } else {
                bail!(
                    "{}: a certificate naming an agency must be a CA with pathlen 0 naming exactly \
                     one agency, to stand as that agency's intermediate",
                    client_ca.display()
                );
            }
        }
        if roots.is_empty() {
            bail!(
                "{}: no CA certificate without an agency name: the partnership CA is needed",
                client_ca.display()
            );
        }
        let roots = Arc::new(roots);
        let hints = roots.subjects();
        let crl = client_crl.map(|path| CrlWatch {
            path: path.to_owned(),
            seen: Mutex::new(Seen {
                stamp: stamp(path).ok(),
            }),
        });
        let crls = match client_crl {
            Some(path) => {
                let crls = load_crls(path)?;
                check_issuers(path, &crls, anchors.iter().chain(&intermediates))?;
                crls
            }
            None => Vec::new(),
        };
        let webpki = build_webpki(&roots, crls).with_context(|| match client_crl {
            Some(path) => format!("server.client_crl: {}", path.display()),
            None => "server.client_ca".to_owned(),
        })?;
        Ok(AgencyTrust {
            roots,
            hints,
            anchors,
            intermediates,
            crl,
            webpki: RwLock::new(webpki),
            reloads: tokio::sync::watch::Sender::new(0),
        })
    }

    fn current(&self) -> Arc<dyn ClientCertVerifier> {
        self.webpki
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the CRL file every second it has changed, until dropped (`serve` runs it).
    pub async fn watch_crl(self: Arc<Self>) {
        if self.crl.is_none() {
            return;
        }
        let mut tick = tokio::time::interval(CRL_CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.refresh();
        }
    }

    /// Resolves at each reload of the CRL file after it is called.
    pub fn reloaded(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reloads.subscribe()
    }

    /// Whether the chain a connection presented (leaf first) would still be taken now.
    pub fn still_trusted(&self, chain: &[CertificateDer<'_>]) -> bool {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return false;
        };
        self.verify_client_cert(leaf, intermediates, UnixTime::now())
            .is_ok()
    }

    /// Re-reads the CRL file when it has changed. A file that has become unreadable or
    /// malformed leaves the last good list in force, logged.
    fn refresh(&self) {
        let Some(watch) = &self.crl else { return };
        let Ok(mut seen) = watch.seen.try_lock() else {
            return;
        };
        let now = stamp(&watch.path).ok();
        if now == seen.stamp {
            return;
        }
        seen.stamp = now;
        let reloaded = load_crls(&watch.path).and_then(|crls| {
            let cas = self.anchors.iter().chain(&self.intermediates);
            check_issuers(&watch.path, &crls, cas)?;
            build_webpki(&self.roots, crls)
        });
        match reloaded {
            Ok(webpki) => {
                *self.webpki.write().unwrap_or_else(|e| e.into_inner()) = webpki;
                self.reloads.send_modify(|n| *n += 1);
                tracing::info!(file = %watch.path.display(), "client certificate revocation list reloaded");
            }
            Err(e) => tracing::error!(
                file = %watch.path.display(),
                error = %crate::text::escape(&format!("{e:#}")),
                "client certificate revocation list not reloaded; the last good one stays in force"
            ),
        }
    }
}

/// The CRLs of a PEM or DER file; refuses an empty or malformed one.
fn load_crls(path: &Path) -> anyhow::Result<Vec<CertificateRevocationListDer<'static>>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("server.client_crl: cannot read {}", path.display()))?;
    let crls = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("server.client_crl: {}: malformed PEM: {e}", path.display()))?
    } else {
        vec![CertificateRevocationListDer::from(bytes)]
    };
    if crls.is_empty() {
        bail!(
            "server.client_crl: {}: no X509 CRL in the file",
            path.display()
        );
    }
    Ok(crls)
}

/// A CRL file none of whose lists is issued by a CA of `client_ca` would revoke nothing: it
/// is the wrong file. A list that cannot be parsed is refused here too.
fn check_issuers<'a>(
    path: &Path,
    crls: &[CertificateRevocationListDer<'_>],
    cas: impl Iterator<Item = &'a CertificateDer<'static>>,
) -> anyhow::Result<()> {
    use x509_parser::prelude::*;
    let subjects: Vec<Vec<u8>> = cas
        .filter_map(|ca| {
            X509Certificate::from_der(ca.as_ref())
                .ok()
                .map(|(_, parsed)| parsed.subject().as_raw().to_vec())
        })
        .collect();
    let mut issued_here = false;
    for crl in crls {
        let (_, parsed) = CertificateRevocationList::from_der(crl.as_ref())
            .map_err(|e| anyhow!("server.client_crl: {}: malformed CRL: {e}", path.display()))?;
        issued_here |= subjects.iter().any(|s| s == parsed.issuer().as_raw());
    }
    if !issued_here {
        bail!(
            "server.client_crl: {}: no list in the file is issued by a CA of server.client_ca, \
             so it would revoke nothing",
            path.display()
        );
    }
    Ok(())
}

fn build_webpki(
    roots: &Arc<rustls::RootCertStore>,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> anyhow::Result<Arc<dyn ClientCertVerifier>> {
    let mut builder = rustls::server::WebPkiClientVerifier::builder(roots.clone());
    if !crls.is_empty() {
        // the file is the partnership's list of certificates cut off, not a complete status
        // service: a certificate whose issuer has no list in it is not revoked
        builder = builder.with_crls(crls).allow_unknown_revocation_status();
    }
    builder
        .build()
        .context("building the client certificate verifier")
}

/// The one agency a CA certificate is named for, when it may issue that agency's leaves:
/// a CA (basic constraints) with pathlen 0 naming exactly one agency.
fn agency_intermediate(cert: &CertificateDer<'_>) -> Option<String> {
    use x509_parser::prelude::*;
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let constraints = parsed.basic_constraints().ok()??;
    if !constraints.value.ca || constraints.value.path_len_constraint != Some(0) {
        return None;
    }
    let mut named = certificate_agencies(cert);
    (named.len() == 1).then(|| named.remove(0))
}

/// The leaf carries the extended key usage extension, and it includes clientAuth (webpki
/// refuses an extension without clientAuth, but accepts a leaf without the extension).
fn has_client_auth(leaf: &CertificateDer<'_>) -> bool {
    use x509_parser::prelude::*;
    let Ok((_, parsed)) = X509Certificate::from_der(leaf.as_ref()) else {
        return false;
    };
    matches!(parsed.extended_key_usage(), Ok(Some(eku)) if eku.value.client_auth)
}

fn is_unknown_issuer(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    )
}

impl ClientCertVerifier for AgencyTrust {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let webpki = self.current();
        // issued by the CA itself: no intermediate is allowed into the path
        let direct = webpki.verify_client_cert(end_entity, &[], now);
        let verified = match direct {
            Ok(v) => v,
            Err(e) if !is_unknown_issuer(&e) => return Err(e),
            Err(unknown) => {
                // or by one intermediate named for the leaf's own agency, and nothing else
                let leaf_agencies = certificate_agencies(end_entity);
                let candidates = self.intermediates.iter().chain(intermediates).filter(|ca| {
                    leaf_agencies.len() == 1
                        && agency_intermediate(ca).as_ref() == leaf_agencies.first()
                });
                let mut outcome = Err(unknown);
                for ca in candidates {
                    match webpki.verify_client_cert(end_entity, std::slice::from_ref(ca), now) {
                        Ok(v) => {
                            outcome = Ok(v);
                            break;
                        }
                        Err(e) if is_unknown_issuer(&e) => {}
                        Err(e) => outcome = Err(e),
                    }
                }
                match outcome {
                    Ok(v) => v,
                    Err(e) if is_unknown_issuer(&e) => {
                        // a chain the CA vouches for through any other intermediate: refused
                        // for what it is, not as an unknown issuer
                        let all: Vec<CertificateDer<'_>> = self
                            .intermediates
                            .iter()
                            .chain(intermediates)
                            .cloned()
                            .collect();
                        return Err(match webpki.verify_client_cert(end_entity, &all, now) {
                            Ok(_) => rustls::Error::InvalidCertificate(
                                CertificateError::ApplicationVerificationFailure,
                            ),
                            Err(e) => e,
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if !has_client_auth(end_entity) {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::InvalidPurpose,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}

/// What a refused handshake was refused for, as the summary line counts it.
pub fn handshake_refusal(e: &std::io::Error) -> &'static str {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return "not_tls";
    };
    match tls {
        rustls::Error::NoCertificatesPresented => "certificate_missing",
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Revoked => "certificate_revoked",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "certificate_usage"
            }
            CertificateError::ApplicationVerificationFailure => "certificate_chain_not_agency",
            CertificateError::UnknownIssuer => "certificate_unknown_issuer",
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate_expired"
            }
            _ => "certificate_invalid",
        },
        _ => "tls",
    }
}
