//! Room names that would look like another room's name are refused, in both protocols:
//! invisible characters (format characters such as zero-width spaces and direction overrides,
//! default-ignorable fillers, the Braille blank) and non-ASCII whitespace
//! (`docs/SECURITY.md`, "Look-alike names").

mod support;

use support::{Client, TestServer, numeric};

/// Names that look like `#lobby` (or like nothing at all) and the character that gives each
/// away.
const LOOK_ALIKES: &[(&str, char)] = &[
    ("#lobby\u{200B}", '\u{200B}'), // zero width space
    ("#lob\u{200D}by", '\u{200D}'), // zero width joiner
    ("#\u{202E}ybbol", '\u{202E}'), // right-to-left override: shows as #lobby
    ("#\u{2066}lobby", '\u{2066}'), // left-to-right isolate
    ("#lobby\u{FEFF}", '\u{FEFF}'), // byte order mark
    ("#lobby\u{3164}", '\u{3164}'), // Hangul filler
    ("#lobby\u{2800}", '\u{2800}'), // Braille pattern blank
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_joins_of_look_alike_room_names_are_refused() {
    let server = TestServer::start().await;
    let mut alice = Client::named(server.address, "alice").await;
    for (name, invisible) in LOOK_ALIKES {
        alice.send(&format!("/join {name}")).await;
        alice
            .expect(&format!(
                "! invalid room name {name}: a room name may not contain invisible characters \
                 such as U+{:04X} (zero-width, direction and other format characters, fillers, \
                 blank symbols)",
                u32::from(*invisible)
            ))
            .await;
    }
    // A no-break space is whitespace, refused like a space.
    alice.send("/join #lobby\u{A0}").await;
    alice
        .expect(
            "! invalid room name #lobby\u{A0}: a room name may not contain spaces, commas or \
             control characters",
        )
        .await;
    // Nothing was created: only the lobby exists.
    alice.send("/rooms").await;
    alice.expect("-- 1 room").await;
    alice.expect("-- #lobby (1)").await;
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_joins_of_look_alike_channel_names_get_476() {
    let server = TestServer::start().await;
    let mut alice = server.irc("alice").await;
    for (name, _) in LOOK_ALIKES {
        alice.send(&format!("JOIN {name}")).await;
        alice
            .expect_line(&numeric(
                "476",
                "alice",
                &format!("{name} :Bad Channel Mask"),
            ))
            .await;
    }
    alice.send("LIST").await;
    alice
        .expect_line(&numeric("321", "alice", "Channel :Users  Name"))
        .await;
    alice
        .expect_line(&numeric("323", "alice", ":End of /LIST"))
        .await;
    // Names in other scripts are still welcome.
    alice.join("#café").await;
    alice.expect_quiet().await;
    server.shut_down().await;
}
