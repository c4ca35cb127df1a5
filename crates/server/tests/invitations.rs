//! Invitations: only a channel operator's invitation lets anyone past anything (and then past
//! `+i`, the key, the limit and bans, once); a room keeps a bounded list of pending
//! invitations, and a user's invitations go with its connection (`docs/SECURITY.md`,
//! "Invitations").

mod support;

use palaver_server::hub::MAX_PENDING_INVITATIONS;
use support::{Client, IrcClient, TestServer, irc_mask, join_all, numeric};

/// `op` sends `MODE {change}` and every client in `members` and `op` itself see it.
async fn set_mode(op: &mut IrcClient, members: &mut [&mut IrcClient], change: &str) {
    let line = format!(":{} MODE {change}", irc_mask(&op.nick));
    op.send(&format!("MODE {change}")).await;
    op.expect_line(&line).await;
    for member in members.iter_mut() {
        member.expect_line(&line).await;
    }
}

/// `inviter` invites `invitee` (an IRC user) to `channel`: the inviter gets its 341 and the
/// invitee the `INVITE`.
async fn invite(inviter: &mut IrcClient, invitee: &mut IrcClient, channel: &str) {
    let (from, to) = (inviter.nick.clone(), invitee.nick.clone());
    inviter.send(&format!("INVITE {to} {channel}")).await;
    inviter
        .expect_line(&numeric("341", &from, &format!("{to} {channel}")))
        .await;
    invitee
        .expect_line(&format!(":{} INVITE {to} {channel}", irc_mask(&from)))
        .await;
}

/// `client` tries to join `channel` and gets the numeric `code` with `text`.
async fn refused(client: &mut IrcClient, channel: &str, code: &str, text: &str) {
    client.send(&format!("JOIN {channel}")).await;
    let nick = client.nick.clone();
    client
        .expect_line(&numeric(code, &nick, &format!("{channel} :{text}")))
        .await;
}

/// `client` joins `channel`, whose operator `op` sees it arrive.
async fn join_seen(client: &mut IrcClient, channel: &str, op: &mut IrcClient) {
    client.join(channel).await;
    op.expect_line(&format!(":{} JOIN {channel}", irc_mask(&client.nick)))
        .await;
}

/// `count` registered IRC clients called `{prefix}0`, `{prefix}1`, ….
async fn clients(server: &TestServer, prefix: &str, count: usize) -> Vec<IrcClient> {
    let mut clients = Vec::with_capacity(count);
    for index in 0..count {
        clients.push(server.irc(&format!("{prefix}{index}")).await);
    }
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_operators_invitation_lets_nobody_past_anything() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut bob = server.irc("bob").await;
    let mut carol = server.irc("carol").await;
    join_all("#x", &mut [&mut op, &mut bob]).await;

    // A ban.
    set_mode(&mut op, &mut [&mut bob], "#x +b carol!*@*").await;
    invite(&mut bob, &mut carol, "#x").await;
    refused(&mut carol, "#x", "474", "Cannot join channel (+b)").await;
    set_mode(&mut op, &mut [&mut bob], "#x -b carol!*@*").await;
    // A key.
    set_mode(&mut op, &mut [&mut bob], "#x +k sesame").await;
    invite(&mut bob, &mut carol, "#x").await;
    refused(&mut carol, "#x", "475", "Cannot join channel (+k)").await;
    set_mode(&mut op, &mut [&mut bob], "#x -k *").await;
    // A limit.
    set_mode(&mut op, &mut [&mut bob], "#x +l 2").await;
    invite(&mut bob, &mut carol, "#x").await;
    refused(&mut carol, "#x", "471", "Cannot join channel (+l)").await;
    set_mode(&mut op, &mut [&mut bob], "#x -l").await;
    // An invitation from before +i is no invitation either.
    invite(&mut bob, &mut carol, "#x").await;
    set_mode(&mut op, &mut [&mut bob], "#x +i").await;
    refused(&mut carol, "#x", "473", "Cannot join channel (+i)").await;
    // On a +i channel a non-operator may not invite at all.
    bob.send("INVITE carol #x").await;
    bob.expect_line(&numeric("482", "bob", "#x :You're not a channel operator"))
        .await;
    set_mode(&mut op, &mut [&mut bob], "#x -i").await;

    // A text invitee is held to the same rules.
    let mut tina = Client::named(server.address, "tina").await;
    set_mode(&mut op, &mut [&mut bob], "#x +b tina!*@*").await;
    bob.send("INVITE tina #x").await;
    bob.expect_line(&numeric("341", "bob", "tina #x")).await;
    tina.expect("-- bob invited tina to #x").await;
    tina.send("/join #x").await;
    tina.expect("! cannot join #x (you are banned)").await;
    for client in [&mut op, &mut bob, &mut carol] {
        client.expect_quiet().await;
    }
    tina.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_invitation_lets_one_past_invite_only_key_limit_and_ban_once() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    let mut carol = server.irc("carol").await;
    join_all("#x", &mut [&mut op]).await;
    set_mode(&mut op, &mut [], "#x +ikl sesame 1").await;
    set_mode(&mut op, &mut [], "#x +b carol!*@*").await;
    refused(&mut carol, "#x", "474", "Cannot join channel (+b)").await;

    invite(&mut op, &mut carol, "#x").await;
    carol.join("#x").await;
    op.expect_line(&format!(":{} JOIN #x", irc_mask("carol")))
        .await;

    // Used up by joining.
    carol.send("PART #x").await;
    carol
        .expect_line(&format!(":{} PART #x", irc_mask("carol")))
        .await;
    op.expect_line(&format!(":{} PART #x", irc_mask("carol")))
        .await;
    refused(&mut carol, "#x", "474", "Cannot join channel (+b)").await;
    op.expect_quiet().await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_invitation_lapses_when_a_room_has_too_many() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#x", &mut [&mut op]).await;
    set_mode(&mut op, &mut [], "#x +i").await;
    let mut invitees = clients(&server, "u", MAX_PENDING_INVITATIONS + 1).await;
    for invitee in &mut invitees {
        invite(&mut op, invitee, "#x").await;
    }

    // The first invitation made way for the last.
    refused(&mut invitees[0], "#x", "473", "Cannot join channel (+i)").await;
    join_seen(&mut invitees[1], "#x", &mut op).await;
    join_seen(&mut invitees[MAX_PENDING_INVITATIONS], "#x", &mut op).await;
    // Inviting again renews a lapsed invitation.
    invite(&mut op, &mut invitees[0], "#x").await;
    join_seen(&mut invitees[0], "#x", &mut op).await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departed_users_invitation_frees_its_place() {
    let server = TestServer::start().await;
    let mut op = server.irc("op").await;
    join_all("#x", &mut [&mut op]).await;
    set_mode(&mut op, &mut [], "#x +i").await;
    let mut invitees = clients(&server, "u", MAX_PENDING_INVITATIONS).await;
    for invitee in &mut invitees {
        invite(&mut op, invitee, "#x").await;
    }

    // One invitee leaves the server; op shares #watch with it, so op hears of the quit once
    // the server has dealt with it.
    let mut leaver = invitees.remove(MAX_PENDING_INVITATIONS / 2);
    join_all("#watch", &mut [&mut op, &mut leaver]).await;
    leaver.send("QUIT :bye").await;
    leaver.expect_closed().await;
    op.expect_line(&format!(":{} QUIT :Quit: bye", irc_mask(&leaver.nick)))
        .await;

    // Its place was freed, so one more invitation withdraws nobody's.
    let mut latecomer = server.irc("latecomer").await;
    invite(&mut op, &mut latecomer, "#x").await;
    join_seen(&mut invitees[0], "#x", &mut op).await;
    join_seen(&mut latecomer, "#x", &mut op).await;
    server.shut_down().await;
}
