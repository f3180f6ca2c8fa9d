//! Random and hostile requests at every route of the Roger API and the Graph emulator: whatever
//! arrives, the answer is the protocol's 4xx error (or a success), never a 5xx or a dropped
//! connection, and the cloud keeps serving afterwards. Deterministic: a fixed-seed generator.

mod common;
mod ms_common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// xorshift64*: small, deterministic, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &'a [&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

const ROGER_ROUTES: &[&str] = &[
    "/regions",
    "/.well-known/oauth-authorization-server",
    "/oauth/authorize",
    "/oauth/token",
    "/oauth/device_authorization",
    "/oauth/revoke",
    "/pair",
    "/api/v1/pairings/{}",
    "/api/v1/pairings/{}/approve",
    "/api/v1/pairings/{}/deny",
    "/api/v1/me",
    "/api/v1/printers",
    "/api/v1/printers/{}",
    "/api/v1/session",
    "/api/v1/jobs",
    "/api/v1/jobs/release",
    "/api/v1/jobs/{}",
    "/api/v1/jobs/{}/cancel",
    "/api/v1/printer/jobs",
    "/api/v1/printer/jobs/{}/status",
    "/api/v1/printer/scans",
    "/api/v1/printer/scans/{}/status",
    "/api/v1/scan-profiles",
    "/api/v1/scans",
    "/api/v1/scans/{}",
    "/api/v1/{}",
    "/{}",
];

const GRAPH_ROUTES: &[&str] = &[
    "me",
    "me/drive",
    "me/drive/root",
    "me/drive/root/children",
    "me/drive/root:/{}:",
    "me/drive/root:/{}:/children",
    "me/drive/root:/{}:/content",
    "me/drive/root:/{}:/createUploadSession",
    "me/drive/items/{}",
    "me/drive/items/{}/children",
    "me/drive/items/{}/content",
    "me/drive/items/{}:/{}:/content",
    "me/drive/items/{}:/{}:/createUploadSession",
    "me/{}",
    "{}",
];

const SEGMENTS: &[&str] = &[
    "",
    "x",
    "ABCD-EFGH",
    "abcd efgh",
    "%00",
    "%FF%FE",
    "..",
    "../../etc/passwd",
    "a%2Fb",
    "%23%25",
    "🙂",
    "CON",
    "name.",
    "job_0000000000000000",
    "usr_00",
    "contoso-reception",
    "'; DROP TABLE jobs; --",
    "a:b",
    "<script>",
];

const FIELDS: &[&str] = &[
    "fileName",
    "size",
    "contentType",
    "downloadUrl",
    "options",
    "copies",
    "duplex",
    "color",
    "pageRanges",
    "clientRequestId",
    "jobIds",
    "printerId",
    "profileId",
    "state",
    "reason",
    "uploadUrl",
    "name",
    "folder",
    "item",
    "@microsoft.graph.conflictBehavior",
    "parentReference",
    "grant_type",
];

fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 1),
        2 => json!(rng.next() as i64),
        3 => json!(-1),
        4 => json!(1e308),
        5 => json!(rng.pick(SEGMENTS)),
        6 => json!("x".repeat(rng.below(5000))),
        7 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
        _ => object(rng, depth + 1),
    }
}

fn object(rng: &mut Rng, depth: u32) -> Value {
    let mut map = serde_json::Map::new();
    for _ in 0..rng.below(6) {
        let key = rng.pick(FIELDS).to_owned();
        map.insert(key, value(rng, depth));
    }
    Value::Object(map)
}

fn fill(template: &str, rng: &mut Rng) -> String {
    let mut out = String::new();
    let mut parts = template.split("{}").peekable();
    while let Some(part) = parts.next() {
        out.push_str(part);
        if parts.peek().is_some() {
            if rng.below(8) == 0 {
                out.push_str(&"j".repeat(300 + rng.below(3000)));
            } else {
                out.push_str(rng.pick(SEGMENTS));
            }
        }
    }
    out
}

/// Sends one random request; panics on a 5xx or a transport failure. Returns the status.
async fn hit(rng: &mut Rng, base: &str, template: &str, tokens: &[&str]) -> Option<u16> {
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ];
    // Mostly the methods routes take, so most requests reach a handler.
    let method = match rng.below(10) {
        0..=3 => Method::GET,
        4..=6 => Method::POST,
        _ => methods[rng.below(methods.len())].clone(),
    };
    let path = fill(template, rng);
    let mut url = format!("{base}{path}");
    if rng.below(4) == 0 {
        url.push_str(&format!("?{}={}", rng.pick(FIELDS), rng.pick(SEGMENTS)));
    }
    let mut request = common::http().request(method.clone(), &url);
    // tokens[1] is a valid one: used most of the time, so requests get past authentication.
    let token = if rng.below(3) > 0 {
        tokens[1]
    } else {
        tokens[rng.below(tokens.len())]
    };
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    request = match rng.below(6) {
        0 => request,
        1 => request
            .header("content-type", "application/json")
            .body("{not json"),
        2 => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type={}&client_id={}",
                rng.pick(SEGMENTS),
                rng.pick(SEGMENTS)
            )),
        3 => request
            .header("content-type", "application/octet-stream")
            .header("content-range", "bytes 0-9/10")
            .body(vec![7u8; 10]),
        4 => request.json(&value(rng, 0)),
        _ => request.json(&object(rng, 0)),
    };
    let response = match request.send().await {
        Ok(r) => r,
        // A path the HTTP client itself refuses to build never reached the server.
        Err(e) if e.is_builder() => return None,
        Err(e) => panic!("{method} {url}: transport failure {e}"),
    };
    let status = response.status();
    let code = status.as_u16();
    assert!(
        !status.is_server_error(),
        "{method} {url} -> {status}: {:?}",
        response.text().await
    );
    if status.is_client_error() && method != Method::HEAD {
        let json = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("json"));
        if json {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(
                body.get("error").is_some(),
                "{method} {url} -> {status}: an error body, got {body}"
            );
        }
    }
    Some(code)
}

/// The requests reached real handlers: some succeeded and the refusals are varied.
fn assert_varied(statuses: &std::collections::BTreeMap<u16, u32>) {
    let ok = statuses.range(200..300).map(|(_, n)| n).sum::<u32>();
    let refusals = statuses.range(400..500).count();
    assert!(ok > 0 && refusals >= 5, "{statuses:?}");
}

#[tokio::test]
async fn the_roger_api_answers_every_hostile_request_with_a_protocol_error() {
    let cloud = common::start().await;
    let eu = cloud.region("eu").unwrap();
    let alice = common::access(&common::sign_in(eu, common::ALICE).await);
    let tokens = ["", alice.as_str(), "garbage", "x.y.z"];
    let base = eu.issuer.as_str().trim_end_matches('/').to_owned();
    let mut rng = Rng(0x5EED_0FC0_FFEE);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..1500 {
        let template = ROGER_ROUTES[i % ROGER_ROUTES.len()];
        if let Some(code) = hit(&mut rng, &base, template, &tokens).await {
            *statuses.entry(code).or_insert(0u32) += 1;
        }
    }
    assert_varied(&statuses);
    // Still serving, and still correct.
    let (status, _) = common::api(eu, "GET", "/api/v1/printers", &alice, None).await;
    assert_eq!(status, StatusCode::OK);
    cloud.shutdown().await;
}

#[tokio::test]
async fn the_graph_emulator_answers_every_hostile_request_with_a_graph_error() {
    let cloud = ms_common::start().await;
    let alice = ms_common::sign_in(&cloud, ms_common::ALICE).await;
    ms_common::mkdir(&cloud, &alice, "Print").await;
    let tokens = ["", alice.as_str(), "garbage"];
    let base = cloud.graph_url.as_str().to_owned();
    let mut rng = Rng(0xBAD_5EED);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..1500 {
        let template = GRAPH_ROUTES[i % GRAPH_ROUTES.len()];
        if let Some(code) = hit(&mut rng, &base, template, &tokens).await {
            *statuses.entry(code).or_insert(0u32) += 1;
        }
    }
    assert_varied(&statuses);
    let me = ms_common::graph(&cloud, &alice, "GET", "me/drive/root:/Print:", None).await;
    assert_eq!(me.status, StatusCode::OK);
    cloud.shutdown().await;
}
