//! Ban masks that could not be shown back safely are refused with `696 ERR_INVALIDMODEPARAM`,
//! and the other changes of the same `MODE` still apply (`docs/SECURITY.md`, "Ban masks").

mod support;

use support::{IrcClient, TestServer, irc_mask, join_all, numeric};

/// The 696 `op` gets for an invalid ban mask in `#bm`.
fn invalid(reason: &str) -> String {
    numeric(
        "696",
        "op",
        &format!("#bm b * :Invalid ban mask (a mask {reason})"),
    )
}

/// Asks for `#bm`'s ban list and returns each entry's mask and setter.
async fn ban_list(client: &mut IrcClient) -> Vec<(String, String)> {
    client.send("MODE #bm b").await;
    let mut bans = Vec::new();
    loop {
        let message = client.message().await;
        match message.command.as_str() {
            "367" => bans.push((message.params[2].clone(), message.params[3].clone())),
            "368" => return bans,
            _ => panic!("{} got {message:?} in a ban list", client.nick),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ban_masks_are_refused_and_the_rest_of_the_mode_applies() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut member = server.irc("member").await;
    join_all("#bm", &mut [&mut op, &mut member]).await;

    // A mask with spaces would forge the setter and time of its 367 line.
    op.send("MODE #bm +b :x fake!setter@evil 0").await;
    op.expect_line(&invalid("may not contain spaces")).await;
    op.send("MODE #bm +b ::x").await;
    op.expect_line(&invalid("may not start with ':'")).await;
    op.send("MODE #bm +b :").await;
    op.expect_line(&invalid("may not be empty")).await;
    op.send("MODE #bm +b :x\u{1b}[2J").await;
    op.expect_line(&invalid("may not contain control characters"))
        .await;
    // Too long once completed (125 + `!*@*`); a one-word parameter is shown back as given.
    let too_long = "n".repeat(125);
    op.send(&format!("MODE #bm +b {too_long}")).await;
    op.expect_line(&numeric(
        "696",
        "op",
        &format!("#bm b {too_long} :Invalid ban mask (a mask may be at most 128 bytes long)"),
    ))
    .await;
    op.send("MODE #bm -b :x y").await;
    op.expect_line(&invalid("may not contain spaces")).await;
    op.expect_quiet().await;
    member.expect_quiet().await;

    // One MODE with good and bad changes: the bad one is refused, the others are applied and
    // announced.
    op.send("MODE #bm +mbb good!*@* :bad mask").await;
    op.expect_line(&invalid("may not contain spaces")).await;
    let announced = format!(":{} MODE #bm +mb good!*@*", irc_mask("op"));
    op.expect_line(&announced).await;
    member.expect_line(&announced).await;
    assert_eq!(
        ban_list(&mut member).await,
        [("good!*@*".to_owned(), irc_mask("op"))]
    );
    // The longest allowed mask is kept whole.
    let longest = "n".repeat(124);
    op.send(&format!("MODE #bm +b {longest}")).await;
    op.expect_line(&format!(":{} MODE #bm +b {longest}!*@*", irc_mask("op")))
        .await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_mode_parameters_are_echoed_only_when_one_word() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#bm", &mut [&mut op]).await;
    op.send("MODE #bm +k :two words").await;
    op.expect_line(&numeric("696", "op", "#bm k * :Invalid key"))
        .await;
    op.send("MODE #bm +k :one:colon").await;
    op.expect_line(&numeric("696", "op", "#bm k one:colon :Invalid key"))
        .await;
    op.send("MODE #bm +l :1 2").await;
    op.expect_line(&numeric("696", "op", "#bm l * :Invalid limit"))
        .await;
    op.expect_quiet().await;
    server.shut_down().await;
}
