//! docs/air-gap.md, "Delta bundles: a cron-driven workflow": every ```` ```sh walkthrough ````
//! block runs, in order, with `bash -euo pipefail`, against two distribution 2.8 registries. The
//! world changes between blocks as the doc says it does (upstream pushes new tags, a volume is
//! damaged on the way, a blob is deleted on the far side); each change is keyed on the block's
//! first comment line, and each must happen exactly once.

use std::path::Path;
use std::time::Duration;

use super::world::{FarKind, World, PLATFORMS, TWO};
use crate::harness::mirror_bin;

/// The blocks of the walkthrough, in order.
fn blocks(doc: &str) -> Vec<String> {
    let section = doc
        .split_once("\n## Delta bundles: a cron-driven workflow\n")
        .expect("docs/air-gap.md has the section")
        .1;
    section
        .split("```sh walkthrough\n")
        .skip(1)
        .map(|b| b[..b.find("\n```").expect("a closed block") + 1].to_string())
        .collect()
}

/// What happens in the world before a block, keyed on its first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    NextNight,
    WeekLater,
    DamagedVolume,
    BlobDeleted,
}

const EVENTS: [(&str, Event); 4] = [
    ("# near side, the next night", Event::NextNight),
    ("# far side, a week later", Event::WeekLater),
    (
        "# far side, bundle-0003 arrived damaged",
        Event::DamagedVolume,
    ),
    (
        "# near side, the night after someone deleted a blob",
        Event::BlobDeleted,
    ),
];

async fn bash(script: &str, env: &[(&str, String)]) -> (bool, String) {
    let path = format!(
        "{}:{}",
        mirror_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = tokio::process::Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", script])
        .env("PATH", path)
        .env("MIRROR_TEST", "1")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .expect("a walkthrough block ran over 5 minutes")
        .unwrap();
    let text = format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn flip_a_byte(file: &Path) {
    let mut b = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mid = b.len() / 2;
    b[mid] ^= 0x20;
    std::fs::write(file, b).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn air_gap_delta_walkthrough_runs() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/air-gap.md"))
            .unwrap();
    let blocks = blocks(&doc);
    assert!(
        blocks.len() >= 8,
        "found only {} walkthrough blocks",
        blocks.len()
    );

    let mut w = World::start(FarKind::Distribution28).await;
    w.publish("app", "team/app", "v1").await;
    w.publish("tools", "team/tools", "v1").await;
    let far = w.far.host();
    let env = [
        ("NEAR", w.near.host()),
        ("FAR", far.clone()),
        ("STATE", w.arg("near/state")),
        ("BUNDLE", w.arg("near/bundles")),
        ("MEDIA", w.arg("media")),
        ("FARDIR", w.arg("far")),
        // Small volumes, so a bundle has several.
        ("VOLUME_SIZE", "64K".to_string()),
    ];
    let lost = w
        .built("team/app", "v1")
        .image
        .child("linux/amd64")
        .layers()[0]
        .digest
        .clone();
    let mut seen = vec![];
    let mut outputs = vec![];
    for (i, block) in blocks.iter().enumerate() {
        let first = block.lines().next().unwrap_or_default();
        let event = EVENTS
            .iter()
            .find(|(k, _)| first.starts_with(k))
            .map(|(_, e)| *e);
        match event {
            Some(Event::NextNight) => {
                w.publish("app", "team/app", "v2").await;
                w.publish("tools", "team/tools", "v2").await;
            }
            Some(Event::WeekLater) => {
                w.publish("app", "team/app", "v3").await;
            }
            Some(Event::DamagedVolume) => {
                flip_a_byte(&w.path("media/bundle-0003/layout.tar.001"));
            }
            Some(Event::BlobDeleted) => {
                let url = format!("http://{far}/v2/mirror/app/blobs/{lost}");
                let s = w.http.client.delete(&url).send().await.unwrap().status();
                assert_eq!(s.as_u16(), 202, "DELETE {url}");
                w.publish("app", "team/app", "v4").await;
            }
            None => {}
        }
        seen.extend(event);
        let (ok, text) = bash(block, &env).await;
        assert!(ok, "walkthrough block {i} failed:\n{block}\n{text}");
        outputs.push((event, text));
    }
    let all: Vec<Event> = EVENTS.iter().map(|(_, e)| *e).collect();
    assert_eq!(
        seen, all,
        "every event of the story happened once, in order"
    );

    // The dry run wrote nothing.
    assert!(
        !w.path("near/bundles/preview").exists(),
        "the dry run wrote a bundle"
    );
    // The damaged volume was named; the lie was named with its blob, image and claim.
    let out = |e: Event| &outputs.iter().find(|(x, _)| *x == Some(e)).unwrap().1;
    assert!(
        out(Event::DamagedVolume).contains("layout.tar.001"),
        "{}",
        out(Event::DamagedVolume)
    );
    let lied = out(Event::BlobDeleted);
    for needle in [lost.as_str(), &format!("{far}/mirror/app:v4")] {
        assert!(
            lied.contains(needle),
            "the error does not name {needle}:\n{lied}"
        );
    }
    assert!(
        lied.contains("inventory.json") || lied.contains("ledger.json"),
        "the error does not name the claim:\n{lied}"
    );
    // Bundles 1, 2, 3 and 5 applied; 4 partly (everything but app:v4).
    let names = |d: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(w.path(d))
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert_eq!(
        names("media/applied"),
        ["bundle-0001", "bundle-0002", "bundle-0003", "bundle-0005"]
    );
    assert_eq!(names("media/partial"), ["bundle-0004"]);

    // The far side: every tag names the source digest, complete for the selection; with 2.8 and
    // `on-reject: full` that is every platform.
    for (repo, tags) in [
        ("app", &["v1", "v2", "v3", "v4"][..]),
        ("tools", &["v1", "v2"]),
    ] {
        let mut want: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        want.sort();
        let mut got = w.far_tags(&format!("mirror/{repo}")).await;
        got.sort();
        assert_eq!(got, want, "mirror/{repo}");
        for t in tags {
            let b = w.built(&format!("team/{repo}"), t);
            let src = format!("{}/team/{repo}:{t}", w.near.host());
            let dst = format!("{far}/mirror/{repo}:{t}");
            assert_eq!(
                w.far_tag(&format!("mirror/{repo}"), t).await.as_deref(),
                Some(b.image.index.digest.as_str()),
                "{dst}"
            );
            for sel in [&TWO[..], &PLATFORMS[..]] {
                let p = sel.join(",");
                let o = w.mirror(&["verify", &src, &dst, "--platform", &p]).await;
                assert_eq!(o.code, 0, "{dst} ({p}): {o}");
            }
        }
    }
}
