//! Policy directories as an IG officer would prepare them (the shipped files and scenario
//! suite, then an edit), `broker policy reload` run as a process, and the policy version a
//! broker reports (`GET /v1/policy`, `/v1/policy/versions`).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::processes::broker_command;
use super::world::Person;

/// Copies `from` into `to`, folders included.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("making a directory");
    for entry in std::fs::read_dir(from).expect("reading a directory") {
        let path = entry.expect("a directory entry").path();
        let target = to.join(path.file_name().expect("a file name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copying a file");
        }
    }
}

/// `root/name`: the shipped policy with its scenario suite (`tests/`), changed by `edit`.
pub fn policy_dir(root: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = root.join(name);
    broker::decision::policy::Files::embedded()
        .write_to(&dir)
        .expect("writing the policy");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/tests"),
        &dir.join("tests"),
    );
    edit(&dir);
    dir
}

/// Replaces `old` with `new` in `dir/file`, which must hold it.
pub fn edit_file(dir: &Path, file: &str, old: &str, new: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("reading a policy file");
    assert!(text.contains(old), "{file} holds no {old:?}");
    std::fs::write(&path, text.replacen(old, new, 1)).expect("writing a policy file");
}

/// A row with a role no vocabulary knows: the policy does not load.
pub fn break_actions(dir: &Path) {
    let path = dir.join("actions.csv");
    let mut text = std::fs::read_to_string(&path).expect("reading actions.csv");
    text.push_str("p, read_policy, *, wizard, *, allow\n");
    std::fs::write(&path, text).expect("writing actions.csv");
}

/// Every row of `initiate.csv` commented out: the policy loads, but nobody may share, so
/// the shipped scenarios that expect a permit fail.
pub fn nobody_initiates(dir: &Path) {
    let path = dir.join("initiate.csv");
    let text = std::fs::read_to_string(&path).expect("reading initiate.csv");
    let out: String = text
        .lines()
        .map(|l| {
            if l.starts_with("p,") {
                format!("# {l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&path, out).expect("writing initiate.csv");
}

/// The row that lets every agency's IG officers read the policy.
pub const READ_POLICY_ROW: &str = "p, read_policy, *, ig_officer, *, allow";
/// The row that replaces it in [`only_the_partnership_reads_the_policy`].
pub const PARTNERSHIP_ROW: &str = "p, read_policy, partnership, ig_officer, *, allow";

/// A good change: only the partnership's IG officers read the policy (one row removed, one
/// added in `actions.csv`), which no scenario depends on.
pub fn only_the_partnership_reads_the_policy(dir: &Path) {
    edit_file(dir, "actions.csv", READ_POLICY_ROW, PARTNERSHIP_ROW);
}

/// `broker policy reload --policy dir` for the world configured at `config`.
///
/// Awaited, not blocking: a test's own server runs on the test's runtime, and a write it has
/// begun (the checkpoint signed at its start, a batch) must be able to commit while the command
/// waits for the write lock, as it would in a server process of its own.
pub async fn reload(config: &Path, dir: &Path) -> Output {
    let mut command = tokio::process::Command::from(broker_command(config, &["policy", "reload"]));
    command
        .arg("--policy")
        .arg(dir)
        .output()
        .await
        .expect("running broker policy reload")
}

/// Appends `[policy]` settings to a world's `broker.toml` (which has no such section).
pub fn configure_policy(config: &Path, settings: &str) {
    let mut text = std::fs::read_to_string(config).expect("reading broker.toml");
    assert!(
        !text.contains("\n[policy]"),
        "broker.toml already has [policy]"
    );
    text.push_str(&format!("\n[policy]\n{settings}\n"));
    std::fs::write(config, text).expect("writing broker.toml");
}

/// `GET /v1/policy` as `who`, which must answer 200.
pub async fn in_force(who: &Person) -> Value {
    let r = who.get("/v1/policy").await;
    assert_eq!(r.status, 200, "GET /v1/policy: {}", r.text());
    r.json()
}

/// `GET /v1/policy/versions` as `who`: the versions, newest first.
pub async fn versions(who: &Person) -> Vec<Value> {
    let r = who.get("/v1/policy/versions").await;
    assert_eq!(r.status, 200, "GET /v1/policy/versions: {}", r.text());
    r.json()["versions"].as_array().expect("versions").clone()
}

/// Waits (at most `within`) until the broker `who` talks to runs version `number`; returns
/// what `GET /v1/policy` then says.
pub async fn until_number(who: &Person, number: i64, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let now = in_force(who).await;
        if now["number"] == number {
            return now;
        }
        assert!(
            started.elapsed() < within,
            "the broker still runs policy version {} after {within:?}, not {number}",
            now["number"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
