//! The read endpoints: the server's status, users, rooms, server bans and the audit log. Every
//! listing goes through the hub's `administered_*` listings (`hub/visibility.rs`), which show
//! what a member of every room sees.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use palaver_proto::irc::modes::spell_modes;
use palaver_proto::mask;
use palaver_proto::names::fold;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Admin;
use super::audit::AuditEntry;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use crate::hub::{ServerBan, User};

/// How many entries a page holds unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 100;
/// The most entries one page may hold.
const MAX_PAGE: usize = 1000;

/// A page's size: `limit` if it is one, else the default.
fn checked_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )))
    }
}

/// A page of a listing: `limit` entries from `offset` on.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// How many entries to skip (default 0).
    offset: Option<usize>,
    /// How many entries to return, 1 to 1000 (default 100).
    limit: Option<usize>,
}

impl Page {
    /// The entries of `all` this page holds.
    fn of<T>(&self, all: Vec<T>) -> Result<Vec<T>, ApiError> {
        let limit = checked_limit(self.limit)?;
        Ok(all
            .into_iter()
            .skip(self.offset.unwrap_or(0))
            .take(limit)
            .collect())
    }
}

/// The server at a glance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// `[irc] server_name`.
    pub server_name: String,
    /// palaver's version.
    pub version: String,
    /// When the server started (ISO 8601, UTC).
    pub started: String,
    /// Connected users.
    pub users: usize,
    /// The most users connected at once since the start.
    pub peak_users: usize,
    /// Connected users who are server operators.
    pub operators: usize,
    /// Rooms with members.
    pub rooms: usize,
    /// The store's backend: `sqlite` or `redis`.
    pub store: String,
}

#[utoipa::path(
    get,
    path = "/status",
    tag = "read",
    security(("token" = [])),
    responses(
        (status = 200, description = "The server at a glance", body = Status),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
        (status = 429, description = "Too many wrong tokens from this address", body = ErrorBody),
    )
)]
pub(super) async fn status(State(admin): State<Arc<Admin>>) -> Json<Status> {
    let hub = &admin.hub;
    let counts = hub.user_counts();
    Json(Status {
        server_name: admin.server_name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started: hub.started().iso8601(),
        users: counts.total,
        peak_users: hub.peak_user_count(),
        operators: counts.operators,
        rooms: hub.room_count(),
        store: if admin.store.is_redis() {
            "redis"
        } else {
            "sqlite"
        }
        .to_owned(),
    })
}

/// A connected user in a listing.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserSummary {
    pub nick: String,
    /// The IRC user name (`text` for text-protocol users).
    pub user: String,
    /// The host shown to others.
    pub host: String,
    /// The account it is logged in to.
    pub account: Option<String>,
    /// When it connected (ISO 8601, UTC).
    pub connected_at: String,
    /// Whether it is a server operator.
    pub operator: bool,
    /// How many rooms it is in.
    pub rooms: usize,
}

impl UserSummary {
    fn of(user: &User) -> Self {
        let identity = user.identity();
        Self {
            nick: identity.nick.to_string(),
            user: identity.user.to_string(),
            host: identity.host.to_string(),
            account: identity.account.as_deref().map(str::to_owned),
            connected_at: user.connected_at.iso8601(),
            operator: user.is_operator(),
            rooms: user.room_count(),
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// How many users matched, on every page.
    pub total: usize,
    pub users: Vec<UserSummary>,
}

/// Which users to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// A `nick!user@host` glob (`*` and `?`), compared ignoring case, such as `*!*@192.0.2.*`.
    mask: Option<String>,
    /// Only the sessions logged in to this account (ignoring case).
    account: Option<String>,
}

#[utoipa::path(
    get,
    path = "/users",
    tag = "read",
    security(("token" = [])),
    params(UserFilter, Page),
    responses(
        (status = 200, description = "The connected users that match, by nick", body = UserList),
        (status = 400, description = "A bad filter or page", body = ErrorBody),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
    )
)]
pub(super) async fn users(
    State(admin): State<Arc<Admin>>,
    ApiQuery(filter): ApiQuery<UserFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<UserList>, ApiError> {
    let mask = filter.mask.as_deref().map(fold);
    let account = filter.account.as_deref().map(fold);
    let mut users: Vec<UserSummary> = admin
        .hub
        .users()
        .iter()
        .filter(|user| {
            let identity = user.identity();
            mask.as_ref()
                .is_none_or(|mask| mask::matches(mask, &fold(&identity.mask())))
                && account.as_ref().is_none_or(|account| {
                    identity.account.as_deref().map(fold).as_ref() == Some(account)
                })
        })
        .map(|user| UserSummary::of(user))
        .collect();
    users.sort_by_key(|user| fold(&user.nick));
    Ok(Json(UserList {
        total: users.len(),
        users: page.of(users)?,
    }))
}

/// A room one user is in, with its status there.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomMembership {
    pub room: String,
    /// Room operator.
    pub op: bool,
    pub voice: bool,
}

/// One connected user (one connection: a nick is one session) in detail.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserDetails {
    #[serde(flatten)]
    pub summary: UserSummary,
    pub realname: String,
    /// The address it connected from.
    pub address: String,
    /// Whether it connected over TLS.
    pub tls: bool,
    /// The SHA-256 fingerprint of its client certificate, if it presented one.
    pub certificate_fingerprint: Option<String>,
    /// Its away message, if away.
    pub away: Option<String>,
    /// Seconds since it last sent a message.
    pub idle_seconds: u64,
    /// User mode `+i`.
    pub invisible: bool,
    /// Marked as a bot.
    pub bot: bool,
    /// Its rooms, in join order.
    pub memberships: Vec<RoomMembership>,
}

#[utoipa::path(
    get,
    path = "/users/{nick}",
    tag = "read",
    security(("token" = [])),
    params(("nick" = String, Path, description = "The user's nick, in any case")),
    responses(
        (status = 200, description = "The user", body = UserDetails),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
        (status = 404, description = "Nobody is connected under that nick", body = ErrorBody),
    )
)]
pub(super) async fn user(
    State(admin): State<Arc<Admin>>,
    ApiPath(nick): ApiPath<String>,
) -> Result<Json<UserDetails>, ApiError> {
    let user = admin
        .hub
        .user_by_nick(&nick)
        .ok_or_else(|| ApiError::not_found(format!("no such nick: {nick}")))?;
    let identity = user.identity();
    Ok(Json(UserDetails {
        summary: UserSummary::of(&user),
        realname: identity.realname.to_string(),
        address: user.peer.ip().to_string(),
        tls: user.is_tls(),
        certificate_fingerprint: user.certificate_fingerprint().map(str::to_owned),
        away: user.away().map(String::from),
        idle_seconds: user.idle_seconds(),
        invisible: user.is_invisible(),
        bot: identity.bot,
        memberships: admin
            .hub
            .administered_memberships(&user)
            .into_iter()
            .map(|membership| RoomMembership {
                room: membership.room.to_string(),
                op: membership.op,
                voice: membership.voice,
            })
            .collect(),
    }))
}

/// A room in a listing.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomSummary {
    pub name: String,
    /// How many members it has.
    pub members: usize,
    pub topic: Option<String>,
    /// When it was created (ISO 8601, UTC).
    pub created: String,
}

/// A page of rooms.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomList {
    /// How many rooms matched, on every page.
    pub total: usize,
    pub rooms: Vec<RoomSummary>,
}

/// Which rooms to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoomFilter {
    /// A glob over room names (`*` and `?`), ignoring case, such as `#help*`.
    mask: Option<String>,
}

#[utoipa::path(
    get,
    path = "/rooms",
    tag = "read",
    security(("token" = [])),
    params(RoomFilter, Page),
    responses(
        (status = 200, description = "Every room that matches, secret ones included, by name", body = RoomList),
        (status = 400, description = "A bad filter or page", body = ErrorBody),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
    )
)]
pub(super) async fn rooms(
    State(admin): State<Arc<Admin>>,
    ApiQuery(filter): ApiQuery<RoomFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<RoomList>, ApiError> {
    let mask = filter.mask.as_deref().map(fold);
    let rooms: Vec<RoomSummary> = admin
        .hub
        .administered_rooms()
        .into_iter()
        .filter(|room| {
            mask.as_ref()
                .is_none_or(|mask| mask::matches(mask, &fold(&room.name)))
        })
        .map(|room| RoomSummary {
            name: room.name.to_string(),
            members: room.members,
            topic: room.topic.map(String::from),
            created: room.created.iso8601(),
        })
        .collect();
    Ok(Json(RoomList {
        total: rooms.len(),
        rooms: page.of(rooms)?,
    }))
}

/// A room's topic.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TopicDetails {
    pub text: String,
    /// `nick!user@host` of whoever set it.
    pub set_by: String,
    /// When (ISO 8601, UTC).
    pub set_at: String,
}

/// A member of a room.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberDetails {
    pub nick: String,
    /// Room operator.
    pub op: bool,
    pub voice: bool,
    pub away: bool,
}

/// One room in detail.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RoomDetails {
    pub name: String,
    /// When it was created (ISO 8601, UTC).
    pub created: String,
    pub topic: Option<TopicDetails>,
    /// Its modes in IRC's notation, arguments after the letters (`+ntk secret`).
    pub modes: String,
    /// Its members, in join order.
    pub members: Vec<MemberDetails>,
}

#[utoipa::path(
    get,
    path = "/rooms/{room}",
    tag = "read",
    security(("token" = [])),
    params(("room" = String, Path, description = "The room's name with its `#`, URL-encoded (`%23rust`)")),
    responses(
        (status = 200, description = "The room", body = RoomDetails),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
        (status = 404, description = "No such room (it has no members)", body = ErrorBody),
    )
)]
pub(super) async fn room(
    State(admin): State<Arc<Admin>>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<RoomDetails>, ApiError> {
    let room = admin
        .hub
        .room(&name)
        .ok_or_else(|| ApiError::not_found(format!("no such room: {name}")))?;
    let view = admin.hub.administered_room_view(&room);
    let (letters, arguments) = spell_modes(&view.modes);
    Ok(Json(RoomDetails {
        name: view.name.to_string(),
        created: view.created.iso8601(),
        topic: view.topic.map(|topic| TopicDetails {
            text: topic.text.into(),
            set_by: topic.set_by.into(),
            set_at: topic.set_at.iso8601(),
        }),
        modes: std::iter::once(letters)
            .chain(arguments)
            .collect::<Vec<_>>()
            .join(" "),
        members: view
            .members
            .iter()
            .map(|member| MemberDetails {
                nick: member.identity.nick.to_string(),
                op: member.op,
                voice: member.voice,
                away: member.away,
            })
            .collect(),
    }))
}

/// A server ban.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BanDetails {
    /// What it bars: an address or range (`192.0.2.0/24`), a `nick!user@host` mask, or an
    /// account (`$a:name`).
    pub target: String,
    pub reason: String,
    /// Who set it: the operator entry (or `api:TOKEN`) and its nick then.
    pub set_by: String,
    /// When (ISO 8601, UTC).
    pub set_at: String,
    /// When it ends; `null`: when removed.
    pub expires: Option<String>,
}

impl BanDetails {
    pub(super) fn of(ban: &ServerBan) -> Self {
        Self {
            target: ban.target.to_string(),
            reason: ban.reason.clone(),
            set_by: ban.set_by.clone(),
            set_at: ban.set_at.iso8601(),
            expires: ban.expires.map(|expires| expires.iso8601()),
        }
    }
}

/// The server bans in force.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BanList {
    pub bans: Vec<BanDetails>,
}

#[utoipa::path(
    get,
    path = "/bans",
    tag = "read",
    security(("token" = [])),
    responses(
        (status = 200, description = "The server bans in force", body = BanList),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
    )
)]
pub(super) async fn bans(State(admin): State<Arc<Admin>>) -> Json<BanList> {
    Json(BanList {
        bans: admin.hub.server_bans().iter().map(BanDetails::of).collect(),
    })
}

/// The newest entries of the audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditLog {
    /// Oldest first.
    pub entries: Vec<AuditEntry>,
}

/// How much of the audit log to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many of the newest entries, 1 to 1000 (default 100).
    limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/audit",
    tag = "read",
    security(("token" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The newest writes, oldest first", body = AuditLog),
        (status = 400, description = "A bad limit", body = ErrorBody),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
        (status = 404, description = "No audit log file is configured (the database is in memory)", body = ErrorBody),
        (status = 500, description = "The file could not be read", body = ErrorBody),
    )
)]
pub(super) async fn audit(
    State(admin): State<Arc<Admin>>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditLog>, ApiError> {
    let limit = checked_limit(query.limit)?;
    let entries = admin.audit.newest(limit).await.ok_or_else(|| {
        ApiError::not_found("no audit log file is configured ([admin] audit_log)")
    })??;
    Ok(Json(AuditLog { entries }))
}

/// An administrator's lock on an account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LockDetails {
    pub reason: String,
    /// Who locked it: `api:TOKEN`.
    pub by: String,
    /// When (ISO 8601, UTC).
    pub at: String,
}

/// A registered account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountDetails {
    /// As registered.
    pub name: String,
    /// When it was registered (ISO 8601, UTC).
    pub created: String,
    /// The email address given when registering (never verified), if any.
    pub email: Option<String>,
    /// Its lock, if an administrator locked it: every login to it is refused.
    pub locked: Option<LockDetails>,
    /// How many client certificates log in to it (SASL EXTERNAL).
    pub certificates: usize,
    /// The nicks of the users logged in to it now.
    pub sessions: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/accounts/{name}",
    tag = "read",
    security(("token" = [])),
    params(("name" = String, Path, description = "The account's name, in any case")),
    responses(
        (status = 200, description = "The account", body = AccountDetails),
        (status = 401, description = "No token, or a wrong one", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub(super) async fn account(
    State(admin): State<Arc<Admin>>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<AccountDetails>, ApiError> {
    let account = admin.accounts.details(&name).await?;
    let certificates = admin.store.certificates(&account.name).await?.len();
    let folded = fold(&account.name);
    let mut sessions: Vec<String> = admin
        .hub
        .users()
        .into_iter()
        .filter_map(|user| {
            let identity = user.identity();
            let logged_in = identity.account.as_deref().map(fold) == Some(folded.clone());
            logged_in.then(|| identity.nick.to_string())
        })
        .collect();
    sessions.sort();
    Ok(Json(AccountDetails {
        created: account.created.iso8601(),
        email: account.email,
        locked: account.locked.map(|lock| LockDetails {
            reason: lock.reason,
            by: lock.by,
            at: lock.at.iso8601(),
        }),
        certificates,
        sessions,
        name: account.name,
    }))
}
