//! Ban exceptions (`+e`), invite exceptions (`+I`) and account masks (`$a:account`) over real
//! sockets: who they let in or keep out, in both protocols, and who may list them.

mod support;

use support::{
    Client, IrcClient, TestServer, create_account, irc_mask, irc_sasl, join_all, mask_list,
    numeric, text_account,
};

/// Expects `client` to be refused `room` with `code` (`474`, `473`, …) for `mode`.
async fn expect_refused(client: &mut IrcClient, room: &str, code: &str, mode: &str) {
    client.send(&format!("JOIN {room}")).await;
    let nick = client.nick.clone();
    client
        .expect_line(&numeric(
            code,
            &nick,
            &format!("{room} :Cannot join channel ({mode})"),
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_exception_lets_in_whom_a_ban_keeps_out() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    op.join("#e").await;
    op.send("MODE #e +b ba*!*@*").await;
    op.expect_line(&format!(":{} MODE #e +b ba*!*@*", irc_mask("op")))
        .await;
    let mut bar = server.irc("bar").await;
    let mut baz = server.irc("baz").await;
    expect_refused(&mut bar, "#e", "474", "+b").await;

    op.send("MODE #e +e *ar").await;
    op.expect_line(&format!(":{} MODE #e +e *ar!*@*", irc_mask("op")))
        .await;
    bar.join("#e").await;
    op.expect_line(&format!(":{} JOIN #e", irc_mask("bar")))
        .await;
    expect_refused(&mut baz, "#e", "474", "+b").await;

    // Removing the exception bans again (and silences, as a ban does).
    op.send("MODE #e -e *ar!*@*").await;
    let removed = format!(":{} MODE #e -e *ar!*@*", irc_mask("op"));
    op.expect_line(&removed).await;
    bar.expect_line(&removed).await;
    bar.send("PRIVMSG #e :still here?").await;
    bar.expect_line(&numeric("404", "bar", "#e :Cannot send to channel (+b)"))
        .await;
    op.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_exception_lets_in_without_an_invitation() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    op.join("#i").await;
    op.send("MODE #i +i").await;
    op.expect_line(&format!(":{} MODE #i +i", irc_mask("op")))
        .await;
    let mut bar = server.irc("bar").await;
    let mut baz = server.irc("baz").await;
    expect_refused(&mut bar, "#i", "473", "+i").await;

    op.send("MODE #i +I bar!*@*").await;
    op.expect_line(&format!(":{} MODE #i +I bar!*@*", irc_mask("op")))
        .await;
    bar.join("#i").await;
    expect_refused(&mut baz, "#i", "473", "+i").await;
    // Not past a ban.
    op.send("MODE #i +b bar").await;
    op.skip_until(|m| m.command == "MODE").await;
    bar.send("PART #i").await;
    bar.skip_until(|m| m.command == "PART").await;
    expect_refused(&mut bar, "#i", "474", "+b").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_lists_are_shown_to_operators_only() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut member = server.irc("member").await;
    join_all("#l", &mut [&mut op, &mut member]).await;
    op.send("MODE #l +beI bad good invited").await;
    let announced = format!(
        ":{} MODE #l +beI bad!*@* good!*@* invited!*@*",
        irc_mask("op")
    );
    op.expect_line(&announced).await;
    member.expect_line(&announced).await;

    for (letter, mask) in [('b', "bad!*@*"), ('e', "good!*@*"), ('I', "invited!*@*")] {
        let entries = mask_list(&mut op, "#l", letter).await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0][..2], [mask.to_owned(), irc_mask("op")]);
        assert!(entries[0][2].parse::<u64>().is_ok(), "{entries:?}");
    }
    // A member who is not an operator sees the bans, not the exceptions.
    assert_eq!(mask_list(&mut member, "#l", 'b').await.len(), 1);
    for letter in ['e', 'I'] {
        member.send(&format!("MODE #l {letter}")).await;
        member
            .expect_line(&numeric(
                "482",
                "member",
                "#l :You're not a channel operator",
            ))
            .await;
    }
    // Several lists in one MODE, each once.
    op.send("MODE #l eIe").await;
    for code in ["348", "349", "346", "347"] {
        op.expect_command(code).await;
    }
    op.expect_quiet().await;
    member.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_masks_match_accounts_in_both_protocols() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    op.join("#a").await;
    create_account(&server, "dave", "dave-password").await;
    let mut text_carol = text_account(&server, "carol", "carol-password").await;
    let mut dave = irc_sasl(&server, "dave", "dave", "dave-password", &[]).await;
    // Someone called bob who is not logged in to the account bob.
    let mut bob = server.irc("bob").await;

    op.send("MODE #a +bb $a:Carol $a:DAVE").await;
    op.expect_line(&format!(":{} MODE #a +bb $a:carol $a:dave", irc_mask("op")))
        .await;
    text_carol.send("/join #a").await;
    text_carol.expect("! cannot join #a (you are banned)").await;
    expect_refused(&mut dave, "#a", "474", "+b").await;
    op.send("MODE #a +b $a:bob").await;
    op.skip_until(|m| m.command == "MODE").await;
    bob.join("#a").await;
    op.expect_line(&format!(":{} JOIN #a", irc_mask("bob")))
        .await;

    // `$a` alone is anyone logged in; an exception for one account lets it through.
    op.send("MODE #a -bb+be $a:carol $a:dave $a $a:dave").await;
    op.expect_line(&format!(
        ":{} MODE #a -bb+be $a:carol $a:dave $a $a:dave",
        irc_mask("op")
    ))
    .await;
    bob.skip_until(|m| m.command == "MODE").await;
    dave.join("#a").await;
    op.expect_line(&format!(":{} JOIN #a", irc_mask("dave")))
        .await;
    text_carol.send("/join #a").await;
    text_carol.expect("! cannot join #a (you are banned)").await;

    // An extended mask of a type palaver does not know is refused.
    op.send("MODE #a +b $x:carol").await;
    op.expect_line(&numeric(
        "696",
        "op",
        "#a b $x:carol :Invalid ban mask (the only extended masks are $a, $a:<account> and $~a)",
    ))
    .await;
    op.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_logged_in_masks_keep_out_whoever_has_no_account() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    op.join("#members").await;
    op.send("MODE #members +b $~a").await;
    op.expect_line(&format!(":{} MODE #members +b $~a", irc_mask("op")))
        .await;
    let mut guest = Client::connect(server.address).await;
    guest.send("/join #members").await;
    guest
        .expect("! cannot join #members (you are banned)")
        .await;
    let mut erin = text_account(&server, "erin", "erin-password").await;
    erin.send("/join #members").await;
    erin.expect("-- erin joined #members").await;
    server.shut_down().await;
}
