//! Tamper evidence of the audit log over the real API and a real database: every forgery of
//! the stored chain (an edit, a deletion, an insertion, a reordering, a truncation, list
//! columns overwritten) named at its first bad seq by `GET /v1/audit/verify` and by
//! `broker audit verify` alike.

mod common;

use broker::vocab::Role;
use common::audit::{page as audit_page, seqs};
use common::audited::*;
use common::db::*;
use serde_json::Value;

// ---- tamper evidence -------------------------------------------------------------------------

#[tokio::test]
async fn a_clean_chain_verifies_by_api_and_by_command_with_the_last_hash_as_head() {
    let case = nine_entries().await;
    let last = stored_row(case.db(), case.seq(9)).await;
    let api = case.verify().await;
    assert_eq!(api["ok"], true, "{api}");
    assert_eq!(api["first_bad_seq"], Value::Null, "{api}");
    assert_eq!(api["entries"], case.seq(9), "{api}");
    assert_eq!(api["head_hash"], last.hash.as_str(), "{api}");
    // The command sees the API's own audit.verify entry as the tenth.
    let (status, cli) = verify_command(&case.server).await;
    let tenth = stored_row(case.db(), case.seq(10)).await;
    assert_eq!(tenth.action, "audit.verify");
    assert!(
        status.success(),
        "broker audit verify exited {status}: {cli}"
    );
    assert_eq!(cli["ok"], true, "{cli}");
    assert_eq!(cli["first_bad_seq"], Value::Null, "{cli}");
    assert_eq!(cli["entries"], case.seq(10), "{cli}");
    assert_eq!(cli["head_hash"], tenth.hash.as_str(), "{cli}");
    assert_eq!(head(case.db()).await, (case.seq(10), tenth.hash));
    case.stop().await;
}

/// One test per forgery of a nine-entry chain: `$forge` tampers with the stored entries of
/// `$case` behind the broker's back, and both verifiers then name the case's entry `$bad` as
/// the first bad seq, the API counting the rows up to the case's entry `$entries` (numbers
/// counted from the case's first entry, after what the broker's start recorded).
macro_rules! forgeries {
    ($($(#[$doc:meta])* $name:ident: |$case:ident| $forge:block names $bad:literal of $entries:literal;)*) => {$(
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            let $case = nine_entries().await;
            $forge
            both_verifiers_name(&$case, $case.seq($bad), $case.seq($entries)).await;
            $case.stop().await;
        }
    )*};
}

/// Deletes the entry at `seq` and its record links, as a forger covering a disclosure would.
async fn delete_entry(case: &Case, seq: i64) {
    exec(
        case.db(),
        &format!("DELETE FROM audit_records WHERE seq = {seq}"),
    )
    .await;
    exec(
        case.db(),
        &format!("DELETE FROM audit_log WHERE seq = {seq}"),
    )
    .await;
}

forgeries! {
    an_edited_entry_is_named_by_both_verifiers: |case| {
        let forged = format!("UPDATE audit_log SET purpose = 'court' WHERE seq = {}", case.seq(5));
        exec(case.db(), &forged).await;
    } names 5 of 9;

    a_deleted_entry_is_named_by_both_verifiers: |case| {
        delete_entry(&case, case.seq(5)).await;
    } names 5 of 8;

    /// The forger appends a copy of entry 5 as entry 10 and moves the head to it, so that the
    /// broker keeps appending after the forgery; the copy's prev_hash is not entry 9's hash.
    an_inserted_entry_is_named_by_both_verifiers: |case| {
        let copy = stored_row(case.db(), case.seq(5)).await;
        write_row(case.db(), case.seq(10), &copy, true).await;
        let head = format!(
            "UPDATE audit_head SET seq = {}, hash = '{}' WHERE id = 1",
            case.seq(10),
            copy.hash
        );
        exec(case.db(), &head).await;
    } names 10 of 10;

    two_reordered_entries_are_named_by_both_verifiers: |case| {
        let (five, six) = (case.seq(5), case.seq(6));
        let (fifth, sixth) = (stored_row(case.db(), five).await, stored_row(case.db(), six).await);
        write_row(case.db(), five, &sixth, false).await;
        write_row(case.db(), six, &fifth, false).await;
    } names 5 of 9;

    /// The head still says 9: the missing last entry is named.
    a_truncated_last_entry_is_named_by_both_verifiers: |case| {
        delete_entry(&case, case.seq(9)).await;
    } names 9 of 8;

    /// Entry 5 is a permit, stored with `reasons = '[]'`. Text that is not a JSON list there
    /// (here a reason code as a bare JSON string) is a change to the stored entry, and it shows:
    /// the CSV export prints the column as stored. The export is itself audited: the chain then
    /// has ten entries.
    a_list_column_overwritten_with_text_that_is_not_a_list_is_named_by_both_verifiers: |case| {
        assert_eq!(stored_row(case.db(), case.seq(5)).await.reasons, "[]");
        let forged = format!(
            "UPDATE audit_log SET reasons = '\"consent_not_found\"' WHERE seq = {}",
            case.seq(5)
        );
        exec(case.db(), &forged).await;
        let export = format!("/v1/audit/export.csv?limit={}", case.seq(5));
        let r = get(&case.partnership, &export, &case.ig).await;
        let export = r.text();
        assert!(export.contains("consent_not_found"), "the export shows the forged reason: {export}");
    } names 5 of 10;

    /// The same hole, put to use: an empty `owner_agencies` of the child's registration becomes
    /// a JSON string naming Riverside, and Riverside's IG officer is shown the entry. That query
    /// is itself audited: the chain then has ten entries.
    an_owner_list_overwritten_to_widen_who_sees_an_entry_is_named_by_both_verifiers: |case| {
        let registration = case.seq(1);
        assert_eq!(stored_row(case.db(), registration).await.action, "subject.register");
        assert_eq!(stored_row(case.db(), registration).await.owner_agencies, "[]");
        let forged = format!(
            "UPDATE audit_log SET owner_agencies = '\"school-riverside\"' WHERE seq = {registration}"
        );
        exec(case.db(), &forged).await;
        let riverside = case.server.person("school-riverside", "ig.riverside", Role::IgOfficer);
        let seen = audit_page(&riverside.client, &riverside.token, "limit=1").await;
        let shown = seqs(seen["entries"].as_array().unwrap());
        assert_eq!(shown, vec![registration], "the forged owner lets Riverside see the registration: {seen}");
    } names 1 of 10;
}
