//! The hostile-registry corpus (issue 14): one misbehaviour per case, across the endpoints
//! `mirror` uses (ping, token, manifests, blobs, uploads, tags, referrers), served by
//! [`HostileServer`] in front of a real `docker-registry` (distribution 2.8). The real
//! `mirror` binary runs each case, measured with `wait4`.
//!
//! Every case asserts: no panic (exit code not 101, no "panicked"), an exit within
//! [`TIME_LIMIT`], a peak RSS under [`MEMORY_LIMIT_KIB`], and either the stated failure (exit
//! code and text naming the object) with nothing written to the target, or, where the odd value
//! is legal (a token valid for 2^64-1 seconds), a correct copy.
//!
//! `credentials_stay_with_their_host` checks issue 14 item 5: an upload `Location` or a
//! redirect on another port never gets the registry's `Authorization`, Bearer or Basic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::fixtures::{self, Image};
use crate::harness::{sha256, Registry};
use crate::hostile_registry_server::{mirror_measured, Answer, Body, HostileServer, Req, Script};

/// Each case must end within this (MIRROR_TEST shrinks retry delays to milliseconds).
const TIME_LIMIT: Duration = Duration::from_secs(20);
/// Peak RSS bound per run: well under what an unbounded listing or body would need (the
/// 17 GB referrers loop of the issue), above the largest legitimate case (a million tags,
/// the `tags/list` cap, about 70 MiB).
const MEMORY_LIMIT_KIB: u64 = 96 * 1024;

const RA_YEAR_400E9: &str = "Sun, 06 Nov 400000000000 08:49:37 GMT";
const RA_YEAR_9999: &str = "Fri, 31 Dec 9999 23:59:59 GMT";
const RA_U64_MAX: &str = "18446744073709551615";

/// What a case must end with.
enum Expect {
    /// Exit `code`, stderr containing every needle, the target repository untouched.
    Fail(i32, Vec<String>),
    /// Exit 0 and the target tagged.
    Copied,
}

/// Which side the hostile server stands on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Target,
}

struct Case {
    name: &'static str,
    side: Side,
    extra: Vec<&'static str>,
    script: Script,
    expect: Expect,
    /// For blob cases: the blob that must not reach the target (other blobs of the same copy
    /// may have been uploaded concurrently; no manifest may be).
    bad_blob: Option<String>,
    /// Text that must appear in stderr exactly once (a log line that is logged once per run).
    once: Option<&'static str>,
}

fn case(
    name: &'static str,
    side: Side,
    script: impl Fn(&Req) -> Option<Answer> + Send + Sync + 'static,
    expect: Expect,
) -> Case {
    Case {
        name,
        side,
        extra: vec![],
        script: Arc::new(script),
        expect,
        bad_blob: None,
        once: None,
    }
}

fn fail(code: i32, needles: &[&str]) -> Expect {
    Expect::Fail(code, needles.iter().map(|s| s.to_string()).collect())
}

fn oci_error(status: u16) -> Answer {
    Answer::json(
        status,
        r#"{"errors":[{"code":"UNAVAILABLE","message":"hostile"}]}"#,
    )
}

/// Token auth in front of an anonymous registry: every `/v2/` request without `Authorization`
/// gets a Bearer challenge; the token endpoint answers `token`.
fn token_auth(
    token: impl Fn() -> Answer + Send + Sync + 'static,
) -> impl Fn(&Req) -> Option<Answer> {
    move |r: &Req| {
        if r.target.starts_with("/token") {
            return Some(token());
        }
        if r.target.starts_with("/v2/") && r.authorization.is_none() {
            let ch = format!(r#"Bearer realm="http://{}/token",service="hostile""#, r.own);
            return Some(Answer::json(401, r#"{"errors":[]}"#).with("www-authenticate", ch));
        }
        None
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut v = b"{\"schemaVersion\":2,\"manifests\":".to_vec();
    v.extend(std::iter::repeat_n(b'[', depth));
    v
}

/// An index of `n` linux/amd64 children that do not exist (about 170 bytes each).
fn many_children(n: usize) -> Vec<u8> {
    let entries: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":500,"platform":{{"architecture":"amd64","os":"linux"}}}}"#,
                sha256(format!("child {i}").as_bytes())
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

fn cases(img: &Image) -> Vec<Case> {
    let amd64 = img.child("linux/amd64");
    let layer = amd64.layers()[0].digest.clone();
    let layer_size = amd64.layers()[0].bytes.len();
    let index = img.index.digest.clone();
    let l = layer.clone();
    let blob_get = move |r: &Req| r.is("GET", &format!("/blobs/{l}"));
    let mut v = vec![
        // ---- ping
        case(
            "ping: 503 with Retry-After in the year 400000000000 (panicked)",
            Side::Source,
            |r| (r.target == "/v2/").then(|| oci_error(503).with("retry-after", RA_YEAR_400E9)),
            fail(1, &["/v2/", "503"]),
        ),
        Case {
            extra: vec!["-v"],
            once: Some("longer than the retry cap"),
            ..case(
                "ping: 429 with Retry-After 2^64-1 seconds (clamped, logged once at -v)",
                Side::Source,
                |r| (r.target == "/v2/").then(|| oci_error(429).with("retry-after", RA_U64_MAX)),
                fail(1, &["/v2/", "429", "asked_s=18446744073709551615"]),
            )
        },
        case(
            "ping: 401 with 60 KB of malformed WWW-Authenticate",
            Side::Source,
            |r| {
                let junk: Vec<u8> = (0..60_000).map(|i| b"\x80\xff=,\"\\ \t"[i % 8]).collect();
                (r.target == "/v2/").then(|| Answer::json(401, "{}").with("www-authenticate", junk))
            },
            fail(5, &["authentication to 127.0.0.1:"]),
        ),
        // ---- token
        case(
            "token: expires_in 9223372036854775807 (panicked)",
            Side::Source,
            token_auth(|| Answer::json(200, r#"{"token":"t","expires_in":9223372036854775807}"#)),
            Expect::Copied,
        ),
        case(
            "token: expires_in 18446744073709551615 (panicked)",
            Side::Source,
            token_auth(|| Answer::json(200, r#"{"token":"t","expires_in":18446744073709551615}"#)),
            Expect::Copied,
        ),
        case(
            "token: expires_in 1e400",
            Side::Source,
            token_auth(|| Answer::json(200, r#"{"token":"t","expires_in":1e400}"#)),
            Expect::Copied,
        ),
        case(
            "token: expires_in -1",
            Side::Source,
            token_auth(|| Answer::json(200, r#"{"access_token":"t","expires_in":-1}"#)),
            Expect::Copied,
        ),
        case(
            "token: a body that is not JSON",
            Side::Source,
            token_auth(|| Answer::json(200, "<html>login</html>")),
            fail(5, &["token server", "/token", "not a JSON token response"]),
        ),
        case(
            "token: a body that never ends",
            Side::Source,
            token_auth(|| Answer {
                status: 200,
                headers: vec![],
                body: Body::Endless(b' '),
            }),
            fail(5, &["token server", "larger than the limit"]),
        ),
        case(
            "token: JSON nested 100 000 levels",
            Side::Source,
            token_auth(|| Answer::json(200, nested(100_000))),
            fail(5, &["token server", "not a JSON token response"]),
        ),
        // ---- manifests
        case(
            "manifest: 503 with Retry-After in 9999",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1")
                    .then(|| oci_error(503).with("retry-after", RA_YEAR_9999))
            },
            fail(1, &["manifests/v1", "503"]),
        ),
        case(
            "manifest: a body that never ends",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1").then(|| Answer {
                    status: 200,
                    headers: vec![(
                        "content-type",
                        b"application/vnd.oci.image.index.v1+json".to_vec(),
                    )],
                    body: Body::Endless(b'['),
                })
            },
            fail(1, &["manifest v1 from", "4 MiB"]),
        ),
        case(
            "manifest: JSON nested 100 000 levels",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1")
                    .then(|| Answer::json(200, nested(100_000)))
            },
            fail(1, &["manifest v1 from"]),
        ),
        case(
            "manifest: a body shorter than its Content-Length",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1").then(|| Answer {
                    status: 200,
                    headers: vec![("content-length", b"100000".to_vec())],
                    body: Body::Lying {
                        claimed: 100_000,
                        sent: b"{\"schemaVersion\":2".to_vec(),
                    },
                })
            },
            fail(1, &["manifests/v1"]),
        ),
        case(
            "manifest: Content-Length 99999999999999999999",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1")
                    .then(|| Answer::json(200, "{}").with("x-pad", "1"))
                    .map(|mut a| {
                        a.headers
                            .push(("content-length", b"99999999999999999999".to_vec()));
                        a.body = Body::Lying {
                            claimed: 0,
                            sent: vec![],
                        };
                        a
                    })
            },
            fail(1, &["manifests/v1"]),
        ),
        case(
            "manifest: 60 KB malformed Docker-Content-Digest (ignored: the body is hashed)",
            Side::Source,
            // Only the header is hostile; GETs go to the real registry, and mirror hashes
            // the body instead of trusting a digest it cannot parse.
            |r| {
                r.is("HEAD", "/manifests/").then(|| {
                    Answer::json(200, "").with("docker-content-digest", vec![b'z'; 60_000])
                })
            },
            Expect::Copied,
        ),
        case(
            "manifest: a redirect to itself, forever",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1")
                    .then(|| Answer::json(307, "").with("location", r.target.clone()))
            },
            fail(1, &["manifests/v1", "redirect"]),
        ),
        case(
            "manifest: an index of 5000 children that do not exist",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1").then(|| {
                    Answer::json(200, many_children(5000))
                        .with("content-type", "application/vnd.oci.image.index.v1+json")
                })
            },
            fail(1, &["pushing index sha256:", "hostile/c"]),
        ),
        // ---- blobs
        case(
            "blob: a body that never ends",
            Side::Source,
            {
                let b = blob_get.clone();
                move |r| {
                    b(r).then(|| Answer {
                        status: 200,
                        headers: vec![],
                        body: Body::Endless(0),
                    })
                }
            },
            fail(1, &[&format!("blob {layer}"), "size mismatch"]),
        ),
        case(
            "blob: a body shorter than its Content-Length, every time",
            Side::Source,
            {
                let b = blob_get.clone();
                move |r| {
                    b(r).then(|| Answer {
                        status: 200,
                        headers: vec![("content-length", layer_size.to_string().into_bytes())],
                        body: Body::Lying {
                            claimed: layer_size as u64,
                            sent: vec![1; 10],
                        },
                    })
                }
            },
            fail(1, &[&format!("blob {layer}")]),
        ),
        case(
            "blob: 206 with Content-Range past the blob",
            Side::Source,
            {
                let b = blob_get.clone();
                move |r| {
                    b(r).then(|| {
                        Answer::json(206, vec![0; 16]).with(
                            "content-range",
                            "bytes 0-18446744073709551614/18446744073709551615",
                        )
                    })
                }
            },
            fail(1, &["Content-Range", "bytes 0-18446744073709551614"]),
        ),
        case(
            "blob: 503 with Retry-After in the year 400000000000",
            Side::Source,
            {
                let b = blob_get.clone();
                move |r| b(r).then(|| oci_error(503).with("retry-after", RA_YEAR_400E9))
            },
            fail(1, &[&format!("blobs/{layer}"), "503"]),
        ),
        // ---- uploads (the hostile server fronts the target)
        case(
            "upload: a Location that is not UTF-8",
            Side::Target,
            |r| {
                r.is("POST", "/blobs/uploads/")
                    .then(|| Answer::json(202, "").with("location", b"/v2/\xff\xfe".to_vec()))
            },
            fail(1, &["POST blobs/uploads/", "no usable Location"]),
        ),
        case(
            "upload: a 100 KB Location",
            Side::Target,
            |r| {
                r.is("POST", "/blobs/uploads/").then(|| {
                    Answer::json(202, "").with("location", format!("/v2/{}", "a".repeat(100_000)))
                })
            },
            fail(1, &["blob sha256:"]),
        ),
        case(
            "upload: PUT answered with a redirect to itself",
            Side::Target,
            |r| {
                r.is("PUT", "/blobs/uploads/")
                    .then(|| Answer::json(307, "").with("location", r.target.clone()))
            },
            fail(1, &["PUT", "307"]),
        ),
        // ---- tags (copy --digest-tags lists them)
        {
            let mut c = case(
                "tags: Link pages loop A → B → A (ran forever)",
                Side::Source,
                |r| {
                    if !r.is("GET", "/tags/list") {
                        return None;
                    }
                    let (tag, next) = if r.target.contains("last=") {
                        ("b", "/v2/team/app/tags/list?n=1000")
                    } else {
                        ("v1", "/v2/team/app/tags/list?n=1000&last=b")
                    };
                    Some(
                        Answer::json(200, format!(r#"{{"name":"team/app","tags":["{tag}"]}}"#))
                            .with("link", format!(r#"<{next}>; rel="next""#)),
                    )
                },
                fail(1, &["tags/list", "loops"]),
            );
            c.extra = vec!["--digest-tags"];
            c
        },
        {
            let mut c = case(
                "tags: endless fresh pages of 5000 tags",
                Side::Source,
                |r| {
                    if !r.is("GET", "/tags/list") {
                        return None;
                    }
                    let page: usize = r
                        .target
                        .split("last=")
                        .nth(1)
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0);
                    let tags: Vec<String> = (0..5000).map(|i| format!("\"p{page}-{i}\"")).collect();
                    Some(
                        Answer::json(200, format!(r#"{{"tags":[{}]}}"#, tags.join(","))).with(
                            "link",
                            format!("</v2/team/app/tags/list?last={}>; rel=next", page + 1),
                        ),
                    )
                },
                fail(1, &["tags/list", "passed 1000000 entries"]),
            );
            c.extra = vec!["--digest-tags"];
            c
        },
        {
            let mut c = case(
                "tags: a 1 MiB Link header",
                Side::Source,
                |r| {
                    r.is("GET", "/tags/list").then(|| {
                        Answer::json(200, r#"{"tags":["v1"]}"#)
                            .with("link", format!("<{}>; rel=next", "/x".repeat(512 * 1024)))
                    })
                },
                fail(1, &["tags/list"]),
            );
            c.extra = vec!["--digest-tags"];
            c
        },
    ];
    for c in v.iter_mut().filter(|c| c.name.starts_with("blob:")) {
        c.bad_blob = Some(layer.clone());
    }
    // ---- referrers (copy --referrers)
    let referrers_loop = {
        let index = index.clone();
        move |r: &Req| {
            if !r.is("GET", "/referrers/") {
                return None;
            }
            // A thousand descriptors per page: the loop grew past 17 GB before.
            let ds: Vec<String> = (0..1000)
                .map(|i| {
                    format!(
                        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"artifactType":"application/x-hostile"}}"#,
                        sha256(format!("ref {i}").as_bytes())
                    )
                })
                .collect();
            let next = if r.target.contains("page=b") {
                format!("/v2/team/app/referrers/{index}")
            } else {
                format!("/v2/team/app/referrers/{index}?page=b")
            };
            Some(
                Answer::json(
                    200,
                    format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#, ds.join(",")),
                )
                .with("content-type", "application/vnd.oci.image.index.v1+json")
                .with("link", format!(r#"<{next}>; rel="next""#)),
            )
        }
    };
    let mut c = case(
        "referrers: Link pages loop A → B → A (ran forever, 17 GB)",
        Side::Source,
        referrers_loop,
        fail(1, &["referrers", "loops"]),
    );
    c.extra = vec!["--referrers"];
    v.push(c);
    let mut c = case(
        "referrers: JSON nested 100 000 levels",
        Side::Source,
        |r| {
            r.is("GET", "/referrers/").then(|| {
                Answer::json(200, nested(100_000))
                    .with("content-type", "application/vnd.oci.image.index.v1+json")
            })
        },
        fail(1, &["referrers of sha256:"]),
    );
    c.extra = vec!["--referrers"];
    v.push(c);
    v
}

struct Ran {
    name: &'static str,
    peak_kib: u64,
    elapsed: Duration,
    problems: Vec<String>,
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_registry_corpus() {
    let started = Instant::now();
    let img = fixtures::multi_arch_oci(4096);
    let (src, _http) = fixtures::seeded(&img).await;
    let dst = Registry::start();
    let all = cases(&img);
    let n = all.len();
    let runs = futures_util::stream::iter(all.into_iter().enumerate().map(|(i, c)| {
        let (src, dst) = (src.host(), dst.host());
        async move {
            let upstream = if c.side == Side::Source { &src } else { &dst };
            let hs = HostileServer::start(Some(upstream.clone()), c.script.clone()).await;
            let repo = format!("hostile/c{i:02}");
            let (from, to) = match c.side {
                Side::Source => (
                    format!("{}/team/app:v1", hs.host()),
                    format!("{dst}/{repo}:v1"),
                ),
                Side::Target => (
                    format!("{src}/team/app:v1"),
                    format!("{}/{repo}:v1", hs.host()),
                ),
            };
            // Every platform: distribution 2.8 refuses sparse indexes.
            let mut args = vec!["copy", &from, &to];
            args.extend(c.extra.iter().copied());
            let m = mirror_measured(&args, TIME_LIMIT + Duration::from_secs(10)).await;
            (c, repo, m)
        }
    }))
    .buffer_unordered(3)
    .collect::<Vec<_>>()
    .await;
    let mut report = vec![];
    for (c, repo, m) in runs {
        let out = &m.out;
        let mut problems = vec![];
        if out.code == 101 || out.stderr.contains("panicked") {
            problems.push("panicked".to_string());
        }
        if m.elapsed > TIME_LIMIT {
            problems.push(format!("took {:?} (limit {TIME_LIMIT:?})", m.elapsed));
        }
        if m.peak_kib > MEMORY_LIMIT_KIB {
            problems.push(format!(
                "peak RSS {} KiB (limit {MEMORY_LIMIT_KIB})",
                m.peak_kib
            ));
        }
        match &c.expect {
            Expect::Copied => {
                if out.code != 0 || !dst.tag_exists(&repo, "v1") {
                    problems.push("expected a complete copy".into());
                }
            }
            Expect::Fail(code, needles) => {
                if out.code != *code {
                    problems.push(format!("exit {} (expected {code})", out.code));
                }
                for n in needles {
                    if !out.stderr.contains(n.as_str()) {
                        problems.push(format!("stderr lacks {n:?}"));
                    }
                }
                let repo_dir = dst
                    .storage_dir()
                    .join(format!("docker/registry/v2/repositories/{repo}"));
                let written = match (&c.bad_blob, c.side) {
                    (None, Side::Source) => repo_dir.exists(),
                    (Some(b), _) => {
                        // Not blob_data_exists: the blob store is shared with the cases
                        // that copy successfully.
                        repo_dir.join("_manifests").exists() || dst.blob_uploaded(&repo, b)
                    }
                    (None, Side::Target) => repo_dir.join("_manifests").exists(),
                };
                if written || dst.tag_exists(&repo, "v1") {
                    problems.push(format!("the target was written: {}", repo_dir.display()));
                }
            }
        }
        if let Some(t) = c.once {
            let n = out.stderr.matches(t).count();
            if n != 1 {
                problems.push(format!("{t:?} logged {n} times (expected once)"));
            }
        }
        if !problems.is_empty() {
            problems.push(format!("{out}"));
        }
        report.push(Ran {
            name: c.name,
            peak_kib: m.peak_kib,
            elapsed: m.elapsed,
            problems,
        });
    }
    report.sort_by_key(|r| r.name);
    let mut failed = vec![];
    for r in &report {
        eprintln!(
            "{:>6} ms {:>7} KiB  {}{}",
            r.elapsed.as_millis(),
            r.peak_kib,
            r.name,
            if r.problems.is_empty() {
                ""
            } else {
                "  FAILED"
            }
        );
        if !r.problems.is_empty() {
            failed.push(format!("{}:\n  {}", r.name, r.problems.join("\n  ")));
        }
    }
    eprintln!("{n} hostile cases in {:?}", started.elapsed());
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// Item 5: an upload `Location` on another port, and a redirect to another port, get no
/// `Authorization` (Bearer token or Basic credentials), while the registry's own host does.
#[tokio::test(flavor = "multi_thread")]
async fn credentials_stay_with_their_host() {
    let img = fixtures::multi_arch_oci(1024);
    let (src, _http) = fixtures::seeded(&img).await;
    let dst = Registry::start();
    // The other host: records every request, answers 404 to everything.
    let other = HostileServer::start(None, Arc::new(|_: &Req| None)).await;
    let other_host = other.host();
    let basic = "Basic dTpw"; // base64("u:p")
    for (kind, creds) in [
        ("bearer", None),
        ("basic", Some("u:p")),
        ("registry-token", None),
    ] {
        let oh = other_host.clone();
        let redirected = Arc::new(AtomicUsize::new(0));
        let rd = redirected.clone();
        let script = move |r: &Req| -> Option<Answer> {
            if r.target.starts_with("/token") {
                return Some(Answer::json(
                    200,
                    r#"{"token":"registry-token-xyz","expires_in":300}"#,
                ));
            }
            if r.target.starts_with("/v2/") && r.authorization.is_none() {
                let ch = match kind {
                    "basic" => r#"Basic realm="hostile""#.to_string(),
                    _ => format!(r#"Bearer realm="http://{}/token",service="hostile""#, r.own),
                };
                return Some(Answer::json(401, r#"{"errors":[]}"#).with("www-authenticate", ch));
            }
            if r.is("POST", "/blobs/uploads/") && !r.target.contains("mount=") {
                let loc = format!("http://{oh}/upload/{kind}?_state=s");
                return Some(Answer::json(202, "").with("location", loc));
            }
            if r.is("HEAD", "/blobs/") && rd.fetch_add(1, Ordering::SeqCst) == 0 {
                return Some(
                    Answer::json(307, "")
                        .with("location", format!("http://{oh}/redirected/{kind}")),
                );
            }
            None
        };
        let hs = HostileServer::start(Some(dst.host()), Arc::new(script)).await;
        let repo = format!("creds/{kind}");
        let from = format!("{}/team/app:v1", src.host());
        let to = format!("{}/{repo}:v1", hs.host());
        let mut args = vec!["copy", &from, &to];
        if let Some(c) = creds {
            args.extend(["--dest-creds", c]);
        }
        if kind == "registry-token" {
            args.extend(["--dest-registry-token", "user-token-abc"]);
        }
        let m = mirror_measured(&args, Duration::from_secs(30)).await;
        assert_ne!(m.out.code, 101, "{kind}: {}", m.out);
        assert_ne!(m.out.code, 0, "{kind}: the uploads went nowhere: {}", m.out);
        assert!(!dst.tag_exists(&repo, "v1"), "{kind}");
        // The registry's own host got credentials (so the check below can fail) ...
        let own = hs.seen();
        let expect = match kind {
            "basic" => basic.to_string(),
            "bearer" => "Bearer registry-token-xyz".into(),
            _ => "Bearer user-token-abc".into(),
        };
        assert!(
            own.iter()
                .any(|r| r.is("POST", "/blobs/uploads/")
                    && r.authorization.as_deref() == Some(&expect)),
            "{kind}: the registry's own POST lacked {expect:?}: {:?}",
            own
        );
        // ... and the other host got requests, none with Authorization.
        let theirs: Vec<Req> = other
            .seen()
            .into_iter()
            .filter(|r| r.target.contains(kind))
            .collect();
        assert!(
            theirs.iter().any(|r| r.target.starts_with("/upload/")),
            "{kind}: no upload reached the other host: {theirs:?}\n{}",
            m.out
        );
        assert!(
            theirs.iter().any(|r| r.target.starts_with("/redirected/")),
            "{kind}: the redirect was not followed: {theirs:?}\n{}",
            m.out
        );
        for r in &theirs {
            assert_eq!(
                r.authorization, None,
                "{kind}: credentials leaked to {}: {r:?}",
                other_host
            );
        }
    }
}

/// The issue's first hang: `mirror sync` with a tag filter on a registry whose `tags/list`
/// pages loop (A → B → A) ran forever. Now the image fails with the loop named and the run
/// goes on to exit 6.
#[tokio::test(flavor = "multi_thread")]
async fn sync_over_looping_tag_pages_ends_with_an_error() {
    let img = fixtures::multi_arch_oci(1024);
    let (src, _http) = fixtures::seeded(&img).await;
    let dst = Registry::start();
    let script = |r: &Req| -> Option<Answer> {
        if !r.is("GET", "/tags/list") {
            return None;
        }
        let next = if r.target.contains("last=") {
            "/v2/team/app/tags/list?n=1000"
        } else {
            "/v2/team/app/tags/list?n=1000&last=v1"
        };
        Some(
            Answer::json(200, r#"{"name":"team/app","tags":["v1"]}"#)
                .with("link", format!(r#"<{next}>; rel="next""#)),
        )
    };
    let hs = HostileServer::start(Some(src.host()), Arc::new(script)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mirror.yaml");
    std::fs::write(
        &file,
        format!(
            "images:\n  - source: {}/team/app\n    target: {}/hostile/sync\n    tags:\n      regex: '^v'\n",
            hs.host(),
            dst.host()
        ),
    )
    .unwrap();
    let m = mirror_measured(&["sync", "-f", file.to_str().unwrap()], TIME_LIMIT).await;
    let out = &m.out;
    assert_eq!(out.code, 6, "{out}");
    assert!(
        out.stderr.contains("tags/list") && out.stderr.contains("loops"),
        "{out}"
    );
    assert!(m.elapsed < TIME_LIMIT, "{:?}", m.elapsed);
    assert!(m.peak_kib < MEMORY_LIMIT_KIB, "{} KiB", m.peak_kib);
    assert!(!dst.tag_exists("hostile/sync", "v1"));
    let tag_pages = hs
        .seen()
        .iter()
        .filter(|r| r.is("GET", "/tags/list"))
        .count();
    assert_eq!(tag_pages, 2, "one visit per page, then the loop is refused");
}
