//! Cases in a partnership of two areas (the dev world's `[[areas]]`: Northshire `north` and
//! Southshire `south`), for the area filters of the case list and the timeliness report
//! (PROCESS.md, Places): a case is in an area when its child's home area or the area the child
//! lives in is that area.

use broker::vocab::Role;
use chrono::Duration;
use serde_json::json;

use super::cases::{Caseworker, World, ago};
use super::flows::{born_years_ago, created};
use super::world::Person;

/// Three cases, each referred three days ago with nothing done (so each has its strategy
/// discussion overdue):
/// - `north`: the world's Hillside pupil, of Northshire, led by Northshire's children's social
///   care (`csc`);
/// - `south`: a child of Southshire, led by Southshire's (`csc-south`);
/// - `moved`: a child of Northshire placed in Southshire (looked after, placed by `csc`), led
///   by `csc`: in both areas.
pub struct AreaCases {
    pub w: World,
    pub north: String,
    pub south: String,
    pub moved: String,
    /// Southshire's social worker, who leads `south`.
    pub south_sw: Person,
}

pub async fn area_cases() -> AreaCases {
    let w = World::start().await;
    let referral = ago(Duration::days(3));
    let north = w.opened(&w.child, referral).await;

    let south_sw = w.server.person("csc-south", "sw.south", Role::SocialWorker);
    let child = created(
        &south_sw
            .post(
                "/v1/subjects",
                &json!({"date_of_birth": born_years_ago(12), "local_authority": "south"}),
            )
            .await,
    );
    let south = Caseworker {
        client: &south_sw.client,
        token: &south_sw.token,
    }
    .opened(&child, referral)
    .await;

    let placed = w.another_child().await;
    let r = w
        .social_worker()
        .put(
            &format!("/v1/subjects/{placed}/residence"),
            &json!({"area": "south", "looked_after": true, "placed_by": "csc"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let moved = w.opened(&placed, referral).await;
    AreaCases {
        w,
        north,
        south,
        moved,
        south_sw,
    }
}
