//! The emulated Graph OneDrive API: `/me`, the drive, addressing and name encoding, folders and
//! conflict behaviours, name rules, simple upload, download redirect, paging, move and delete.

mod ms_common;

use std::time::Duration;

use ms_common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn me_and_drive_need_their_permissions() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let me = graph(&cloud, &token, "GET", "me", None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["mail"], ALICE.0);
    assert_eq!(me.body["userPrincipalName"], ALICE.0);
    assert_eq!(me.body["displayName"], "Alice Martin");
    assert_eq!(me.body["id"], cloud.identity().user_id(ALICE.0).unwrap());
    assert!(me.header("request-id").is_some());

    let drive = graph(&cloud, &token, "GET", "me/drive", None).await;
    assert_eq!(drive.status, StatusCode::OK);
    assert_eq!(drive.body["driveType"], "business");
    assert_eq!(drive.body["id"], cloud.graph().drive_id(ALICE.0).unwrap());
    assert_eq!(drive.body["quota"]["used"], 0);
    let root = graph(&cloud, &token, "GET", "me/drive/root", None).await;
    assert_eq!(root.body["root"], json!({}));
    assert_eq!(root.body["folder"]["childCount"], 0);
    let by_drive = format!("drives/{}/root", enc(drive.body["id"].as_str().unwrap()));
    assert_eq!(
        graph(&cloud, &token, "GET", &by_drive, None).await.body["id"],
        root.body["id"]
    );
    let bobs = cloud.graph().drive_id(BOB.0).unwrap();
    let other = graph(
        &cloud,
        &token,
        "GET",
        &format!("drives/{}/root", enc(&bobs)),
        None,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "another user's drive");

    let files_only = access(&sign_in_with(&cloud, BOB, "Files.ReadWrite").await);
    let me = graph(&cloud, &files_only, "GET", "me", None).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::FORBIDDEN, "Authorization_RequestDenied")
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn me_is_a_graph_user_and_takes_select() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let id = cloud.identity().user_id(ALICE.0).unwrap();
    let me = graph(&cloud, &token, "GET", "me", None).await;
    assert_eq!(
        me.body,
        json!({
            "@odata.context": format!("{}$metadata#users/$entity", cloud.graph_url),
            "businessPhones": [],
            "displayName": "Alice Martin",
            "givenName": "Alice",
            "jobTitle": null,
            "mail": ALICE.0,
            "mobilePhone": null,
            "officeLocation": null,
            "preferredLanguage": null,
            "surname": "Martin",
            "userPrincipalName": ALICE.0,
            "id": id,
        })
    );

    // `$select` keeps the named properties only, and the context names them.
    let selected = graph(
        &cloud,
        &token,
        "GET",
        "me?$select=id,userPrincipalName,displayName,mail",
        None,
    )
    .await;
    assert_eq!(selected.status, StatusCode::OK);
    assert_eq!(
        selected.body,
        json!({
            "@odata.context": format!(
                "{}$metadata#users(id,userPrincipalName,displayName,mail)/$entity",
                cloud.graph_url
            ),
            "id": id,
            "userPrincipalName": ALICE.0,
            "displayName": "Alice Martin",
            "mail": ALICE.0,
        })
    );
    let unknown = graph(&cloud, &token, "GET", "me?$select=id,shoeSize", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::BAD_REQUEST, "Request_BadRequest")
    );
    let other = graph(&cloud, &token, "GET", "me?$top=1", None).await;
    assert_eq!(
        (other.status, other.inner_code()),
        (StatusCode::BAD_REQUEST, "invalidQueryOption")
    );

    // Without a valid token: 401 InvalidAuthenticationToken, no user data.
    let anonymous = graph(&cloud, "", "GET", "me?$select=id", None).await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken")
    );
    assert!(anonymous.body.get("id").is_none());
    cloud.shutdown().await;
}

#[tokio::test]
async fn bearer_tokens_are_checked_like_graph() {
    let cloud = start().await;
    let tokens = sign_in_with(&cloud, ALICE, SCOPES).await;
    let answer = graph_url("", "GET", &format!("{}me", cloud.graph_url), None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let response = http()
        .get(format!("{}me", cloud.graph_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("Bearer realm=\"\", authorization_uri="),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(body["error"]["message"], "Access token is empty.");
    assert!(body["error"]["innerError"]["request-id"].is_string());
    assert!(body["error"]["innerError"]["date"].is_string());

    let unknown = graph(&cloud, "not-a-token", "GET", "me", None).await;
    assert_eq!(unknown.code(), "InvalidAuthenticationToken");

    // Access tokens expire after expires_in (75 minutes); a refresh recovers.
    cloud.clock().advance(Duration::from_secs(4500));
    let expired = graph(&cloud, &access(&tokens), "GET", "me", None).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        expired.body["error"]["message"],
        "Lifetime validation failed, the token is expired."
    );
    let (_, fresh) = refresh(&cloud, &rt(&tokens)).await;
    assert_eq!(
        graph(&cloud, &access(&fresh), "GET", "me", None)
            .await
            .status,
        StatusCode::OK
    );

    // client-request-id is echoed.
    let response = http()
        .get(format!("{}me", cloud.graph_url))
        .bearer_auth(access(&fresh))
        .header("client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["client-request-id"], "abc-123");
    cloud.shutdown().await;
}

#[tokio::test]
async fn folders_follow_the_conflict_behaviour() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let create = |name: &str, behaviour: Option<&str>| {
        let mut body = json!({"name": name, "folder": {}});
        if let Some(b) = behaviour {
            body["@microsoft.graph.conflictBehavior"] = json!(b);
        }
        graph(&cloud, &token, "POST", "me/drive/root/children", Some(body))
    };
    let print = create("Print", Some("fail")).await;
    assert_eq!(print.status, StatusCode::CREATED);
    assert_eq!(print.body["folder"]["childCount"], 0);
    assert_eq!(print.body["parentReference"]["path"], "/drive/root:");
    assert!(print.body["eTag"].as_str().unwrap().starts_with("\"{"));
    assert!(
        print.body.get("cTag").is_none(),
        "no cTag on business folders"
    );

    for behaviour in [Some("fail"), None] {
        let again = create("print", behaviour).await;
        assert_eq!(
            (again.status, again.code()),
            (StatusCode::CONFLICT, "nameAlreadyExists")
        );
    }
    let renamed = create("Print", Some("rename")).await;
    assert_eq!(
        (renamed.status, renamed.body["name"].as_str()),
        (StatusCode::CREATED, Some("Print 1"))
    );
    let renamed = create("Print", Some("rename")).await;
    assert_eq!(renamed.body["name"], "Print 2");
    let replaced = create("Print", Some("replace")).await;
    assert_eq!(replaced.status, StatusCode::CREATED);
    assert_ne!(replaced.body["id"], print.body["id"], "a new folder");
    assert_eq!(
        create("Print", Some("sideways")).await.status,
        StatusCode::BAD_REQUEST
    );

    // By path, case-insensitively, with or without the closing colon.
    for path in [
        "me/drive/root:/Print:",
        "me/drive/root:/print",
        "me/drive/root:/PRINT:/",
    ] {
        let item = graph(&cloud, &token, "GET", path, None).await;
        assert_eq!(item.body["id"], replaced.body["id"], "{path}");
    }
    let missing = graph(&cloud, &token, "GET", "me/drive/root:/Scan:", None).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "itemNotFound")
    );

    // The emulator creates folders only through POST children.
    let file = graph(
        &cloud,
        &token,
        "POST",
        "me/drive/root/children",
        Some(json!({"name": "x.txt", "file": {}})),
    )
    .await;
    assert_eq!(file.status, StatusCode::BAD_REQUEST);
    cloud.shutdown().await;
}

#[tokio::test]
async fn onedrive_name_rules_are_enforced() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let long = "n".repeat(256);
    let bad = [
        "a\"b",
        "a*b",
        "a:b",
        "a<b",
        "a>b",
        "a?b",
        "a\\b",
        "a|b",
        " lead",
        "trail ",
        "end.",
        "CON",
        "prn.pdf",
        "aux",
        "NUL",
        "COM1",
        "lpt9.txt",
        ".lock",
        "desktop.ini",
        "~$doc.docx",
        "x_vti_y",
        long.as_str(),
    ];
    for name in bad {
        let answer = graph(
            &cloud,
            &token,
            "POST",
            "me/drive/root/children",
            Some(json!({"name": name, "folder": {}})),
        )
        .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "invalidRequest"),
            "{name:?}"
        );
    }
    // The same rules on upload by path.
    let answer = put_content(
        &cloud,
        &token,
        &format!("me/drive/root:/{}:/content", enc("CON.pdf")),
        b"x".to_vec(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = put_content(
        &cloud,
        &token,
        &format!("me/drive/root:/{}:/content", enc("a%3Ab.pdf")),
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "a literal %3A is a fine name: {:?}",
        answer.body
    );
    assert_eq!(answer.body["name"], "a%3Ab.pdf");
    let answer = put_content(
        &cloud,
        &token,
        "me/drive/root:/a%3Ab.pdf:/content",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "an encoded ':' decodes to a colon"
    );
    // Path limits: 400 characters from the root.
    let deep = "d".repeat(200);
    mkdir(&cloud, &token, &deep).await;
    let answer = put_content(
        &cloud,
        &token,
        &format!("me/drive/root:/{deep}/{}:/content", "f".repeat(200)),
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.inner_code()),
        (StatusCode::BAD_REQUEST, "pathIsTooLong")
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn path_segments_are_decoded_exactly_once() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let folder = "My Docs #2 – 50%";
    mkdir(&cloud, &token, folder).await;
    let name = "Report #1 (final) 100% ünï 日本.pdf";
    let path = format!("me/drive/root:/{}/{}:/content", enc(folder), enc(name));
    let created = put_content(&cloud, &token, &path, b"%PDF-1.7".to_vec()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["name"], name);
    assert_eq!(
        created.body["parentReference"]["path"],
        "/drive/root:/My%20Docs%20%232%20%E2%80%93%2050%25"
    );
    assert_eq!(
        cloud
            .graph()
            .file_bytes(ALICE.0, &format!("{folder}/{name}"))
            .unwrap(),
        b"%PDF-1.7"
    );
    let item = graph(
        &cloud,
        &token,
        "GET",
        &format!("me/drive/root:/{}/{}:", enc(folder), enc(name)),
        None,
    )
    .await;
    assert_eq!(item.body["id"], created.body["id"]);
    let listed = graph(
        &cloud,
        &token,
        "GET",
        &format!("me/drive/root:/{}:/children", enc(folder)),
        None,
    )
    .await;
    assert_eq!(listed.body["value"][0]["name"], name);

    // A file literally named "%23.pdf": its URL holds %2523, decoded once.
    cloud
        .graph()
        .put_file(ALICE.0, "Print/%23.pdf", b"literal".to_vec())
        .unwrap();
    let literal = graph(
        &cloud,
        &token,
        "GET",
        "me/drive/root:/Print/%2523.pdf:",
        None,
    )
    .await;
    assert_eq!(
        (literal.status, literal.body["name"].as_str()),
        (StatusCode::OK, Some("%23.pdf"))
    );
    let hash = graph(&cloud, &token, "GET", "me/drive/root:/Print/%23.pdf:", None).await;
    assert_eq!(hash.status, StatusCode::NOT_FOUND, "that would be '#.pdf'");
    let broken = graph(&cloud, &token, "GET", "me/drive/root:/Print/%G1.pdf:", None).await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    let plus = put_content(
        &cloud,
        &token,
        "me/drive/root:/Print/a+b.pdf:/content",
        b"+".to_vec(),
    )
    .await;
    assert_eq!(plus.body["name"], "a+b.pdf", "'+' is literal in a path");
    cloud.shutdown().await;
}

#[tokio::test]
async fn simple_upload_then_download_through_the_content_host() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    mkdir(&cloud, &token, "Print").await;
    let data = bytes(5000);
    let created = put_content(
        &cloud,
        &token,
        "me/drive/root:/Print/Report.pdf:/content",
        data.clone(),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let item = &created.body;
    assert_eq!(item["size"], 5000);
    assert_eq!(item["file"]["mimeType"], "application/pdf");
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    };
    assert_eq!(item["file"]["hashes"]["sha256Hash"], sha);
    assert!(item["cTag"].is_string());
    let download_url = item["@microsoft.graph.downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(download_url.starts_with(cloud.graph().content_url.as_str()));

    // PUT again replaces in place (default conflict behaviour of PUT).
    let replaced = put_content(
        &cloud,
        &token,
        "me/drive/root:/Print/Report.pdf:/content",
        b"v2".to_vec(),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.body["id"], item["id"]);
    assert_ne!(replaced.body["eTag"], item["eTag"]);
    let failed = put_content(
        &cloud,
        &token,
        "me/drive/root:/Print/Report.pdf:/content?@microsoft.graph.conflictBehavior=fail",
        b"v3".to_vec(),
    )
    .await;
    assert_eq!(
        (failed.status, failed.code()),
        (StatusCode::CONFLICT, "nameAlreadyExists")
    );
    let renamed = put_content(
        &cloud,
        &token,
        "me/drive/root:/Print/Report.pdf:/content?@microsoft.graph.conflictBehavior=rename",
        b"v3".to_vec(),
    )
    .await;
    assert_eq!(
        (renamed.status, renamed.body["name"].as_str()),
        (StatusCode::CREATED, Some("Report 1.pdf"))
    );
    let by_id = put_content(
        &cloud,
        &token,
        &format!("me/drive/items/{}/content", item["id"].as_str().unwrap()),
        data.clone(),
    )
    .await;
    assert_eq!(by_id.status, StatusCode::OK);
    let by_parent = put_content(
        &cloud,
        &token,
        &format!(
            "me/drive/items/{}:/New.pdf:/content",
            item["parentReference"]["id"].as_str().unwrap()
        ),
        b"n".to_vec(),
    )
    .await;
    assert_eq!(
        (by_parent.status, by_parent.body["name"].as_str()),
        (StatusCode::CREATED, Some("New.pdf"))
    );
    let no_parent = put_content(
        &cloud,
        &token,
        "me/drive/root:/Nowhere/x.pdf:/content",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        no_parent.status,
        StatusCode::NOT_FOUND,
        "parents are not created implicitly"
    );

    // The stale URL was bound to the replaced content.
    assert_eq!(fetch(&download_url).await.status(), StatusCode::NOT_FOUND);

    // GET content: 302 to a pre-authenticated URL, fetched without Authorization.
    let redirect = graph(
        &cloud,
        &token,
        "GET",
        "me/drive/root:/Print/Report.pdf:/content",
        None,
    )
    .await;
    assert_eq!(redirect.status, StatusCode::FOUND);
    let location = redirect.header("location").unwrap().to_string();
    assert!(location.starts_with(cloud.graph().content_url.as_str()));
    let response = fetch(&location).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert_eq!(response.bytes().await.unwrap().to_vec(), data);
    let partial = http()
        .get(&location)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(partial.headers()["content-range"], "bytes 10-19/5000");
    assert_eq!(
        partial.bytes().await.unwrap().to_vec(),
        data[10..20].to_vec()
    );
    let beyond = http()
        .get(&location)
        .header("range", "bytes=5000-")
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(beyond.headers()["content-range"], "bytes */5000");

    // A bearer token must never reach the content host.
    assert_eq!(
        cloud
            .graph()
            .stats()
            .authorization_headers_on_content_host(),
        0
    );
    let with_auth = http()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_auth.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        cloud
            .graph()
            .stats()
            .authorization_headers_on_content_host(),
        1
    );

    let folder = graph(&cloud, &token, "GET", "me/drive/root:/Print:/content", None).await;
    assert_eq!(
        folder.status,
        StatusCode::BAD_REQUEST,
        "folders have no content"
    );

    // Download URLs are short-lived.
    cloud.clock().advance(Duration::from_secs(3601));
    assert_eq!(fetch(&location).await.status(), StatusCode::UNAUTHORIZED);
    let tampered = location.replace("/dl/", "/dl/x");
    assert_eq!(fetch(&tampered).await.status(), StatusCode::UNAUTHORIZED);
    let stats = cloud.graph().stats();
    assert_eq!(stats.requests("GET content"), 2);
    assert!(stats.requests("GET download") >= 5);
    cloud.shutdown().await;
}

#[tokio::test]
async fn children_page_with_top_and_next_links() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let names: Vec<String> = (0..7).map(|i| format!("doc {i}.pdf")).collect();
    for name in &names {
        cloud
            .graph()
            .put_file(ALICE.0, &format!("Print/{name}"), b"x".to_vec())
            .unwrap();
    }
    let all = graph(
        &cloud,
        &token,
        "GET",
        "me/drive/root:/Print:/children",
        None,
    )
    .await;
    assert_eq!(all.body["value"].as_array().unwrap().len(), 7);
    assert!(all.body.get("@odata.nextLink").is_none());

    let mut seen = Vec::new();
    let mut url = format!("{}me/drive/root:/Print:/children?$top=3", cloud.graph_url);
    let mut pages = 0;
    loop {
        let page = graph_url(&token, "GET", &url, None).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        pages += 1;
        let value = page.body["value"].as_array().unwrap();
        assert!(value.len() <= 3);
        seen.extend(
            value
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_string()),
        );
        match page.body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(cloud.graph_url.as_str()),
                    "absolute: {next}"
                );
                assert!(next.contains("$skiptoken=") && next.contains("$top=3"));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!((pages, seen.clone()), (3, names.clone()));

    // Newest first, across pages.
    for (i, name) in names.iter().enumerate() {
        let at = cloud.clock().now().plus(Duration::from_secs(i as u64 * 10));
        assert!(cloud
            .graph()
            .set_last_modified(ALICE.0, &format!("Print/{name}"), at));
    }
    let mut newest = Vec::new();
    let mut url = format!(
        "{}me/drive/root:/Print:/children?$orderby=lastModifiedDateTime%20desc&$top=4&$select=name,lastModifiedDateTime",
        cloud.graph_url
    );
    loop {
        let page = graph_url(&token, "GET", &url, None).await;
        for item in page.body["value"].as_array().unwrap() {
            assert_eq!(item.as_object().unwrap().len(), 2, "$select: {item}");
            newest.push(item["name"].as_str().unwrap().to_string());
        }
        match page.body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    let mut expected = names.clone();
    expected.reverse();
    assert_eq!(newest, expected);

    for (query, status) in [
        ("$top=0", StatusCode::BAD_REQUEST),
        ("$top=1001", StatusCode::BAD_REQUEST),
        ("$top=1000", StatusCode::OK),
        ("$top=x", StatusCode::BAD_REQUEST),
        ("$skiptoken=garbage", StatusCode::BAD_REQUEST),
        ("$orderby=createdDateTime", StatusCode::BAD_REQUEST),
        ("$select=name,nonsense", StatusCode::BAD_REQUEST),
        ("$bogus=1", StatusCode::BAD_REQUEST),
        ("$expand=thumbnails", StatusCode::NOT_IMPLEMENTED),
        ("unrelated=ignored", StatusCode::OK),
    ] {
        let answer = graph(
            &cloud,
            &token,
            "GET",
            &format!("me/drive/root:/Print:/children?{query}"),
            None,
        )
        .await;
        assert_eq!(answer.status, status, "{query}: {:?}", answer.body);
    }
    // A skiptoken of one listing does not fit another.
    let first = graph(
        &cloud,
        &token,
        "GET",
        "me/drive/root:/Print:/children?$top=1",
        None,
    )
    .await;
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    let token_part = next.split("$skiptoken=").nth(1).unwrap();
    let mismatch = graph(
        &cloud,
        &token,
        "GET",
        &format!("me/drive/root:/Print:/children?$orderby=size&$skiptoken={token_part}"),
        None,
    )
    .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    cloud.shutdown().await;
}

#[tokio::test]
async fn items_move_rename_and_delete() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let print = mkdir(&cloud, &token, "Print").await;
    let archive = mkdir(&cloud, &token, "Archive").await;
    let id = cloud
        .graph()
        .put_file(ALICE.0, "Print/a.pdf", b"a".to_vec())
        .unwrap();
    cloud
        .graph()
        .put_file(ALICE.0, "Archive/b.pdf", b"b".to_vec())
        .unwrap();
    let item_path = format!("me/drive/items/{id}");

    let renamed = graph(
        &cloud,
        &token,
        "PATCH",
        &item_path,
        Some(json!({"name": "A renamed.pdf"})),
    )
    .await;
    assert_eq!(
        (renamed.status, renamed.body["name"].as_str()),
        (StatusCode::OK, Some("A renamed.pdf"))
    );
    let moved = graph(
        &cloud,
        &token,
        "PATCH",
        &item_path,
        Some(json!({"parentReference": {"id": archive["id"]}, "name": "b.pdf"})),
    )
    .await;
    assert_eq!(
        (moved.status, moved.code()),
        (StatusCode::CONFLICT, "nameAlreadyExists")
    );
    let moved = graph(
        &cloud,
        &token,
        "PATCH",
        &format!("{item_path}?@microsoft.graph.conflictBehavior=rename"),
        Some(json!({"parentReference": {"id": archive["id"]}, "name": "b.pdf"})),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["name"], "b 1.pdf");
    assert_eq!(
        moved.body["parentReference"]["path"],
        "/drive/root:/Archive"
    );
    assert_eq!(moved.body["id"], id.as_str(), "ids survive moves");
    let root_alias = graph(
        &cloud,
        &token,
        "PATCH",
        &item_path,
        Some(json!({"parentReference": {"id": "root"}})),
    )
    .await;
    assert_eq!(
        root_alias.status,
        StatusCode::BAD_REQUEST,
        "Graph wants the real root id"
    );
    let into_itself = graph(
        &cloud,
        &token,
        "PATCH",
        &format!("me/drive/items/{}", print["id"].as_str().unwrap()),
        Some(json!({"parentReference": {"id": print["id"]}})),
    )
    .await;
    assert_eq!(into_itself.status, StatusCode::BAD_REQUEST);
    let unknown_property = graph(
        &cloud,
        &token,
        "PATCH",
        &item_path,
        Some(json!({"size": 1})),
    )
    .await;
    assert_eq!(unknown_property.status, StatusCode::BAD_REQUEST);

    // If-Match guards against stale writes.
    let stale = http()
        .delete(format!("{}{item_path}", cloud.graph_url))
        .bearer_auth(&token)
        .header("if-match", renamed.body["eTag"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let deleted = graph(&cloud, &token, "DELETE", &item_path, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        graph(&cloud, &token, "GET", &item_path, None).await.status,
        StatusCode::NOT_FOUND
    );
    let root = graph(&cloud, &token, "DELETE", "me/drive/root", None).await;
    assert_eq!(root.status, StatusCode::FORBIDDEN);
    cloud.shutdown().await;
}

#[tokio::test]
async fn hooks_change_the_drive_behind_the_clients_back() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    let g = cloud.graph();
    g.put_file(ALICE.0, "Print/one.pdf", b"1".to_vec()).unwrap();
    g.create_folder(ALICE.0, "Scan/2026").unwrap();
    let listed: Vec<String> = g
        .list(ALICE.0, "")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(listed, ["Print", "Scan"]);
    assert!(g.list(BOB.0, "Print").is_none(), "drives are per user");

    let print_id = g.item_id(ALICE.0, "Print").unwrap();
    g.rename(ALICE.0, "Print", "Printed").unwrap();
    let gone = graph(&cloud, &token, "GET", "me/drive/root:/Print:", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let by_id = graph(
        &cloud,
        &token,
        "GET",
        &format!("me/drive/items/{print_id}"),
        None,
    )
    .await;
    assert_eq!(by_id.body["name"], "Printed");
    g.move_item(ALICE.0, "Printed", "Scan").unwrap();
    assert_eq!(g.file_bytes(ALICE.0, "Scan/Printed/one.pdf").unwrap(), b"1");
    assert!(g.delete(ALICE.0, "Scan"));
    assert!(!g.delete(ALICE.0, "Scan"));
    assert_eq!(
        graph(
            &cloud,
            &token,
            "GET",
            &format!("me/drive/items/{print_id}"),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert!(g.put_file(ALICE.0, "bad/CON", b"x".to_vec()).is_err());
    cloud.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let cloud = start().await;
    let token = sign_in(&cloud, ALICE).await;
    for path in [
        "users",
        "me/messages",
        "me/drive/special/documents",
        "me/drive/root:/a:/thumbnails",
    ] {
        let answer = graph(&cloud, &token, "GET", path, None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
    }
    let beta = graph_url(
        &token,
        "GET",
        cloud.graph_url.join("../beta/me").unwrap().as_str(),
        None,
    )
    .await;
    assert_eq!(beta.status, StatusCode::BAD_REQUEST);
    let answer = graph(&cloud, &token, "POST", "me", Some(json!({}))).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(cloud.graph().stats().requests("other"), 6);
    cloud.shutdown().await;
}
