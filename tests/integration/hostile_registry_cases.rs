//! The cases of the hostile-registry corpus (`hostile_registry.rs`): one misbehaviour each,
//! as a [`Script`] for [`HostileServer`](crate::hostile_registry_server::HostileServer), with
//! the outcome it must have.

use std::sync::Arc;

use crate::fixtures::Image;
use crate::harness::sha256;
use crate::hostile_registry_server::{Answer, Body, Req, Script};

const RA_YEAR_400E9: &str = "Sun, 06 Nov 400000000000 08:49:37 GMT";
const RA_YEAR_9999: &str = "Fri, 31 Dec 9999 23:59:59 GMT";
const RA_U64_MAX: &str = "18446744073709551615";

/// What a case must end with.
pub enum Expect {
    /// Exit `code`, stderr containing every needle, the target repository untouched.
    Fail(i32, Vec<String>),
    /// Exit 0 and the target tagged.
    Copied,
}

/// Which side the hostile server stands on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

pub struct Case {
    pub name: &'static str,
    pub side: Side,
    pub extra: Vec<&'static str>,
    pub script: Script,
    pub expect: Expect,
    /// For blob cases: the blob that must not reach the target (other blobs of the same copy
    /// may have been uploaded concurrently; no manifest may be).
    pub bad_blob: Option<String>,
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
pub fn many_children(n: usize) -> Vec<u8> {
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

pub fn cases(img: &Image) -> Vec<Case> {
    let amd64 = img.child("linux/amd64");
    let layer = amd64.layers()[0].digest.clone();
    let layer_size = amd64.layers()[0].bytes.len();
    let index = img.index.digest.clone();
    let l = layer.clone();
    let blob_get = move |r: &Req| r.is("GET", &format!("/blobs/{l}"));
    let mut v = vec![
        // ---- ping
        // A Retry-After beyond 30 s is not waited for: the step ends at the first answer,
        // saying what was asked and when to try again (issue 21).
        case(
            "ping: 503 with Retry-After in the year 400000000000 (panicked)",
            Side::Source,
            |r| (r.target == "/v2/").then(|| oci_error(503).with("retry-after", RA_YEAR_400E9)),
            fail(
                1,
                &[
                    "/v2/",
                    "503",
                    "asked to wait until 400000000000-11-",
                    "hint: try again after 400000000000-11-",
                ],
            ),
        ),
        case(
            "ping: 429 with Retry-After 2^64-1 seconds (not retried)",
            Side::Source,
            |r| (r.target == "/v2/").then(|| oci_error(429).with("retry-after", RA_U64_MAX)),
            fail(
                1,
                &[
                    "/v2/",
                    "429",
                    "asked to wait 18446744073709551615 s (Retry-After: 18446744073709551615)",
                    "hint: try again in 18446744073709551615 s (more than a century)",
                ],
            ),
        ),
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
            fail(
                1,
                &[
                    "manifests/v1",
                    "503",
                    "hint: try again after 9999-12-31 23:59:59 UTC",
                ],
            ),
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
            "manifest: an index of 2000 children that do not exist",
            Side::Source,
            |r| {
                r.is("GET", "/manifests/v1").then(|| {
                    Answer::json(200, many_children(2000))
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
            fail(
                1,
                &[
                    &format!("blobs/{layer}"),
                    "503",
                    "longer than the 30 s a retry waits",
                ],
            ),
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
        case(
            "upload: a Location on another host that is not listening",
            Side::Target,
            |r| {
                r.is("POST", "/blobs/uploads/").then(|| {
                    Answer::json(202, "").with("location", "http://127.0.0.1:9/upload/x?_state=s")
                })
            },
            fail(1, &["blob sha256:", "127.0.0.1:9"]),
        ),
        // ---- tags (copy --digest-tags lists them)
        Case {
            extra: vec!["--digest-tags"],
            ..case(
                "tags: a Link to another host that is not listening",
                Side::Source,
                |r| {
                    r.is("GET", "/tags/list").then(|| {
                        Answer::json(200, r#"{"tags":["v1"]}"#).with(
                            "link",
                            r#"<http://127.0.0.1:9/v2/team/app/tags/list?last=v1>; rel="next""#,
                        )
                    })
                },
                fail(1, &["tags/list", "127.0.0.1:9"]),
            )
        },
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
    v.push(Case {
        extra: vec!["--referrers"],
        ..case(
            "referrers: a Link to the page itself (the end of the listing)",
            Side::Source,
            |r| {
                r.is("GET", "/referrers/").then(|| {
                    let empty = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
                    Answer::json(200, empty)
                        .with("content-type", "application/vnd.oci.image.index.v1+json")
                        .with("link", format!(r#"<{}>; rel="next""#, r.target))
                })
            },
            Expect::Copied,
        )
    });
    v
}
