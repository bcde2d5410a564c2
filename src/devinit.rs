//! `broker dev-init` and `broker dev-token`: a ready local world of generated material.
//! Nothing here is fit for production; real agencies bring their own keys and certificates.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::config::Config;
use crate::crypto::{self, DevCa, JwtKeyType};
use crate::vocab::{AgencyKind, Role};

/// One agency of the demo world.
pub struct DevAgency {
    pub id: &'static str,
    pub kind: AgencyKind,
    pub name: &'static str,
    pub key_type: JwtKeyType,
    /// The areas it serves ([`AREAS`]); empty: every area.
    pub areas: &'static [&'static str],
}

/// The demo partnership's two councils (PROCESS.md, Places).
pub const AREAS: &[(&str, &str)] = &[("north", "Northshire"), ("south", "Southshire")];

/// The demo partnership of two councils, Northshire (`north`) and Southshire (`south`): each has
/// its own children's social care, early help and youth offending service; police, health,
/// CAMHS, probation, MAPPA, the HSB service, the children's home and the partnership serve
/// both. Every agency kind, two schools (Hillside in the north, Riverside Academy in the south),
/// and the partnership itself. Most sign tokens with Ed25519; police use P-256 (ES256) and
/// health RSA (RS256), so all three are live.
pub const WORLD: &[DevAgency] = &[
    DevAgency {
        id: "csc",
        kind: AgencyKind::ChildrenSocialCare,
        name: "Northshire Children's Social Care",
        areas: &["north"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "early-help",
        kind: AgencyKind::EarlyHelp,
        name: "Northshire Early Help",
        areas: &["north"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "police",
        kind: AgencyKind::Police,
        name: "Northshire Police",
        areas: &[],
        key_type: JwtKeyType::P256,
    },
    DevAgency {
        id: "school-hillside",
        kind: AgencyKind::School,
        name: "Hillside Primary School",
        areas: &["north"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "school-riverside",
        kind: AgencyKind::School,
        name: "Riverside Academy",
        areas: &["south"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "health",
        kind: AgencyKind::Health,
        name: "Northshire Community Health",
        areas: &[],
        key_type: JwtKeyType::Rsa2048,
    },
    DevAgency {
        id: "camhs",
        kind: AgencyKind::Camhs,
        name: "Northshire CAMHS",
        areas: &[],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "yos",
        kind: AgencyKind::YouthOffending,
        name: "Northshire Youth Offending Service",
        areas: &["north"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "csc-south",
        kind: AgencyKind::ChildrenSocialCare,
        name: "Southshire Children's Social Care",
        areas: &["south"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "early-help-south",
        kind: AgencyKind::EarlyHelp,
        name: "Southshire Early Help",
        areas: &["south"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "yos-south",
        kind: AgencyKind::YouthOffending,
        name: "Southshire Youth Offending Service",
        areas: &["south"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "probation",
        kind: AgencyKind::Probation,
        name: "Northshire Probation",
        areas: &[],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "hsb-service",
        kind: AgencyKind::HsbService,
        name: "Turning Point HSB Service",
        areas: &[],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "fostering",
        kind: AgencyKind::Fostering,
        name: "Northshire Fostering",
        areas: &["north"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "residential",
        kind: AgencyKind::Residential,
        name: "Oakwood Children's Home",
        areas: &[],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "mappa",
        kind: AgencyKind::Mappa,
        name: "Northshire MAPPA",
        areas: &[],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "adult-social-care",
        kind: AgencyKind::AdultSocialCare,
        name: "Northshire Adult Social Care",
        areas: &["north"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "education-services",
        kind: AgencyKind::EducationServices,
        name: "Northshire Education Psychology and Welfare Service",
        areas: &["north"],
        key_type: JwtKeyType::Ed25519,
    },
    DevAgency {
        id: "partnership",
        kind: AgencyKind::Partnership,
        name: "Northshire Safeguarding Partnership",
        areas: &[],
        key_type: JwtKeyType::Ed25519,
    },
];

/// Where `dev-init` put things.
#[derive(Debug, Clone)]
pub struct DevWorld {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub certs: PathBuf,
}

impl DevWorld {
    pub fn ca(&self) -> PathBuf {
        self.certs.join("ca.pem")
    }
    pub fn client_cert(&self, agency: &str) -> PathBuf {
        self.certs.join(format!("{agency}.pem"))
    }
    pub fn client_key(&self, agency: &str) -> PathBuf {
        self.certs.join(format!("{agency}.key"))
    }
    pub fn age_identity(&self, agency: &str) -> PathBuf {
        self.certs.join(format!("{agency}.age"))
    }
    /// The agency's client certificate, key and the CA as PKCS#12, for importing into a
    /// browser (password [`crypto::DEV_P12_PASSWORD`]).
    pub fn client_p12(&self, agency: &str) -> PathBuf {
        self.certs.join(format!("{agency}.p12"))
    }
}

/// The private JWT key beside a public one (`x.jwt.pub.pem` → `x.jwt.pem`).
pub fn private_key_for(public: &Path) -> PathBuf {
    let name = public.file_name().unwrap_or_default().to_string_lossy();
    public.with_file_name(name.replace(".pub.pem", ".pem"))
}

/// Writes a CA, a server certificate for localhost, and for every agency of [`WORLD`] a client
/// certificate (also as a `.p12` for a browser), a JWT key pair and an `age` identity; the broker's at-rest identity and the
/// audit log's signing key (`audit-log.key`); and a
/// `broker.toml` naming them all. `listen` and `database_url` go into the configuration.
pub fn dev_init(
    dir: &Path,
    force: bool,
    listen: &str,
    database_url: &str,
) -> anyhow::Result<DevWorld> {
    let config_path = dir.join("broker.toml");
    if config_path.exists() && !force {
        bail!(
            "{} already exists; pass --force to replace the dev world",
            config_path.display()
        );
    }
    let certs = dir.join("certs").join("dev");
    std::fs::create_dir_all(&certs).with_context(|| format!("creating {}", certs.display()))?;
    let ca = DevCa::generate("Broker dev CA")?;
    std::fs::write(certs.join("ca.pem"), &ca.cert_pem)?;
    crypto::write_secret(&certs.join("ca.key"), &ca.key_pem)?;
    let server = ca.server_cert(&["localhost", "127.0.0.1", "::1"])?;
    std::fs::write(certs.join("server.pem"), &server.cert_pem)?;
    crypto::write_secret(&certs.join("server.key"), &server.key_pem)?;
    let (at_rest, _) = crypto::generate_age_identity();
    crypto::write_secret(&certs.join("broker-at-rest.age"), &at_rest)?;
    crypto::write_secret(&certs.join("audit-log.key"), &crypto::generate_log_key()?)?;

    let mut toml = String::new();
    writeln!(
        toml,
        "# Generated by `broker dev-init`: a local demo world. Not for production.\n\
         [server]\nlisten = \"{listen}\"\ntls_cert = \"certs/dev/server.pem\"\n\
         tls_key = \"certs/dev/server.key\"\nclient_ca = \"certs/dev/ca.pem\"\n\
         audience = \"urn:broker\"\nmax_body_bytes = 1048576\n\n\
         [database]\nurl = \"{database_url}\"\n\n\
         [storage]\nage_identity = \"certs/dev/broker-at-rest.age\"\n\n\
         # the key that signs the audit log's checkpoints; agencies keep its verifier key\n\
         # (`broker audit log-key`). origin, unset, is this broker's address then /audit.\n\
         [audit]\nlog_key = \"certs/dev/audit-log.key\"\ncheckpoint_interval_seconds = 300\n\n\
         # the All Wales timescales (policies/timescales/wales.csv; \"england\" for Camden and LLR's)\n\
         [process]\ntimescales = \"wales\"\n"
    )?;
    // the console's dev sign-in, which the broker refuses unless it listens on loopback
    if listen
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback())
    {
        toml.push_str(
            "\n# DEV ONLY: sign in to the console (/ui/) as anyone, without an identity provider\n\
             [console]\ndev_sign_in = true\n",
        );
    }
    // the Prometheus scrape endpoint, plain HTTP on loopback (an ephemeral port for a world
    // whose broker listens on one, as the tests' do)
    let metrics = if listen.ends_with(":0") {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:9464"
    };
    writeln!(
        toml,
        "\n# Prometheus metrics: GET http://{metrics}/metrics (counts only, no child or person)\n\
         [metrics]\nlisten = \"{metrics}\"\n"
    )?;
    for (id, name) in AREAS {
        writeln!(toml, "[[areas]]\nid = \"{id}\"\nname = \"{name}\"\n")?;
    }
    for agency in WORLD {
        let client = ca.client_cert(agency.name, Some(agency.id))?;
        std::fs::write(certs.join(format!("{}.pem", agency.id)), &client.cert_pem)?;
        crypto::write_secret(&certs.join(format!("{}.key", agency.id)), &client.key_pem)?;
        let p12 = crypto::pkcs12(
            agency.name,
            &client.cert_pem,
            &client.key_pem,
            &ca.cert_pem,
            crypto::DEV_P12_PASSWORD,
        )
        .with_context(|| format!("the .p12 of {}", agency.id))?;
        crypto::write_secret(&certs.join(format!("{}.p12", agency.id)), p12)?;
        let (private, public) = crypto::generate_jwt_keypair(agency.key_type)?;
        crypto::write_secret(&certs.join(format!("{}.jwt.pem", agency.id)), &private)?;
        std::fs::write(certs.join(format!("{}.jwt.pub.pem", agency.id)), &public)?;
        let (identity, recipient) = crypto::generate_age_identity();
        crypto::write_secret(&certs.join(format!("{}.age", agency.id)), &identity)?;
        writeln!(
            toml,
            "[[agencies]]\nid = \"{id}\"\nkind = \"{kind}\"\nname = \"{name}\"\n\
             jwt_issuer = \"https://idp.{id}.example\"\n\
             jwt_public_key = \"certs/dev/{id}.jwt.pub.pem\"\nage_recipient = \"{recipient}\"{areas}\n",
            id = agency.id,
            kind = agency.kind,
            name = agency.name,
            areas = if agency.areas.is_empty() {
                String::new()
            } else {
                format!("\nareas = {:?}", agency.areas)
            },
        )?;
    }
    std::fs::write(&config_path, toml)?;
    Ok(DevWorld {
        dir: dir.to_owned(),
        config: config_path,
        certs,
    })
}

#[derive(Serialize)]
struct TokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    agency: &'a str,
    roles: Vec<&'a str>,
    iat: i64,
    exp: i64,
}

/// A JWT for a person of a configured agency, signed with its dev private key.
pub fn dev_token(
    config: &Config,
    agency: &str,
    sub: &str,
    roles: &[Role],
    ttl: Duration,
) -> anyhow::Result<String> {
    let a = config
        .agency(agency)
        .with_context(|| format!("no agency \"{agency}\" in the configuration"))?;
    for role in roles {
        if !role.valid_for(a.kind) {
            bail!("a {} agency cannot hold the role {role}", a.kind);
        }
    }
    let max = config.server.max_token_lifetime_secs;
    if ttl.as_secs() > max {
        bail!(
            "a ttl of {} s is longer than the broker accepts (server.max_token_lifetime_secs = {max})",
            ttl.as_secs()
        );
    }
    let public = a.jwt_public_key.as_ref().with_context(|| {
        format!("agency \"{agency}\" has no jwt_public_key whose dev private key signs")
    })?;
    let (algorithm, key) = crypto::load_jwt_signing_key(&private_key_for(public))?;
    let now = chrono::Utc::now().timestamp();
    let claims = TokenClaims {
        iss: &a.jwt_issuer,
        aud: &config.server.audience,
        sub,
        agency,
        roles: roles.iter().map(|r| r.as_str()).collect(),
        iat: now,
        exp: now + ttl.as_secs() as i64,
    };
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &claims,
        &key,
    )?)
}

/// Parses `90s`, `15m`, `1h`, `2d` (or bare seconds).
pub fn parse_ttl(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .with_context(|| format!("\"{text}\" is not a duration like 1h"))?;
    let seconds = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("\"{text}\": the unit must be s, m, h or d"),
    };
    Ok(Duration::from_secs(seconds))
}
