//! `palaver admin`: the administration API from the command line (`docs/OPERATIONS.md`,
//! "Administration API"). One command, one request; the answer as text for people (tables,
//! one line for a write) or, with `--json`, the API's JSON as it came, for scripts. A refusal
//! is the API's message on stderr (with `--json`, its JSON body on stdout) and exit status 1.

pub(crate) mod http;
mod table;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hyper::Method;
use palaver_server::admin::read::{
    AccountDetails, AuditLog, BanList, RoomDetails, RoomList, Status, UserDetails, UserList,
};
use palaver_server::admin::write::{
    AccountLocked, AccountName, AccountUnlocked, BanAdded, BanLifted, Deleted, Kicked, Killed,
    ModesSet, PasswordWasReset, TopicSet,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use http::{Api, encode};
use table::table;

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's HTTP listener (`--http-listen`), as http://HOST[:PORT].
    #[arg(
        long,
        env = "PALAVER_ADMIN_URL",
        default_value = "http://127.0.0.1:9187"
    )]
    url: String,
    /// A token of `[[admin.token]]`: its name, a colon, its secret. Prefer the environment
    /// variable: a flag shows in the process list.
    #[arg(
        long,
        env = "PALAVER_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "NAME:SECRET"
    )]
    token: String,
    /// Print the API's JSON answer as it came, instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// The server at a glance: users, rooms, start time, store.
    Status,
    /// List connected users by nick (one line each), or only some.
    Users {
        /// Only users matching this nick!user@host glob, e.g. '*!*@192.0.2.*'.
        #[arg(long)]
        mask: Option<String>,
        /// Only the sessions logged in to this account.
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        page: Page,
    },
    /// One user in detail: address, TLS, account, away, idle time, rooms.
    User { nick: String },
    /// List rooms by name, secret ones included.
    Rooms {
        /// Only rooms whose name matches this glob, e.g. '#help*'.
        #[arg(long)]
        mask: Option<String>,
        #[command(flatten)]
        page: Page,
    },
    /// One room in detail: topic, modes, members.
    Room { room: String },
    /// Disconnect a user, as an operator's KILL.
    Kill {
        nick: String,
        reason: Option<String>,
    },
    /// Take a member out of a room, as a room operator's KICK.
    Kick {
        room: String,
        nick: String,
        reason: Option<String>,
    },
    /// Set a room's topic ('' clears it).
    Topic { room: String, topic: String },
    /// Change a room's modes, in IRC's notation: `mode '#help' +m`, `mode '#help' +ov-b alice bob '*!*@spam'`.
    Mode {
        room: String,
        modes: String,
        arguments: Vec<String>,
    },
    /// Delete a message of a room by its id, as REDACT.
    Delete {
        room: String,
        msgid: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// List the server bans in force.
    Bans,
    /// Ban an address or range, a nick!user@host mask or an account ($a:NAME), as KLINE or
    /// DLINE: whom it bars is disconnected.
    Ban {
        target: String,
        /// How long: minutes, or such as 90m, 12h, 7d; until removed if not given.
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a server ban.
    Unban { target: String },
    /// Register an account; its password is read like hash-password's (from the terminal
    /// without echo, twice, or the first line of standard input).
    Register {
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
    /// Replace an account's password (read as for register) and log its sessions out.
    ResetPassword { name: String },
    /// One account: when registered, email address, lock, certificates, sessions.
    Account { name: String },
    /// Lock an account: every login to it is refused until unlocked, and its sessions are
    /// logged out.
    Lock {
        name: String,
        /// Shown to whoever logs in to it with the right password.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift an account's lock.
    Unlock { name: String },
    /// The newest entries of the audit log of writes.
    Audit {
        /// How many, 1 to 1000.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

/// A page of a listing.
#[derive(Debug, Args)]
struct Page {
    /// How many to skip.
    #[arg(long)]
    offset: Option<usize>,
    /// How many to show, 1 to 1000 (100 by default).
    #[arg(long)]
    limit: Option<usize>,
}

impl Page {
    fn push_to(&self, query: &mut Vec<String>) {
        query.extend(self.offset.map(|offset| format!("offset={offset}")));
        query.extend(self.limit.map(|limit| format!("limit={limit}")));
    }
}

/// What to ask the API: a method, a path and query, and a body.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Call {
    fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            body: None,
        }
    }

    fn with(method: Method, path: String, body: Value) -> Self {
        Self {
            method,
            path,
            body: Some(body),
        }
    }
}

/// `path` with the query parameters that are set.
fn with_query(path: &str, query: &[String]) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn optional(name: &str, value: Option<&str>) -> Option<String> {
    value.map(|value| format!("{name}={}", encode(value)))
}

/// Runs one `palaver admin` command.
pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let api = Api::new(&args.url, args.token)?;
    let call = call_for(&args.command)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let answer = runtime.block_on(api.call(call.method, &call.path, call.body))?;
    if args.json {
        let text = String::from_utf8_lossy(&answer.body);
        println!("{}", text.trim_end());
    }
    if !(200..300).contains(&answer.status) {
        bail!("{}", answer.refusal());
    }
    if !args.json {
        print!("{}", render(&args.command, &answer.body)?);
    }
    Ok(())
}

/// The request a command makes.
fn call_for(command: &AdminCommand) -> anyhow::Result<Call> {
    Ok(match command {
        AdminCommand::Status => Call::get("/status".into()),
        AdminCommand::Users {
            mask,
            account,
            page,
        } => {
            let mut query: Vec<String> = [
                optional("mask", mask.as_deref()),
                optional("account", account.as_deref()),
            ]
            .into_iter()
            .flatten()
            .collect();
            page.push_to(&mut query);
            Call::get(with_query("/users", &query))
        }
        AdminCommand::User { nick } => Call::get(format!("/users/{}", encode(nick))),
        AdminCommand::Rooms { mask, page } => {
            let mut query: Vec<String> = optional("mask", mask.as_deref()).into_iter().collect();
            page.push_to(&mut query);
            Call::get(with_query("/rooms", &query))
        }
        AdminCommand::Room { room } => Call::get(format!("/rooms/{}", encode(room))),
        AdminCommand::Kill { nick, reason } => Call::with(
            Method::POST,
            format!("/users/{}/kill", encode(nick)),
            json!({ "reason": reason }),
        ),
        AdminCommand::Kick { room, nick, reason } => Call::with(
            Method::POST,
            format!("/rooms/{}/kick", encode(room)),
            json!({ "nick": nick, "reason": reason }),
        ),
        AdminCommand::Topic { room, topic } => Call::with(
            Method::PUT,
            format!("/rooms/{}/topic", encode(room)),
            json!({ "topic": topic }),
        ),
        AdminCommand::Mode {
            room,
            modes,
            arguments,
        } => Call::with(
            Method::POST,
            format!("/rooms/{}/modes", encode(room)),
            json!({ "modes": modes, "arguments": arguments }),
        ),
        AdminCommand::Delete {
            room,
            msgid,
            reason,
        } => Call {
            method: Method::DELETE,
            path: with_query(
                &format!("/rooms/{}/messages/{}", encode(room), encode(msgid)),
                &optional("reason", reason.as_deref())
                    .into_iter()
                    .collect::<Vec<_>>(),
            ),
            body: None,
        },
        AdminCommand::Bans => Call::get("/bans".into()),
        AdminCommand::Ban {
            target,
            duration,
            reason,
        } => Call::with(
            Method::POST,
            "/bans".into(),
            json!({ "target": target, "duration": duration, "reason": reason }),
        ),
        AdminCommand::Unban { target } => Call {
            method: Method::DELETE,
            path: format!("/bans?target={}", encode(target)),
            body: None,
        },
        AdminCommand::Register { name, email } => {
            let password = crate::password::read()?;
            Call::with(
                Method::POST,
                "/accounts".into(),
                json!({ "name": name, "password": password, "email": email }),
            )
        }
        AdminCommand::ResetPassword { name } => {
            let password = crate::password::read()?;
            Call::with(
                Method::PUT,
                format!("/accounts/{}/password", encode(name)),
                json!({ "password": password }),
            )
        }
        AdminCommand::Account { name } => Call::get(format!("/accounts/{}", encode(name))),
        AdminCommand::Lock { name, reason } => Call::with(
            Method::POST,
            format!("/accounts/{}/lock", encode(name)),
            json!({ "reason": reason }),
        ),
        AdminCommand::Unlock { name } => Call::with(
            Method::POST,
            format!("/accounts/{}/unlock", encode(name)),
            json!({}),
        ),
        AdminCommand::Audit { limit } => Call::get(format!("/audit?limit={limit}")),
    })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> anyhow::Result<T> {
    serde_json::from_slice(body).context("the API's answer is not what this palaver expects")
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

/// A successful answer as text for people.
fn render(command: &AdminCommand, body: &[u8]) -> anyhow::Result<String> {
    Ok(match command {
        AdminCommand::Status => {
            let status: Status = parse(body)?;
            format!(
                "server:    {}\nversion:   {}\nstarted:   {}\nusers:     {} (peak {}, {} operators)\nrooms:     {}\nstore:     {}\n",
                status.server_name,
                status.version,
                status.started,
                status.users,
                status.peak_users,
                status.operators,
                status.rooms,
                status.store
            )
        }
        AdminCommand::Users { .. } => {
            let list: UserList = parse(body)?;
            let rows: Vec<Vec<String>> = list
                .users
                .iter()
                .map(|user| {
                    vec![
                        user.nick.clone(),
                        format!("{}@{}", user.user, user.host),
                        or_dash(user.account.as_deref()),
                        user.connected_at.clone(),
                        if user.operator { "yes" } else { "" }.to_owned(),
                        user.rooms.to_string(),
                    ]
                })
                .collect();
            let mut text = table(
                &["NICK", "USER@HOST", "ACCOUNT", "CONNECTED", "OPER", "ROOMS"],
                &rows,
            );
            text.push_str(&format!("{} of {} users\n", rows.len(), list.total));
            text
        }
        AdminCommand::User { .. } => {
            let user: UserDetails = parse(body)?;
            let summary = &user.summary;
            let rooms: Vec<String> = user
                .memberships
                .iter()
                .map(|membership| {
                    let prefix = if membership.op {
                        "@"
                    } else if membership.voice {
                        "+"
                    } else {
                        ""
                    };
                    format!("{prefix}{}", membership.room)
                })
                .collect();
            format!(
                "nick:      {}\nmask:      {}!{}@{}\nreal name: {}\naccount:   {}\naddress:   {}{}\nconnected: {}\nidle:      {} s\naway:      {}\noperator:  {}\nrooms:     {}\n",
                summary.nick,
                summary.nick,
                summary.user,
                summary.host,
                user.realname,
                or_dash(summary.account.as_deref()),
                user.address,
                if user.tls { " (TLS)" } else { "" },
                summary.connected_at,
                user.idle_seconds,
                or_dash(user.away.as_deref()),
                if summary.operator { "yes" } else { "no" },
                rooms.join(" ")
            )
        }
        AdminCommand::Rooms { .. } => {
            let list: RoomList = parse(body)?;
            let rows: Vec<Vec<String>> = list
                .rooms
                .iter()
                .map(|room| {
                    vec![
                        room.name.clone(),
                        room.members.to_string(),
                        room.created.clone(),
                        room.topic.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            let mut text = table(&["ROOM", "MEMBERS", "CREATED", "TOPIC"], &rows);
            text.push_str(&format!("{} of {} rooms\n", rows.len(), list.total));
            text
        }
        AdminCommand::Room { .. } => {
            let room: RoomDetails = parse(body)?;
            let topic = room.topic.as_ref().map_or_else(
                || "-".to_owned(),
                |topic| {
                    format!(
                        "{} (set by {} at {})",
                        topic.text, topic.set_by, topic.set_at
                    )
                },
            );
            let rows: Vec<Vec<String>> = room
                .members
                .iter()
                .map(|member| {
                    let status = if member.op {
                        "op"
                    } else if member.voice {
                        "voice"
                    } else {
                        ""
                    };
                    vec![
                        member.nick.clone(),
                        status.to_owned(),
                        if member.away { "away" } else { "" }.to_owned(),
                    ]
                })
                .collect();
            format!(
                "room:      {}\ncreated:   {}\ntopic:     {topic}\nmodes:     {}\n\n{}",
                room.name,
                room.created,
                room.modes,
                table(&["MEMBER", "STATUS", "AWAY"], &rows)
            )
        }
        AdminCommand::Bans => {
            let list: BanList = parse(body)?;
            let rows: Vec<Vec<String>> = list
                .bans
                .iter()
                .map(|ban| {
                    vec![
                        ban.target.clone(),
                        ban.expires.clone().unwrap_or_else(|| "never".into()),
                        ban.set_by.clone(),
                        ban.reason.clone(),
                    ]
                })
                .collect();
            table(&["TARGET", "EXPIRES", "SET BY", "REASON"], &rows)
        }
        AdminCommand::Audit { .. } => {
            let log: AuditLog = parse(body)?;
            let rows: Vec<Vec<String>> = log
                .entries
                .iter()
                .map(|entry| {
                    vec![
                        entry.time.clone(),
                        entry.token.clone(),
                        entry.action.clone(),
                        entry.target.clone(),
                        format!("{:?} {}", entry.outcome, entry.status).to_lowercase(),
                        entry.detail.clone(),
                    ]
                })
                .collect();
            table(
                &["TIME", "TOKEN", "ACTION", "TARGET", "OUTCOME", "DETAIL"],
                &rows,
            )
        }
        AdminCommand::Kill { .. } => format!("killed {}\n", parse::<Killed>(body)?.nick),
        AdminCommand::Kick { .. } => {
            let kicked: Kicked = parse(body)?;
            format!("kicked {} from {}\n", kicked.nick, kicked.room)
        }
        AdminCommand::Topic { .. } => {
            let set: TopicSet = parse(body)?;
            format!("topic of {}: {}\n", set.room, set.topic)
        }
        AdminCommand::Mode { .. } => {
            let set: ModesSet = parse(body)?;
            let mut text = format!(
                "modes of {}: {}\n",
                set.room,
                if set.applied.is_empty() {
                    "nothing changed"
                } else {
                    &set.applied
                }
            );
            for refused in &set.refused {
                text.push_str(&format!("not applied: {refused}\n"));
            }
            text
        }
        AdminCommand::Delete { .. } => {
            let deleted: Deleted = parse(body)?;
            format!("deleted message {} in {}\n", deleted.msgid, deleted.room)
        }
        AdminCommand::Ban { .. } => {
            let added: BanAdded = parse(body)?;
            let until = added
                .ban
                .expires
                .as_deref()
                .map_or("until removed".to_owned(), |expires| {
                    format!("until {expires}")
                });
            let mut text = format!(
                "banned {} {until} ({}); {} disconnected\n",
                added.ban.target, added.ban.reason, added.disconnected
            );
            if !added.saved {
                text.push_str("warning: the store could not keep it: it ends at restart\n");
            }
            text
        }
        AdminCommand::Unban { .. } => {
            format!("lifted the ban on {}\n", parse::<BanLifted>(body)?.target)
        }
        AdminCommand::Register { .. } => format!(
            "registered the account {}\n",
            parse::<AccountName>(body)?.name
        ),
        AdminCommand::ResetPassword { .. } => {
            let reset: PasswordWasReset = parse(body)?;
            format!(
                "reset the password of {}; {} sessions logged out\n",
                reset.name, reset.logged_out
            )
        }
        AdminCommand::Account { .. } => {
            let account: AccountDetails = parse(body)?;
            let locked = account.locked.map_or_else(
                || "no".to_owned(),
                |lock| format!("yes, by {} at {} ({})", lock.by, lock.at, lock.reason),
            );
            format!(
                "account:      {}\nregistered:   {}\nemail:        {}\nlocked:       {locked}\ncertificates: {}\nsessions:     {}\n",
                account.name,
                account.created,
                or_dash(account.email.as_deref()),
                account.certificates,
                if account.sessions.is_empty() {
                    "-".to_owned()
                } else {
                    account.sessions.join(" ")
                }
            )
        }
        AdminCommand::Lock { .. } => {
            let locked: AccountLocked = parse(body)?;
            format!(
                "locked the account {} ({}); {} sessions logged out\n",
                locked.name, locked.reason, locked.logged_out
            )
        }
        AdminCommand::Unlock { .. } => {
            let unlocked: AccountUnlocked = parse(body)?;
            if unlocked.was_locked {
                format!("unlocked the account {}\n", unlocked.name)
            } else {
                format!("the account {} was not locked\n", unlocked.name)
            }
        }
    })
}
