//! Duties to notify (PROCESS.md, Duties to notify; `policies/duties.csv`): which step of a
//! case obliges whom to be told, for what purpose, on what basis. Parsing and who the
//! recipients are is pure, so `broker policy test` checks an edited file without a server
//! (`policies/tests/duties/*.json`); carrying a duty out is a notification-view disclosure
//! through the one decision function (`decide`, with `RequestFacts::notification`), or, for a
//! record trigger marked `+content` (a concern, PROCESS.md P2), the deposited record itself in
//! the sections `decide` releases to the recipient.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::clocks::FileProblem;
use crate::vocab::{AgencyKind, Basis, EventKind, Purpose, RecordKind, Role, SubjectRole};

/// What sets a duty off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A case is opened (children's social care becomes involved).
    CaseOpened,
    /// An event of this kind is recorded on a case.
    Event(EventKind),
    /// Any event recorded on a case (`event:*`: keeping an agency updated).
    AnyEvent,
    /// A record of this kind is deposited about a child (with a case open or not).
    Record(RecordKind),
    /// A meeting of a case is scheduled (PROCESS.md, Meetings): its invitees are told.
    MeetingScheduled,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::CaseOpened => f.write_str("case_opened"),
            Trigger::Event(k) => write!(f, "event:{k}"),
            Trigger::AnyEvent => f.write_str("event:*"),
            Trigger::Record(k) => write!(f, "record:{k}"),
            Trigger::MeetingScheduled => f.write_str("meeting_scheduled"),
        }
    }
}

impl Trigger {
    /// A trigger, and for `record:<kind>:<subject role>` the one subject role it is limited
    /// to (a MERLIN notice about a young person whose behaviour brought them to notice, not
    /// about a victim).
    fn parse_limited(text: &str) -> Result<(Trigger, Option<SubjectRole>), String> {
        if let Some(rest) = text.strip_prefix("record:")
            && let Some((kind, role)) = rest.split_once(':')
        {
            let kind = kind
                .parse()
                .map_err(|e: crate::vocab::UnknownTerm| e.to_string())?;
            let role = role
                .parse()
                .map_err(|e: crate::vocab::UnknownTerm| e.to_string())?;
            return Ok((Trigger::Record(kind), Some(role)));
        }
        Trigger::parse(text).map(|t| (t, None))
    }

    fn parse(text: &str) -> Result<Trigger, String> {
        if text == "case_opened" {
            return Ok(Trigger::CaseOpened);
        }
        if text == "event:*" {
            return Ok(Trigger::AnyEvent);
        }
        if text == "meeting_scheduled" {
            return Ok(Trigger::MeetingScheduled);
        }
        if let Some(k) = text.strip_prefix("event:") {
            return k.parse().map(Trigger::Event).map_err(|e| e.to_string());
        }
        if let Some(k) = text.strip_prefix("record:") {
            return k.parse().map(Trigger::Record).map_err(|e| e.to_string());
        }
        Err(format!(
            "unknown trigger \"{text}\" (expected case_opened, event:<event kind>, event:*, record:<record kind>, record:<record kind>:<subject role> or meeting_scheduled)"
        ))
    }
}

impl Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Trigger::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Who is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// The child's recorded school.
    ChildsSchool,
    /// Every agency that has received a disclosure about the child.
    PreviousRecipients,
    /// The agencies of this kind serving the child's areas (RULES 10.1, PROCESS.md P1).
    Kind(AgencyKind, Within),
    /// The lead worker of the child's open case (PROCESS.md P2), addressed to its `lead_sub`.
    CaseLead,
    /// The agency that placed a looked-after child (its home authority's children's social
    /// care, PROCESS.md P3); nobody for a child not looked after.
    PlacingAuthority,
    /// The agencies involved in the child's open case besides its lead (PROCESS.md P3).
    InvolvedAgencies,
    /// The agencies invited to the meeting just scheduled (PROCESS.md, Meetings).
    Invitees,
}

/// Which of the child's areas a `kind:` recipient must serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// `kind:<k>`: the child's home area or the area it lives in.
    EitherArea,
    /// `kind:<k>@home`: the home area (the authority responsible for the child).
    Home,
    /// `kind:<k>@current`: the area the child lives in (its home area unless it lives elsewhere).
    Current,
}

impl Recipients {
    fn parse(text: &str) -> Result<Recipients, String> {
        match text {
            "childs_school" => Ok(Recipients::ChildsSchool),
            "previous_recipients" => Ok(Recipients::PreviousRecipients),
            "case_lead" => Ok(Recipients::CaseLead),
            "placing_authority" => Ok(Recipients::PlacingAuthority),
            "involved_agencies" => Ok(Recipients::InvolvedAgencies),
            "invitees" => Ok(Recipients::Invitees),
            _ => match text.strip_prefix("kind:") {
                Some(k) => {
                    let (k, within) = match k.split_once('@') {
                        None => (k, Within::EitherArea),
                        Some((k, "home")) => (k, Within::Home),
                        Some((k, "current")) => (k, Within::Current),
                        Some((_, other)) => {
                            return Err(format!(
                                "unknown area \"@{other}\" in \"{text}\" (expected kind:<agency kind>, kind:<agency kind>@home or kind:<agency kind>@current)"
                            ));
                        }
                    };
                    k.parse()
                        .map(|k| Recipients::Kind(k, within))
                        .map_err(|e: crate::vocab::UnknownTerm| e.to_string())
                }
                None => Err(format!(
                    "unknown recipients \"{text}\" (expected childs_school, previous_recipients, case_lead, placing_authority, involved_agencies, invitees or kind:<agency kind>[@home|@current])"
                )),
            },
        }
    }
}

/// One row of `duties.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duty {
    pub duty: String,
    pub trigger: Trigger,
    /// A record trigger limited to records about a child in this role (`record:<kind>:<role>`).
    pub subject_role: Option<SubjectRole>,
    /// Who is told: the first of these alternatives that names anyone
    /// (`case_lead|kind:children_social_care@current`: the lead worker of the open case, or with
    /// none, the front door of the area the child lives in).
    pub recipients: Vec<Recipients>,
    /// The role the notification is addressed to (`-`: the agency as a whole, or for
    /// previous recipients the role they received as).
    pub role: Option<Role>,
    pub purpose: Purpose,
    pub basis: Basis,
    pub legal_reference: String,
    /// `+content` after a record trigger: the duty delivers the record itself (the sections
    /// `decide` releases to the recipient), not a notification that it was deposited (a
    /// concern must reach someone with its content, PROCESS.md P2).
    pub delivers_record: bool,
}

impl Duty {
    /// Does `trigger` set this duty off?
    pub fn fires_on(&self, trigger: Trigger) -> bool {
        self.trigger == trigger
            || (self.trigger == Trigger::AnyEvent && matches!(trigger, Trigger::Event(_)))
    }

    /// Parses `duty, trigger, recipients, role, purpose, basis, legal_reference` rows (`#`
    /// comments and blank lines skipped). The legal reference is the rest of the line, so it
    /// may hold commas.
    pub fn parse_all(text: &str) -> Result<Vec<Duty>, FileProblem> {
        let mut out: Vec<Duty> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = |m: String| FileProblem {
                line: Some(i + 1),
                message: m,
            };
            let fields: Vec<&str> = line.splitn(7, ',').map(str::trim).collect();
            let [duty, trigger, recipients, role, purpose, basis, legal] = fields[..] else {
                return Err(at(format!(
                    "expected 7 columns (duty, trigger, recipients, role, purpose, basis, legal_reference), found {}",
                    fields.len()
                )));
            };
            if duty.is_empty() || !duty.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(at(format!("duty name \"{duty}\" is not lower_snake_case")));
            }
            if legal.is_empty() {
                return Err(at(format!("duty {duty} has no legal reference")));
            }
            if out.iter().any(|d| d.duty == duty) {
                return Err(at(format!("duty {duty} is listed twice")));
            }
            let (trigger, delivers_record) = match trigger.strip_suffix("+content") {
                Some(t) => (t.trim_end(), true),
                None => (trigger, false),
            };
            let (trigger, subject_role) = Trigger::parse_limited(trigger).map_err(at)?;
            if delivers_record && !matches!(trigger, Trigger::Record(_)) {
                return Err(at(format!(
                    "duty {duty}: only a record trigger (record:<record kind>+content) can deliver its record"
                )));
            }
            out.push(Duty {
                duty: duty.to_owned(),
                trigger,
                subject_role,
                recipients: recipients
                    .split('|')
                    .map(|r| Recipients::parse(r.trim()))
                    .collect::<Result<_, _>>()
                    .map_err(at)?,
                role: match role {
                    "-" => None,
                    r => Some(
                        r.parse()
                            .map_err(|e: crate::vocab::UnknownTerm| at(e.to_string()))?,
                    ),
                },
                purpose: purpose
                    .parse()
                    .map_err(|e: crate::vocab::UnknownTerm| at(e.to_string()))?,
                basis: basis
                    .parse()
                    .map_err(|e: crate::vocab::UnknownTerm| at(e.to_string()))?,
                legal_reference: legal.to_owned(),
                delivers_record,
            });
        }
        Ok(out)
    }
}

/// An agency that may be told, as the broker knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    pub agency: String,
    pub kind: AgencyKind,
    /// The areas it serves; absent: every area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub areas: Option<Vec<String>>,
}

impl Known {
    fn serves(&self, area: Option<&str>) -> bool {
        match &self.areas {
            None => true,
            Some(served) => area.is_some_and(|a| served.iter().any(|s| s == a)),
        }
    }
}

/// The lead of the child's open case: its agency and lead worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseLead {
    pub agency: String,
    pub sub: String,
}

/// What the broker knows when a duty falls due: the child's recorded school, the agencies
/// (and roles) that have received a disclosure about the child, every configured agency,
/// the child's areas, the lead of its open case, and the agency acting (never told of its
/// own step).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub school: Option<String>,
    #[serde(default)]
    pub previous_recipients: Vec<(String, Option<Role>)>,
    pub agencies: Vec<Known>,
    pub acting_agency: String,
    /// For a record trigger: the role the record gives the child.
    #[serde(default)]
    pub subject_role: Option<SubjectRole>,
    /// The child's home area (PROCESS.md, Places); with areas configured, an agency limited to
    /// areas is told only about a child of an area it serves.
    #[serde(default)]
    pub home_area: Option<String>,
    /// The area the child lives in when it is not the home area.
    #[serde(default)]
    pub current_area: Option<String>,
    /// The lead of the child's open case, if one is open.
    #[serde(default)]
    pub case_lead: Option<CaseLead>,
    /// For a looked-after child, the agency that placed it (PROCESS.md P3).
    #[serde(default)]
    pub placed_by: Option<String>,
    /// The agencies involved in the child's open case besides its lead (PROCESS.md P3).
    #[serde(default)]
    pub involved: Vec<String>,
    /// For a meeting scheduled: the agencies invited to it, in the order given.
    #[serde(default)]
    pub invitees: Vec<String>,
}

impl World {
    /// The area the child lives in: its residence, else its home area.
    fn current(&self) -> Option<&str> {
        self.current_area.as_deref().or(self.home_area.as_deref())
    }

    fn serves(&self, agency: &Known, within: Within) -> bool {
        match within {
            Within::Home => agency.serves(self.home_area.as_deref()),
            Within::Current => agency.serves(self.current()),
            Within::EitherArea => {
                agency.serves(self.home_area.as_deref()) || agency.serves(self.current())
            }
        }
    }
}

/// One notification to send: the duty and its addressee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Planned {
    pub duty: String,
    pub agency: String,
    pub kind: AgencyKind,
    #[serde(default)]
    pub role: Option<Role>,
    /// The person addressed (the case's lead worker, for `case_lead`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// Whom one alternative of a duty's recipients names: agency, role, person.
fn addressees(
    recipients: Recipients,
    role: Option<Role>,
    world: &World,
) -> Vec<(String, Option<Role>, Option<String>)> {
    match recipients {
        Recipients::ChildsSchool => world
            .school
            .iter()
            .map(|s| (s.clone(), role, None))
            .collect(),
        Recipients::PreviousRecipients => world
            .previous_recipients
            .iter()
            .map(|(a, r)| (a.clone(), role.or(*r), None))
            .collect(),
        Recipients::Kind(k, within) => world
            .agencies
            .iter()
            .filter(|a| a.kind == k && world.serves(a, within))
            .map(|a| (a.agency.clone(), role, None))
            .collect(),
        // the lead worker by name, whatever their role (a team manager may lead a case): the
        // role column addresses the front door or an agency, not a named person
        Recipients::CaseLead => world
            .case_lead
            .iter()
            .map(|l| (l.agency.clone(), None, Some(l.sub.clone())))
            .collect(),
        Recipients::PlacingAuthority => world
            .placed_by
            .iter()
            .map(|a| (a.clone(), role, None))
            .collect(),
        Recipients::InvolvedAgencies => world
            .involved
            .iter()
            .map(|a| (a.clone(), role, None))
            .collect(),
        Recipients::Invitees => world
            .invitees
            .iter()
            .map(|a| (a.clone(), role, None))
            .collect(),
    }
}

/// The notifications `trigger` obliges, in file order, each agency told once (by the first
/// duty that names it: one step, one notice).
pub fn plan(duties: &[Duty], trigger: Trigger, world: &World) -> Vec<Planned> {
    let kind_of = |agency: &str| {
        world
            .agencies
            .iter()
            .find(|a| a.agency == agency)
            .map(|a| a.kind)
    };
    let mut out: Vec<Planned> = Vec::new();
    let applies = |d: &&Duty| {
        d.fires_on(trigger)
            && d.subject_role
                .is_none_or(|role| world.subject_role == Some(role))
    };
    for d in duties.iter().filter(applies) {
        let addressees = d
            .recipients
            .iter()
            .map(|r| addressees(*r, d.role, world))
            .find(|named| !named.is_empty())
            .unwrap_or_default();
        for (agency, role, sub) in addressees {
            let Some(kind) = kind_of(&agency) else {
                continue; // an agency no longer configured cannot be told
            };
            if agency == world.acting_agency || out.iter().any(|p| p.agency == agency) {
                continue;
            }
            out.push(Planned {
                duty: d.duty.clone(),
                agency,
                kind,
                role,
                sub,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_duties_parse() {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/duties.csv"));
        let duties = Duty::parse_all(text).unwrap();
        assert!(duties.iter().any(|d| d.trigger == Trigger::CaseOpened));
        assert!(duties.iter().all(|d| !d.legal_reference.is_empty()));
        // a concern delivers its record; a notice of a step does not
        let concern = duties
            .iter()
            .find(|d| d.duty == "concern_referral")
            .unwrap();
        assert!(concern.delivers_record);
        assert_eq!(concern.trigger, Trigger::Record(RecordKind::Referral));
        assert_eq!(
            concern.recipients,
            [
                Recipients::CaseLead,
                Recipients::Kind(AgencyKind::ChildrenSocialCare, Within::Current),
                Recipients::Kind(AgencyKind::ChildrenSocialCare, Within::Home)
            ]
        );
        assert!(duties.iter().any(|d| !d.delivers_record));
    }

    #[test]
    fn only_a_record_trigger_delivers_its_record() {
        let err = Duty::parse_all(
            "x, case_opened+content, childs_school, dsl, safeguarding, legal_obligation, r\n",
        )
        .unwrap_err();
        assert!(err.message.contains("only a record trigger"), "{err}");
        let ok = Duty::parse_all("x, record:referral:victim+content, childs_school, dsl, safeguarding, legal_obligation, r\n")
            .unwrap();
        assert!(ok[0].delivers_record);
        assert_eq!(ok[0].subject_role, Some(SubjectRole::Victim));
    }

    #[test]
    fn a_bad_row_names_its_line_and_problem() {
        let err =
            Duty::parse_all("# c\nx, case_opened, childs_school, dsl, safeguarding\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("expected 7 columns"), "{err}");
        let err = Duty::parse_all("x, event:tea, childs_school, dsl, safeguarding, consent, r\n")
            .unwrap_err();
        assert!(err.message.contains("unknown event kind \"tea\""), "{err}");
        let err =
            Duty::parse_all("x, case_opened, everyone, -, safeguarding, consent, r\n").unwrap_err();
        assert!(err.message.contains("unknown recipients"), "{err}");
    }

    #[test]
    fn the_acting_agency_is_not_told_and_each_agency_once_per_step() {
        let duties = Duty::parse_all(
            "a, case_opened, previous_recipients, -, safeguarding, legal_obligation, r\n\
             b, case_opened, kind:police, police_officer, safeguarding, legal_obligation, r\n",
        )
        .unwrap();
        let world = World {
            school: None,
            previous_recipients: vec![
                ("csc".into(), None),
                ("police".into(), Some(Role::PoliceOfficer)),
                ("police".into(), None),
                ("gone".into(), None),
            ],
            agencies: vec![
                Known {
                    agency: "csc".into(),
                    kind: AgencyKind::ChildrenSocialCare,
                    areas: None,
                },
                Known {
                    agency: "police".into(),
                    kind: AgencyKind::Police,
                    areas: None,
                },
            ],
            acting_agency: "csc".into(),
            subject_role: None,
            ..World::default()
        };
        let plan = plan(&duties, Trigger::CaseOpened, &world);
        let got: Vec<(&str, &str)> = plan
            .iter()
            .map(|p| (p.duty.as_str(), p.agency.as_str()))
            .collect();
        assert_eq!(got, [("a", "police")], "told once, by the first duty");
        assert_eq!(
            plan[0].role,
            Some(Role::PoliceOfficer),
            "as they received before"
        );
    }

    #[test]
    fn a_record_trigger_limited_to_a_subject_role_applies_to_that_role_only() {
        let duties = Duty::parse_all(
            "m, record:police_notification:harmful_behaviour, kind:youth_offending, yos_worker, safeguarding, legal_obligation, r\n\
             c, record:police_notification, kind:children_social_care, social_worker, safeguarding, legal_obligation, r\n",
        )
        .unwrap();
        assert_eq!(duties[0].subject_role, Some(SubjectRole::HarmfulBehaviour));
        assert_eq!(duties[1].subject_role, None);
        let told = |role| {
            let world = World {
                agencies: vec![
                    Known {
                        agency: "yos".into(),
                        kind: AgencyKind::YouthOffending,
                        areas: None,
                    },
                    Known {
                        agency: "csc".into(),
                        kind: AgencyKind::ChildrenSocialCare,
                        areas: None,
                    },
                ],
                acting_agency: "police".into(),
                subject_role: Some(role),
                ..World::default()
            };
            plan(
                &duties,
                Trigger::Record(RecordKind::PoliceNotification),
                &world,
            )
            .into_iter()
            .map(|p| p.duty)
            .collect::<Vec<_>>()
        };
        assert_eq!(told(SubjectRole::HarmfulBehaviour), ["m", "c"]);
        assert_eq!(told(SubjectRole::Victim), ["c"]);
        let bad = Duty::parse_all(
            "m, record:police_notification:bystander, kind:police, -, safeguarding, legal_obligation, r\n",
        )
        .unwrap_err();
        assert!(bad.message.contains("bystander"), "{}", bad.message);
    }

    /// RULES 10.1, PROCESS.md P1: no shipped duty row whose recipients are chosen by kind or by
    /// the child's case reaches an agency outside the child's areas. Over worlds of two and
    /// three areas (the child's home and current area each of them; agencies of every kind
    /// limited to one area, to two, or serving all), for every trigger of the shipped
    /// `duties.csv` and every subject role, each agency planned serves the child's home or
    /// current area, or every area. `previous_recipients` and `childs_school` are not chosen by
    /// area (an agency that has already received about the child, each of those disclosures
    /// decided under 10.1; the child's recorded school, reached by 4.3 d), so the worlds hold
    /// none; the case's lead, the placing authority and the involved agencies are the
    /// children's social care of one of the child's areas, as the broker records them.
    #[test]
    fn no_shipped_duty_chosen_by_kind_or_case_reaches_an_agency_outside_the_childs_areas() {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/duties.csv"));
        let duties = Duty::parse_all(text).unwrap();
        let triggers: Vec<Trigger> = duties
            .iter()
            .map(|d| d.trigger)
            .chain([Trigger::Event(EventKind::ALL[0])])
            .collect();
        let mut checked = 0;
        for areas in [&["a", "b"][..], &["a", "b", "c"][..]] {
            let mut agencies = Vec::new();
            for kind in AgencyKind::ALL {
                for (i, area) in areas.iter().enumerate() {
                    agencies.push(Known {
                        agency: format!("{kind}-{area}"),
                        kind: *kind,
                        areas: Some(vec![area.to_string()]),
                    });
                    let next = areas[(i + 1) % areas.len()];
                    agencies.push(Known {
                        agency: format!("{kind}-{area}-{next}"),
                        kind: *kind,
                        areas: Some(vec![area.to_string(), next.to_string()]),
                    });
                }
                agencies.push(Known {
                    agency: format!("{kind}-all"),
                    kind: *kind,
                    areas: None,
                });
            }
            let csc = |area: &str| format!("children_social_care-{area}");
            for home in areas {
                for current in areas.iter().map(Some).chain([None]) {
                    let lives = current.copied().unwrap_or(home);
                    let leads = [None, Some(csc(home)), Some(csc(lives))];
                    let cases = leads
                        .iter()
                        .flat_map(|l| SubjectRole::ALL.iter().map(move |r| (l, *r)));
                    for ((lead, role), trigger) in
                        cases.flat_map(|lr| triggers.iter().map(move |t| (lr, *t)))
                    {
                        let world = World {
                            agencies: agencies.clone(),
                            acting_agency: "police-all".into(),
                            subject_role: Some(role),
                            home_area: Some(home.to_string()),
                            current_area: current.map(|c| c.to_string()),
                            case_lead: lead.clone().map(|agency| CaseLead {
                                agency,
                                sub: "lead.worker".into(),
                            }),
                            placed_by: current.map(|_| csc(home)),
                            involved: vec![csc(lives)],
                            ..World::default()
                        };
                        for p in plan(&duties, trigger, &world) {
                            let known = agencies.iter().find(|a| a.agency == p.agency).unwrap();
                            assert!(
                                known.serves(Some(home)) || known.serves(Some(lives)),
                                "{} ({trigger}) reached {} serving {:?}; the child's home is \
                                 {home}, it lives in {lives}",
                                p.duty,
                                p.agency,
                                known.areas
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100, "the worlds reach someone: {checked}");
    }
}
