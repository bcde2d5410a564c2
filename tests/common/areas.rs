//! Cases in a partnership of two areas (the dev world's `[[areas]]`: Northshire `north` and
//! Southshire `south`), for the area filters of the case list and the timeliness report
//! (PROCESS.md, Places): a case is in an area when its child's home area or the area the child
//! lives in is that area.

use broker::vocab::Role;
use chrono::Duration;
use serde_json::json;

use super::TestServer;
use super::cases::{Caseworker, World, ago};
use super::flows::{born_years_ago, created};
use super::world::Person;

/// Three cases, each referred three days ago with nothing done (so each has its strategy
/// discussion overdue):
/// - `north`: a Hillside pupil of Northshire, led by Northshire's children's social care
///   (`csc`, its social worker `sw.amara`);
/// - `south`: a child of Southshire, led by Southshire's (`csc-south`, `sw.south`);
/// - `moved`: a child of Northshire placed in Southshire (looked after, placed by `csc`), led
///   by `csc`: in both areas.
pub struct AreaCases {
    pub north: String,
    pub south: String,
    pub moved: String,
    /// Southshire's social worker, who leads `south`.
    pub south_sw: Person,
}

/// Opens the three [`AreaCases`] on `server`.
pub async fn open_area_cases(server: &TestServer) -> AreaCases {
    let referral = ago(Duration::days(3));
    let sw = server.social_worker();
    let north_sw = Caseworker {
        client: &sw.client,
        token: &sw.token,
    };
    let child = sw.register(10, Some("school-hillside")).await;
    let north = north_sw.opened(&child, referral).await;

    let south_sw = server.person("csc-south", "sw.south", Role::SocialWorker);
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

    let placed = sw.register(10, Some("school-hillside")).await;
    let r = sw
        .put(
            &format!("/v1/subjects/{placed}/residence"),
            &json!({"area": "south", "looked_after": true, "placed_by": "csc"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let moved = north_sw.opened(&placed, referral).await;
    AreaCases {
        north,
        south,
        moved,
        south_sw,
    }
}

/// A [`World`] whose only cases are the three [`AreaCases`].
pub async fn area_cases() -> (World, AreaCases) {
    let w = World::start().await;
    let cases = open_area_cases(&w.server).await;
    (w, cases)
}
