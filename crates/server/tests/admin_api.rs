//! The administration API over real sockets (`/api/v1` on the HTTP listener): tokens and
//! scopes, every endpoint's answers and errors, writes acting on real clients as an
//! operator's commands would, the audit log of every write, the OpenAPI description, and
//! tokens reloaded.

mod support;

use palaver_server::accounts::hash_password;
use palaver_server::admin;
use palaver_server::config::{FileConfig, Overrides};
use serde_json::{Value, json};
use support::operations::{Response, request};
use support::{IrcClient, SERVER, TestServer, irc_mask, join_all};

const READ: &str = "grafana:read-secret";
const WRITE: &str = "ops:write-secret";

/// A server with the HTTP listener, a `read` token `grafana` and a `write` token `ops`, and
/// its audit log in `directory`.
async fn server(directory: &tempfile::TempDir) -> TestServer {
    TestServer::start_with_config(
        &config(
            directory,
            &[
                ("grafana", "read-secret", "read"),
                ("ops", "write-secret", "write"),
            ],
        ),
        http(),
    )
    .await
}

/// A configuration file with these tokens (name, secret, scope), as an administrator writes
/// it: the secrets' hashes, never the secrets.
fn config(directory: &tempfile::TempDir, tokens: &[(&str, &str, &str)]) -> String {
    let mut toml = format!(
        "[admin]\naudit_log = \"{}\"\n",
        directory.path().join("audit.jsonl").display()
    );
    for (name, secret, scope) in tokens {
        let hash = hash_password(secret).expect("hash");
        toml.push_str(&format!(
            "[[admin.token]]\nname = \"{name}\"\nsecret_hash = \"{hash}\"\nscope = \"{scope}\"\n"
        ));
    }
    toml
}

fn http() -> Overrides {
    Overrides {
        http_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..Overrides::default()
    }
}

/// `METHOD /api/v1PATH` with `token` (if any) and a JSON `body` (if any).
async fn call(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Response {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect();
    let body = body.map(|body| body.to_string());
    let address = server.http_address.expect("an HTTP listener");
    request(
        address,
        method,
        &format!("/api/v1{path}"),
        &headers,
        body.as_deref(),
    )
    .await
}

/// The JSON body of `response`, which must have status `status`.
fn json_of(response: &Response, status: u16) -> Value {
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(
        response.content_type.as_deref(),
        Some("application/json"),
        "{response:?}"
    );
    serde_json::from_str(&response.body).expect("a JSON body")
}

/// `response` must be the error `code` with status `status`; returns its message.
fn error_of(response: &Response, status: u16, code: &str) -> String {
    let body = json_of(response, status);
    assert_eq!(body["error"], code, "{body}");
    body["message"].as_str().expect("a message").to_owned()
}

/// IRC users `alice` (the room's operator) and `bob`, with `caps`, both in `room`.
async fn alice_and_bob_in(
    server: &TestServer,
    room: &str,
    caps: &[&str],
) -> (IrcClient, IrcClient) {
    let mut alice = server.irc_with_caps("alice", caps).await;
    let mut bob = server.irc_with_caps("bob", caps).await;
    join_all(room, &mut [&mut alice, &mut bob]).await;
    (alice, bob)
}

/// `METHOD /api/v1PATH` must be answered with `status` and JSON; returns the JSON.
async fn answer(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    json_of(&call(server, token, method, path, body).await, status)
}

/// `METHOD /api/v1PATH` must be refused with `status` and the error `code`; returns its
/// message.
async fn refusal(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
    code: &str,
) -> String {
    error_of(&call(server, token, method, path, body).await, status, code)
}

/// The newest `limit` entries of the audit log, as `[token, action, target, outcome,
/// status]`.
async fn audit(server: &TestServer, limit: usize) -> Vec<[String; 5]> {
    let log = answer(
        server,
        Some(READ),
        "GET",
        &format!("/audit?limit={limit}"),
        None,
        200,
    )
    .await;
    log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| {
            let text = |key: &str| match &entry[key] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            [
                text("token"),
                text("action"),
                text("target"),
                text("outcome"),
                text("status"),
            ]
        })
        .collect()
}

/// The audit log's entries (up to 100) as (action, target, outcome), oldest first.
async fn audited_actions(server: &TestServer) -> Vec<(String, String, String)> {
    audit(server, 100)
        .await
        .into_iter()
        .map(|[_, action, target, outcome, _]| (action, target, outcome))
        .collect()
}

fn entry(token: &str, action: &str, target: &str, outcome: &str, status: u16) -> [String; 5] {
    [token, action, target, outcome, &status.to_string()].map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_described_endpoint_needs_a_token_and_the_description_is_served() {
    let directory = tempfile::tempdir().unwrap();
    let server = server(&directory).await;
    let description = admin::description();
    let mut endpoints = 0;
    for (path, item) in &description.paths.paths {
        // Any value will do for the path's parameters: the token is checked first.
        let path = path
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (method, _) in methods.iter().filter(|(_, described)| *described) {
            endpoints += 1;
            let response = call(&server, None, method, &path, None).await;
            error_of(&response, 401, "unauthorized");
            assert_eq!(
                response.header("www-authenticate"),
                Some("Bearer realm=\"palaver\""),
                "{method} {path}"
            );
        }
    }
    assert_eq!(endpoints, 20, "every endpoint of the router is described");

    let served = call(&server, None, "GET", "/openapi.json", None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, admin::to_json(&description));
    let missing = call(&server, Some(READ), "GET", "/nothing-here", None).await;
    error_of(&missing, 404, "not_found");
    // The operations endpoints beside the API need no token, as before.
    let address = server.http_address.unwrap();
    assert_eq!(
        support::operations::get(address, "/healthz").await.status,
        200
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_lists_users_and_rooms_but_may_not_write() {
    let directory = tempfile::tempdir().unwrap();
    let server = server(&directory).await;
    let (mut alice, mut bob) = alice_and_bob_in(&server, "#ops", &[]).await;
    alice.send("MODE #ops +sk sesame").await;
    alice
        .expect_line(&format!(":{} MODE #ops +sk sesame", irc_mask("alice")))
        .await;
    alice.send("TOPIC #ops :the operators' room").await;
    alice.skip_until(|message| message.command == "TOPIC").await;
    let mut text = server.client().await;

    let status = answer(&server, Some(READ), "GET", "/status", None, 200).await;
    assert_eq!(status["server_name"], SERVER);
    assert_eq!(
        (status["users"].as_u64(), status["rooms"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(status["store"], "sqlite");

    let users = answer(&server, Some(READ), "GET", "/users", None, 200).await;
    let nicks: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["nick"].as_str().unwrap())
        .collect();
    assert_eq!(users["total"], 3);
    assert_eq!(nicks[..2], ["alice", "bob"]);
    assert!(nicks[2].starts_with("guest-"), "{nicks:?}");
    let page = answer(
        &server,
        Some(READ),
        "GET",
        "/users?mask=*!~*@*&offset=1&limit=1",
        None,
        200,
    )
    .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["users"][0]["nick"], "bob");

    let bob_details = answer(&server, Some(READ), "GET", "/users/BOB", None, 200).await;
    assert_eq!(bob_details["nick"], "bob");
    assert_eq!(bob_details["address"], "127.0.0.1");
    assert_eq!(
        bob_details["memberships"],
        json!([{"room": "#ops", "op": false, "voice": false}])
    );

    // A secret room is listed, with its key: the API sees as a member would.
    let rooms = answer(&server, Some(READ), "GET", "/rooms?mask=%23OP*", None, 200).await;
    assert_eq!(rooms["total"], 1);
    assert_eq!(rooms["rooms"][0]["name"], "#ops");
    assert_eq!(rooms["rooms"][0]["topic"], "the operators' room");
    let room = answer(&server, Some(READ), "GET", "/rooms/%23ops", None, 200).await;
    assert_eq!(room["modes"], "+nstk sesame");
    assert_eq!(
        room["members"],
        json!([
            {"nick": "alice", "op": true, "voice": false, "away": false},
            {"nick": "bob", "op": false, "voice": false, "away": false},
        ])
    );
    assert_eq!(room["topic"]["set_by"], irc_mask("alice"));

    refusal(
        &server,
        Some(READ),
        "GET",
        "/users/nobody",
        None,
        404,
        "not_found",
    )
    .await;
    refusal(
        &server,
        Some(READ),
        "GET",
        "/rooms/%23nowhere",
        None,
        404,
        "not_found",
    )
    .await;
    refusal(
        &server,
        Some(READ),
        "GET",
        "/users?limit=0",
        None,
        400,
        "bad_request",
    )
    .await;
    refusal(
        &server,
        Some(READ),
        "GET",
        "/rooms?limit=many",
        None,
        400,
        "bad_request",
    )
    .await;

    // A read token's write is refused, changes nothing, and is audited.
    let refused = call(
        &server,
        Some(READ),
        "POST",
        "/users/bob/kill",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        error_of(&refused, 403, "forbidden"),
        "the token grafana may only read"
    );
    bob.expect_line(&format!(":{} MODE #ops +sk sesame", irc_mask("alice")))
        .await;
    bob.expect_line(&format!(
        ":{} TOPIC #ops :the operators' room",
        irc_mask("alice")
    ))
    .await;
    bob.send("PING :still here").await;
    bob.expect_line(&format!(":{SERVER} PONG {SERVER} :still here"))
        .await;
    assert_eq!(
        audit(&server, 10).await,
        [entry(
            "grafana",
            "POST /api/v1/users/{nick}/kill",
            "/api/v1/users/bob/kill",
            "refused",
            403
        )]
    );
    text.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_are_refused_and_limited_per_address_like_logins() {
    let directory = tempfile::tempdir().unwrap();
    let server = server(&directory).await;
    let scheme_only = [("Authorization", "Basic b3BzOndyaXRlLXNlY3JldA==")];
    let address = server.http_address.unwrap();
    let basic = request(address, "GET", "/api/v1/status", &scheme_only, None).await;
    assert!(error_of(&basic, 401, "unauthorized").contains("Bearer NAME:SECRET"));
    // A wrong secret, an unknown name and a token without its secret get the same answer.
    for token in [
        "ops:wrong",
        "nobody:write-secret",
        "ops",
        "ops:wrong",
        "ops:wrong",
    ] {
        let response = call(&server, Some(token), "GET", "/status", None).await;
        assert_eq!(error_of(&response, 401, "unauthorized"), "wrong token");
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"palaver\"")
        );
    }
    // Four failures on `ops` and one on `nobody` from this address: one more on `ops` is the
    // fifth, then even the right secret waits.
    refusal(
        &server,
        Some("ops:guess"),
        "GET",
        "/status",
        None,
        401,
        "unauthorized",
    )
    .await;
    let limited = call(&server, Some(WRITE), "GET", "/status", None).await;
    error_of(&limited, 429, "too_many_failures");
    assert_eq!(limited.header("retry-after"), Some("60"));
    // Another token is not held back by `ops`'s failures.
    answer(&server, Some(READ), "GET", "/status", None, 200).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_change_on_reload() {
    let directory = tempfile::tempdir().unwrap();
    let server = server(&directory).await;
    answer(&server, Some(READ), "GET", "/status", None, 200).await;
    let file = FileConfig::parse(&config(&directory, &[("grafana", "rotated", "write")])).unwrap();
    let new = palaver_server::Config::resolve(
        file,
        Overrides {
            database: Some(":memory:".into()),
            ..http()
        },
    )
    .unwrap();
    let mut new_config = server.config.clone();
    new_config.admin = new.admin;
    let reloaded = server.reloader.reload(new_config);
    assert_eq!(reloaded.applied, ["[[admin.token]] entries (1)"]);
    assert_eq!(reloaded.needs_restart, Vec::<&str>::new());
    refusal(
        &server,
        Some(READ),
        "GET",
        "/status",
        None,
        401,
        "unauthorized",
    )
    .await;
    refusal(
        &server,
        Some(WRITE),
        "GET",
        "/status",
        None,
        401,
        "unauthorized",
    )
    .await;
    let rotated = call(
        &server,
        Some("grafana:rotated"),
        "POST",
        "/users/nobody/kill",
        Some(json!({})),
    )
    .await;
    error_of(&rotated, 404, "not_found");
    server.shut_down().await;
}

/// An IRC client that sees message ids and deletions.
const REDACTING: &[&str] = &["message-tags", "echo-message", "draft/message-redaction"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_act_on_rooms_as_a_room_operator_would_and_are_audited() {
    let directory = tempfile::tempdir().unwrap();
    let server = server(&directory).await;
    let (mut alice, mut bob) = alice_and_bob_in(&server, "#help", REDACTING).await;
    let by = format!("{SERVER}!services@{SERVER}");

    // Topic and modes, though the API is no member of the room.
    let topic = call(
        &server,
        Some(WRITE),
        "PUT",
        "/rooms/%23help/topic",
        Some(json!({"topic": "ask here"})),
    )
    .await;
    assert_eq!(
        json_of(&topic, 200),
        json!({"room": "#help", "topic": "ask here"})
    );
    for client in [&mut alice, &mut bob] {
        client
            .expect_line(&format!(":{by} TOPIC #help :ask here"))
            .await;
    }
    let modes = json!({"modes": "+mv-o", "arguments": ["bob", "nobody"]});
    let set = answer(
        &server,
        Some(WRITE),
        "POST",
        "/rooms/%23help/modes",
        Some(modes),
        200,
    )
    .await;
    assert_eq!(
        set,
        json!({"room": "#help", "applied": "+mv bob", "refused": ["no such nick: nobody"]})
    );
    for client in [&mut alice, &mut bob] {
        client
            .expect_line(&format!(":{by} MODE #help +mv bob"))
            .await;
    }
    let bad_modes = call(
        &server,
        Some(WRITE),
        "POST",
        "/rooms/%23help/modes",
        Some(json!({"modes": "+l"})),
    )
    .await;
    error_of(&bad_modes, 400, "bad_request");

    // Deleting a message by its id.
    bob.send("PRIVMSG #help :buy cheap watches").await;
    let msgid = bob
        .message()
        .await
        .tag("msgid")
        .expect("a msgid")
        .to_owned();
    alice.message().await;
    assert_eq!(
        answer(
            &server,
            Some(WRITE),
            "DELETE",
            &format!("/rooms/%23help/messages/{msgid}?reason=spam"),
            None,
            200
        )
        .await,
        json!({"room": "#help", "msgid": msgid})
    );
    for client in [&mut alice, &mut bob] {
        let redact = client.message().await;
        assert_eq!(
            (redact.command.as_str(), redact.params.as_slice()),
            (
                "REDACT",
                &["#help".to_owned(), msgid.clone(), "spam".to_owned()][..]
            )
        );
    }
    let again = call(
        &server,
        Some(WRITE),
        "DELETE",
        &format!("/rooms/%23help/messages/{msgid}"),
        None,
    )
    .await;
    error_of(&again, 404, "not_found");
    let not_an_id = call(
        &server,
        Some(WRITE),
        "DELETE",
        "/rooms/%23help/messages/zz",
        None,
    )
    .await;
    error_of(&not_an_id, 400, "bad_request");

    // Kicking.
    let kick = json!({"nick": "bob", "reason": "enough"});
    let kicked = call(
        &server,
        Some(WRITE),
        "POST",
        "/rooms/%23help/kick",
        Some(kick.clone()),
    )
    .await;
    assert_eq!(
        json_of(&kicked, 200),
        json!({"room": "#help", "nick": "bob"})
    );
    for client in [&mut alice, &mut bob] {
        client
            .expect_line(&format!(":{by} KICK #help bob enough"))
            .await;
    }
    let twice = call(
        &server,
        Some(WRITE),
        "POST",
        "/rooms/%23help/kick",
        Some(kick),
    )
    .await;
    assert_eq!(error_of(&twice, 422, "refused"), "bob is not in #help");
    let nowhere = call(
        &server,
        Some(WRITE),
        "POST",
        "/rooms/%23nowhere/kick",
        Some(json!({"nick": "bob"})),
    )
    .await;
    error_of(&nowhere, 404, "not_found");
    let no_json = call(
        &server,
        Some(WRITE),
        "POST",
        "/rooms/%23help/kick",
        Some(json!({"who": "bob"})),
    )
    .await;
    error_of(&no_json, 400, "bad_request");

    let write = |action: &str, target: &str, outcome: &str, status: u16| {
        entry("ops", action, target, outcome, status)
    };
    assert_eq!(
        audit(&server, 100).await,
        [
            write("PUT /api/v1/rooms/{room}/topic", "#help", "done", 200),
            write("POST /api/v1/rooms/{room}/modes", "#help", "done", 200),
            write("POST /api/v1/rooms/{room}/modes", "#help", "refused", 400),
            write(
                "DELETE /api/v1/rooms/{room}/messages/{msgid}",
                &format!("#help {msgid}"),
                "done",
                200
            ),
            write(
                "DELETE /api/v1/rooms/{room}/messages/{msgid}",
                &format!("#help {msgid}"),
                "refused",
                404
            ),
            write(
                "DELETE /api/v1/rooms/{room}/messages/{msgid}",
                "#help zz",
                "refused",
                400
            ),
            write("POST /api/v1/rooms/{room}/kick", "#help", "done", 200),
            write("POST /api/v1/rooms/{room}/kick", "#help", "refused", 422),
            write("POST /api/v1/rooms/{room}/kick", "#nowhere", "refused", 404),
            write("POST /api/v1/rooms/{room}/kick", "#help", "refused", 400),
        ]
    );
    // The file holds the same entries, one JSON object a line, with the outcome in words.
    let file = std::fs::read_to_string(directory.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = file
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[6]["detail"], "kicked bob from #help (enough)");
    assert_eq!(lines[7]["detail"], "bob is not in #help");
    assert!(
        lines[9]["detail"]
            .as_str()
            .unwrap()
            .contains("missing field `nick`"),
        "{}",
        lines[9]
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_kill_ban_and_manage_accounts() {
    let directory = tempfile::tempdir().unwrap();
    let server = server(&directory).await;
    let (mut alice, mut bob) = alice_and_bob_in(&server, "#a", &[]).await;
    assert_eq!(
        answer(
            &server,
            Some(WRITE),
            "POST",
            "/users/BOB/kill",
            Some(json!({"reason": "spam"})),
            200
        )
        .await,
        json!({"nick": "bob"})
    );
    let closing = bob.expect_closed().await;
    assert_eq!(
        closing.last().map(String::as_str),
        Some("ERROR :Closing link: (~bob@127.0.0.1) [Killed (palaver.local (spam))]"),
        "{closing:?}"
    );
    alice
        .expect_line(":bob!~bob@127.0.0.1 QUIT :Killed (palaver.local (spam))")
        .await;
    let gone = call(
        &server,
        Some(WRITE),
        "POST",
        "/users/bob/kill",
        Some(json!({})),
    )
    .await;
    error_of(&gone, 404, "not_found");

    // A server ban, with a duration, disconnects whom it bars.
    let ban = json!({"target": "alice!*@*", "duration": "1h", "reason": "flooding"});
    let added = answer(&server, Some(WRITE), "POST", "/bans", Some(ban), 201).await;
    assert_eq!(
        (&added["disconnected"], &added["saved"]),
        (&json!(1), &json!(true))
    );
    assert_eq!(added["ban"]["target"], "alice!*@*");
    assert_eq!(added["ban"]["set_by"], "api:ops (palaver.local)");
    assert!(added["ban"]["expires"].is_string());
    alice.expect_closed().await;
    let bans = answer(&server, Some(READ), "GET", "/bans", None, 200).await;
    assert_eq!(bans["bans"].as_array().unwrap().len(), 1);
    let bad = json!({"target": "alice", "duration": "soon"});
    refusal(
        &server,
        Some(WRITE),
        "POST",
        "/bans",
        Some(bad),
        400,
        "bad_request",
    )
    .await;
    assert_eq!(
        answer(
            &server,
            Some(WRITE),
            "DELETE",
            "/bans?target=alice!*@*",
            None,
            200
        )
        .await,
        json!({"target": "alice!*@*"})
    );
    let again = call(
        &server,
        Some(WRITE),
        "DELETE",
        "/bans?target=alice!*@*",
        None,
    )
    .await;
    assert_eq!(
        error_of(&again, 404, "not_found"),
        "there is no ban on alice!*@*"
    );
    let alice = server.irc("alice").await;

    // Accounts: registered, then their password reset, logging their sessions out.
    let account = json!({"name": "carol", "password": "first-password"});
    assert_eq!(
        answer(
            &server,
            Some(WRITE),
            "POST",
            "/accounts",
            Some(account.clone()),
            201
        )
        .await,
        json!({"name": "carol"})
    );
    refusal(
        &server,
        Some(WRITE),
        "POST",
        "/accounts",
        Some(account),
        409,
        "conflict",
    )
    .await;
    let short = json!({"name": "dave", "password": "x"});
    refusal(
        &server,
        Some(WRITE),
        "POST",
        "/accounts",
        Some(short),
        422,
        "refused",
    )
    .await;
    let mut carol = support::irc_sasl(&server, "carol", "carol", "first-password", &[]).await;
    let reset = json!({"password": "second-password"});
    let done = call(
        &server,
        Some(WRITE),
        "PUT",
        "/accounts/CAROL/password",
        Some(reset.clone()),
    )
    .await;
    assert_eq!(
        json_of(&done, 200),
        json!({"name": "carol", "logged_out": 1})
    );
    carol.skip_until(|message| message.command == "901").await;
    let unknown = call(
        &server,
        Some(WRITE),
        "PUT",
        "/accounts/nobody/password",
        Some(reset),
    )
    .await;
    assert_eq!(
        error_of(&unknown, 404, "not_found"),
        "no such account: nobody"
    );
    support::irc_sasl(&server, "carol2", "carol", "second-password", &[]).await;

    let outcomes = audited_actions(&server).await;
    let expected = [
        ("POST /api/v1/users/{nick}/kill", "BOB", "done"),
        ("POST /api/v1/users/{nick}/kill", "bob", "refused"),
        ("POST /api/v1/bans", "alice!*@*", "done"),
        ("POST /api/v1/bans", "alice", "refused"),
        ("DELETE /api/v1/bans", "alice!*@*", "done"),
        ("DELETE /api/v1/bans", "alice!*@*", "refused"),
        ("POST /api/v1/accounts", "carol", "done"),
        ("POST /api/v1/accounts", "carol", "refused"),
        ("POST /api/v1/accounts", "dave", "refused"),
        ("PUT /api/v1/accounts/{name}/password", "CAROL", "done"),
        ("PUT /api/v1/accounts/{name}/password", "nobody", "refused"),
    ];
    assert_eq!(
        outcomes,
        expected.map(|(a, t, o)| (a.to_owned(), t.to_owned(), o.to_owned()))
    );
    drop(alice);
    server.shut_down().await;
}

/// `AUTHENTICATE SCRAM-SHA-256` as `account` with `password` up to the client's final message,
/// whose answer is left to read.
async fn scram_until_proof(client: &mut IrcClient, account: &str, password: &str) {
    use base64::Engine;
    let base64 = base64::engine::general_purpose::STANDARD;
    client.send("AUTHENTICATE SCRAM-SHA-256").await;
    client.expect_raw("AUTHENTICATE +").await;
    let bare = format!("n={account},r=fyko+d2lbbFgONRv9qkxdawL");
    let first = base64.encode(format!("n,,{bare}"));
    client.send(&format!("AUTHENTICATE {first}")).await;
    let challenge = client.expect_command("AUTHENTICATE").await;
    let server_first = String::from_utf8(base64.decode(&challenge.params[0]).unwrap()).unwrap();
    let (client_final, _) =
        palaver_server::accounts::scram::client_final(password, &bare, &server_first).unwrap();
    let client_final = base64.encode(client_final);
    client.send(&format!("AUTHENTICATE {client_final}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_is_logged_out_and_refused_at_every_login_until_unlocked() {
    let directory = tempfile::tempdir().unwrap();
    let server = server(&directory).await;
    let account =
        json!({"name": "carol", "password": "first-password", "email": "carol@example.org"});
    answer(
        &server,
        Some(WRITE),
        "POST",
        "/accounts",
        Some(account),
        201,
    )
    .await;
    let mut cara = support::irc_sasl(&server, "cara", "carol", "first-password", &[]).await;
    let mut tom = support::Client::named(server.address, "tom").await;
    tom.send("/login carol first-password").await;
    tom.skip_until("-- you are now logged in as carol").await;
    let details = answer(&server, Some(READ), "GET", "/accounts/CAROL", None, 200).await;
    assert_eq!(details["name"], "carol");
    assert_eq!(details["email"], "carol@example.org");
    assert_eq!(details["locked"], Value::Null);
    assert_eq!(details["certificates"], 0);
    assert_eq!(details["sessions"], json!(["cara", "carol"]));

    // A read token may not lock; the write token does, and both sessions are logged out.
    let lock = json!({"reason": "spamming"});
    refusal(
        &server,
        Some(READ),
        "POST",
        "/accounts/carol/lock",
        Some(lock.clone()),
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        answer(
            &server,
            Some(WRITE),
            "POST",
            "/accounts/Carol/lock",
            Some(lock.clone()),
            200
        )
        .await,
        json!({"name": "carol", "reason": "spamming", "logged_out": 2})
    );
    cara.expect_raw(&format!(
        ":{SERVER} 901 cara cara!~cara@127.0.0.1 :You are now logged out"
    ))
    .await;
    cara.expect_raw(&support::nickserv_line(
        "cara",
        "You were logged out: an administrator locked your account.",
    ))
    .await;
    tom.skip_until("-- you were logged out: an administrator locked your account")
        .await;
    let details = answer(&server, Some(READ), "GET", "/accounts/carol", None, 200).await;
    assert_eq!(details["locked"]["reason"], "spamming");
    assert_eq!(details["locked"]["by"], "api:ops");
    assert!(details["locked"]["at"].is_string(), "{details}");
    assert_eq!(details["sessions"], json!([]));

    // Every login with the right password is refused and says why; a wrong one learns nothing.
    let locked = "account carol is locked (spamming)";
    let mut dave = IrcClient::connect(server.irc_address).await;
    dave.send("CAP REQ sasl").await;
    dave.expect_command("CAP").await;
    dave.send("AUTHENTICATE PLAIN").await;
    dave.expect_raw("AUTHENTICATE +").await;
    let plain = support::sasl_plain("carol", "first-password");
    dave.send(&format!("AUTHENTICATE {plain}")).await;
    dave.expect_raw(&format!(
        ":{SERVER} 904 * :SASL authentication failed: {locked}"
    ))
    .await;
    dave.send("AUTHENTICATE PLAIN").await;
    dave.expect_raw("AUTHENTICATE +").await;
    let wrong = support::sasl_plain("carol", "wrong-password");
    dave.send(&format!("AUTHENTICATE {wrong}")).await;
    dave.expect_raw(&format!(":{SERVER} 904 * :SASL authentication failed"))
        .await;
    scram_until_proof(&mut dave, "carol", "first-password").await;
    dave.expect_raw(&format!(
        ":{SERVER} 904 * :SASL authentication failed: {locked}"
    ))
    .await;
    let mut erin = server.irc("erin").await;
    erin.send("PRIVMSG NickServ :IDENTIFY carol first-password")
        .await;
    erin.expect_raw(&support::nickserv_line(
        "erin",
        &format!("Login failed: {locked}."),
    ))
    .await;
    tom.send("/login carol first-password").await;
    tom.skip_until(&format!("! {locked}")).await;

    // Unlocked, the account logs in again; unlocking twice changes nothing.
    let unlocked = answer(
        &server,
        Some(WRITE),
        "POST",
        "/accounts/carol/unlock",
        None,
        200,
    )
    .await;
    assert_eq!(unlocked, json!({"name": "carol", "was_locked": true}));
    let again = answer(
        &server,
        Some(WRITE),
        "POST",
        "/accounts/carol/unlock",
        None,
        200,
    )
    .await;
    assert_eq!(again, json!({"name": "carol", "was_locked": false}));
    tom.send("/login carol first-password").await;
    tom.skip_until("-- you are now logged in as carol").await;
    let unknown = call(
        &server,
        Some(WRITE),
        "POST",
        "/accounts/nobody/lock",
        Some(lock),
    )
    .await;
    assert_eq!(
        error_of(&unknown, 404, "not_found"),
        "no such account: nobody"
    );
    refusal(
        &server,
        Some(READ),
        "GET",
        "/accounts/nobody",
        None,
        404,
        "not_found",
    )
    .await;

    let outcomes = audited_actions(&server).await;
    let expected = [
        ("POST /api/v1/accounts", "carol", "done"),
        // A token without the scope is refused before the path is read.
        (
            "POST /api/v1/accounts/{name}/lock",
            "/api/v1/accounts/carol/lock",
            "refused",
        ),
        ("POST /api/v1/accounts/{name}/lock", "Carol", "done"),
        ("POST /api/v1/accounts/{name}/unlock", "carol", "done"),
        ("POST /api/v1/accounts/{name}/unlock", "carol", "done"),
        ("POST /api/v1/accounts/{name}/lock", "nobody", "refused"),
    ];
    assert_eq!(
        outcomes,
        expected.map(|(a, t, o)| (a.to_owned(), t.to_owned(), o.to_owned()))
    );
    drop((cara, erin, dave));
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_audit_file_writes_are_logged_only() {
    // A database in memory and no `[admin] audit_log`: no file to write or read.
    let toml = support::operations::admin_token_config();
    let server = TestServer::start_with_config(&toml, http()).await;
    assert_eq!(server.config.admin.audit_log, None);
    let ban = json!({"target": "192.0.2.0/24"});
    answer(&server, Some(WRITE), "POST", "/bans", Some(ban), 201).await;
    let audit = call(&server, Some(WRITE), "GET", "/audit", None).await;
    assert_eq!(
        error_of(&audit, 404, "not_found"),
        "no audit log file is configured ([admin] audit_log)"
    );
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_audit_entry_cannot_be_written_is_still_done_and_answered() {
    // The audit log's path is a directory: no entry can be appended there, nor read back.
    let directory = tempfile::tempdir().unwrap();
    let hash = hash_password("write-secret").expect("hash");
    let toml = format!(
        "[admin]\naudit_log = \"{}\"\n[[admin.token]]\nname = \"ops\"\nsecret_hash = \"{hash}\"\n\
         scope = \"write\"\n",
        directory.path().display()
    );
    let server = TestServer::start_with_config(&toml, http()).await;
    let ban = json!({"target": "192.0.2.0/24"});
    answer(&server, Some(WRITE), "POST", "/bans", Some(ban), 201).await;
    let bans = answer(&server, Some(WRITE), "GET", "/bans", None, 200).await;
    assert_eq!(bans["bans"][0]["target"], "192.0.2.0/24");
    let message = refusal(&server, Some(WRITE), "GET", "/audit", None, 500, "internal").await;
    assert!(
        message.starts_with("the audit log could not be read: "),
        "{message}"
    );
    server.shut_down().await;
}
