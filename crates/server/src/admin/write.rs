//! The write endpoints: each acts through the hub as the API's actor
//! ([`Hub::administrator`](crate::hub::Hub::administrator)) and through the session helpers an
//! operator's command uses, then answers with [`audited`], which gives the audit log the
//! target and the outcome in words.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use palaver_proto::event::MessageId;
use palaver_proto::irc::modes::{parse_changes, spell_changes};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Admin;
use super::audit::audited;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::read::BanDetails;
use crate::accounts::Caller;
use crate::hub::{Alert, BanTarget, DEFAULT_KILL_REASON, Room};
use crate::session::redaction::{Place, RedactError, redact};
use crate::session::server_bans::{
    BanRequest, DEFAULT_BAN_REASON, LiftError, lift, parse_duration, put_in_force,
};
use crate::session::{forget_ended_rooms, save_room};

/// The reason a lock gets when the request gives none.
pub const DEFAULT_LOCK_REASON: &str = "no reason given";

/// What every write may be answered besides its own answers.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only describes the answers (OpenAPI); never built.
enum WriteErrors {
    /// A body that is no JSON of the right shape, or a bad value
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No token, or a wrong one
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// A token of scope `read`
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Too many wrong tokens from this address (`Retry-After` says when to try again)
    #[response(status = 429)]
    TooManyFailures(ErrorBody),
}

/// The room `name`, or 404.
fn room(admin: &Admin, name: &str) -> Result<Arc<Room>, ApiError> {
    admin
        .hub
        .room(name)
        .ok_or_else(|| ApiError::not_found(format!("no such room: {name}")))
}

/// Why a user is disconnected.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct KillRequest {
    /// Shown to the user and in its quit (default: "no reason given").
    pub reason: Option<String>,
}

/// Who was disconnected.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Killed {
    pub nick: String,
}

#[utoipa::path(
    post,
    path = "/users/{nick}/kill",
    tag = "write",
    security(("token" = [])),
    params(("nick" = String, Path, description = "The user's nick, in any case")),
    request_body = KillRequest,
    responses(
        (status = 200, description = "The user is disconnected, as by an operator's KILL", body = Killed),
        (status = 404, description = "Nobody is connected under that nick", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn kill(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath(nick): ApiPath<String>,
    request: Result<ApiJson<KillRequest>, ApiError>,
) -> Response {
    let result = async {
        let ApiJson(request) = request?;
        let actor = admin.hub.administrator(&caller.name);
        let reason = request.reason.as_deref().unwrap_or(DEFAULT_KILL_REASON);
        let victim = admin.network.kill(&actor, &nick, reason).await?;
        let nick = victim.nick().to_string();
        let detail = format!("killed {nick} ({reason})");
        Ok((StatusCode::OK, Killed { nick }, detail))
    };
    audited(nick.clone(), result.await)
}

/// Whom to take out of a room.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KickRequest {
    pub nick: String,
    /// Shown to the room (default: the kicked nick, as IRC does).
    pub reason: Option<String>,
}

/// Who was kicked from where.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Kicked {
    pub room: String,
    pub nick: String,
}

#[utoipa::path(
    post,
    path = "/rooms/{room}/kick",
    tag = "write",
    security(("token" = [])),
    params(("room" = String, Path, description = "The room's name with its `#`, URL-encoded (`%23rust`)")),
    request_body = KickRequest,
    responses(
        (status = 200, description = "The member is out, the room told as of a KICK by the server", body = Kicked),
        (status = 404, description = "No such room, or nobody under that nick", body = ErrorBody),
        (status = 422, description = "That user is not in the room", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn kick(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    request: Result<ApiJson<KickRequest>, ApiError>,
) -> Response {
    let result = async {
        let ApiJson(request) = request?;
        let room = room(&admin, &name)?;
        let actor = admin.hub.administrator(&caller.name);
        let reason = request.reason.as_deref().unwrap_or(&request.nick);
        let departure = admin
            .network
            .kick(&actor, &room, &request.nick, reason)
            .await?;
        forget_ended_rooms(&admin.store, departure.ended.into_iter().collect()).await;
        let detail = format!("kicked {} from {} ({reason})", request.nick, room.name());
        let kicked = Kicked {
            room: room.name().to_string(),
            nick: request.nick,
        };
        Ok((StatusCode::OK, kicked, detail))
    };
    audited(name.clone(), result.await)
}

/// A room's new topic.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TopicRequest {
    /// The topic; empty clears it. Cut to 390 bytes.
    pub topic: String,
}

/// The topic set.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TopicSet {
    pub room: String,
    pub topic: String,
}

#[utoipa::path(
    put,
    path = "/rooms/{room}/topic",
    tag = "write",
    security(("token" = [])),
    params(("room" = String, Path, description = "The room's name with its `#`, URL-encoded (`%23rust`)")),
    request_body = TopicRequest,
    responses(
        (status = 200, description = "The topic is set (and saved for a registered room), the room told", body = TopicSet),
        (status = 404, description = "No such room", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn set_topic(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    request: Result<ApiJson<TopicRequest>, ApiError>,
) -> Response {
    let result = async {
        let ApiJson(request) = request?;
        let room = room(&admin, &name)?;
        let actor = admin.hub.administrator(&caller.name);
        admin
            .network
            .set_topic(&actor, &room, &request.topic)
            .await?;
        save_room(&admin.hub, &admin.store, &room).await;
        let topic = room
            .topic()
            .map(|topic| topic.text.into())
            .unwrap_or_default();
        let detail = format!("set the topic of {} to {topic:?}", room.name());
        let set = TopicSet {
            room: room.name().to_string(),
            topic,
        };
        Ok((StatusCode::OK, set, detail))
    };
    audited(name.clone(), result.await)
}

/// Mode changes, in IRC's notation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModesRequest {
    /// The letters, such as `+m-t`, `+k`, `+o`, `+b`.
    pub modes: String,
    /// The arguments of the letters that take one, in order: a key, a limit, a nick, a mask.
    #[serde(default)]
    pub arguments: Vec<String>,
}

/// What changed, and what could not.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModesSet {
    pub room: String,
    /// The changes that changed something, in IRC's notation (empty if none did).
    pub applied: String,
    /// Why each other change was not applied.
    pub refused: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/rooms/{room}/modes",
    tag = "write",
    security(("token" = [])),
    params(("room" = String, Path, description = "The room's name with its `#`, URL-encoded (`%23rust`)")),
    request_body = ModesRequest,
    responses(
        (status = 200, description = "The changes applied (and saved for a registered room), the room told", body = ModesSet),
        (status = 404, description = "No such room", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn set_modes(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    request: Result<ApiJson<ModesRequest>, ApiError>,
) -> Response {
    let result = async {
        let ApiJson(request) = request?;
        let room = room(&admin, &name)?;
        let changes = parse_changes(&request.modes, &request.arguments).ok_or_else(|| {
            ApiError::bad_request(format!(
                "not room modes with their arguments: {} {}",
                request.modes,
                request.arguments.join(" ")
            ))
        })?;
        let actor = admin.hub.administrator(&caller.name);
        let outcome = admin.network.change_modes(&actor, &room, changes).await?;
        let applied = match &outcome.event {
            Some(palaver_proto::event::Event::ModeChanged { changes, .. }) => {
                let (letters, arguments) = spell_changes(changes);
                std::iter::once(letters)
                    .chain(arguments)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            _ => String::new(),
        };
        if outcome.event.is_some() {
            save_room(&admin.hub, &admin.store, &room).await;
        }
        let refused: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
        let detail = format!("set modes {applied:?} on {}", room.name());
        let set = ModesSet {
            room: room.name().to_string(),
            applied,
            refused,
        };
        Ok((StatusCode::OK, set, detail))
    };
    audited(name.clone(), result.await)
}

/// Why a message is deleted.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Shown to clients that show deletions.
    reason: Option<String>,
}

/// The message deleted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Deleted {
    pub room: String,
    pub msgid: String,
}

#[utoipa::path(
    delete,
    path = "/rooms/{room}/messages/{msgid}",
    tag = "write",
    security(("token" = [])),
    params(
        ("room" = String, Path, description = "The room's name with its `#`, URL-encoded (`%23rust`)"),
        ("msgid" = String, Path, description = "The message's id, as clients see it (IRC `msgid`)"),
        DeleteQuery,
    ),
    responses(
        (status = 200, description = "The message is deleted from the history (durably) and the room told, as by REDACT", body = Deleted),
        (status = 404, description = "No such room, or no such message in this room's current lifetime", body = ErrorBody),
        (status = 500, description = "The store failed", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn delete_message(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath((name, msgid)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Response {
    let target = format!("{name} {msgid}");
    let result = async {
        let room = room(&admin, &name)?;
        let id = MessageId::parse(&msgid)
            .ok_or_else(|| ApiError::bad_request(format!("not a message id: {msgid}")))?;
        let actor = admin.hub.administrator(&caller.name);
        let place = Place::Room(room.clone());
        let redacted = redact(
            &admin.network,
            &admin.store,
            &actor,
            &place,
            id,
            query.reason.as_deref(),
        )
        .await
        .map_err(|error| match error {
            RedactError::UnknownMessage => {
                ApiError::not_found(format!("no message {msgid} in {}", room.name()))
            }
            RedactError::Refused(error) => error.into(),
            RedactError::Store(error) => error.into(),
        })?;
        // Answered once the deletion is durable, as a deleter's own copy is.
        redacted.commit.await?;
        let detail = format!("deleted message {msgid} in {}", room.name());
        let deleted = Deleted {
            room: room.name().to_string(),
            msgid,
        };
        Ok((StatusCode::OK, deleted, detail))
    };
    audited(target, result.await)
}

/// A server ban to put in force.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BanRequestBody {
    /// What to bar: an address or range (`192.0.2.7`, `192.0.2.0/24`), a `nick!user@host`
    /// mask (`*!*@spam.example`, `user@host` completed), or an account (`$a:name`).
    pub target: String,
    /// How long: whole minutes (`60`) or a duration (`90m`, `12h`, `7d`); none: until removed.
    pub duration: Option<String>,
    /// Shown to whom it disconnects and refuses (default: "no reason given").
    pub reason: Option<String>,
}

/// The ban in force.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BanAdded {
    pub ban: BanDetails,
    /// How many connected users it disconnected.
    pub disconnected: usize,
    /// Whether the store keeps it; `false`: it is in force, but ends at restart.
    pub saved: bool,
}

#[utoipa::path(
    post,
    path = "/bans",
    tag = "write",
    security(("token" = [])),
    request_body = BanRequestBody,
    responses(
        (status = 201, description = "The ban is in force (replacing any on the same target), as by KLINE or DLINE; whom it bars is disconnected", body = BanAdded),
        WriteErrors,
    )
)]
pub(super) async fn add_ban(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    request: Result<ApiJson<BanRequestBody>, ApiError>,
) -> Response {
    let target = match &request {
        Ok(ApiJson(request)) => request.target.clone(),
        Err(_) => String::new(),
    };
    let result = async {
        let ApiJson(request) = request?;
        let duration = match &request.duration {
            Some(word) => Some(parse_duration(word).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "not a duration: {word} (whole minutes, or such as 90m, 12h, 7d)"
                ))
            })?),
            None => None,
        };
        let ban = BanRequest {
            target: request.target.parse().map_err(ApiError::bad_request)?,
            duration,
            reason: request
                .reason
                .filter(|reason| !reason.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_BAN_REASON.to_owned()),
        };
        let actor = admin.hub.administrator(&caller.name);
        let added = put_in_force(&admin.network, &admin.store, &actor, ban).await?;
        let mut detail = format!(
            "banned {} ({}); {} disconnected",
            added.ban.target, added.ban.reason, added.disconnected
        );
        if let Some(error) = &added.unsaved {
            detail.push_str(&format!("; not saved ({error}): it ends at restart"));
        }
        let answer = BanAdded {
            ban: BanDetails::of(&added.ban),
            disconnected: added.disconnected,
            saved: added.unsaved.is_none(),
        };
        Ok((StatusCode::CREATED, answer, detail))
    };
    audited(target, result.await)
}

/// Which ban to lift.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BanToLift {
    /// The ban's target, as listed by `GET /bans` or as given when it was set.
    target: String,
}

/// The ban lifted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BanLifted {
    pub target: String,
}

#[utoipa::path(
    delete,
    path = "/bans",
    tag = "write",
    security(("token" = [])),
    params(BanToLift),
    responses(
        (status = 200, description = "The ban is lifted, in force and in the store", body = BanLifted),
        (status = 404, description = "There is no ban on that target", body = ErrorBody),
        (status = 500, description = "The store failed: the ban is lifted until restart", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn remove_ban(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    query: Result<ApiQuery<BanToLift>, ApiError>,
) -> Response {
    let target = match &query {
        Ok(ApiQuery(query)) => query.target.clone(),
        Err(_) => String::new(),
    };
    let result = async {
        let ApiQuery(query) = query?;
        let target: BanTarget = query.target.parse().map_err(ApiError::bad_request)?;
        let actor = admin.hub.administrator(&caller.name);
        lift(&admin.network, &admin.store, &actor, &target)
            .await
            .map_err(|error| match error {
                LiftError::NoSuchBan => ApiError::not_found(format!("there is no ban on {target}")),
                LiftError::Refused(error) => error.into(),
                LiftError::Store(error) => ApiError::store_failed(format!(
                    "{error}; the ban on {target} is lifted until restart"
                )),
            })?;
        let detail = format!("lifted the ban on {target}");
        let lifted = BanLifted {
            target: target.to_string(),
        };
        Ok((StatusCode::OK, lifted, detail))
    };
    audited(target, result.await)
}

/// An account to register.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewAccount {
    /// The account's name: a valid nick.
    pub name: String,
    pub password: String,
    /// Needed when `[accounts] require_email` is set.
    pub email: Option<String>,
}

/// An account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountName {
    /// As registered.
    pub name: String,
}

#[utoipa::path(
    post,
    path = "/accounts",
    tag = "write",
    security(("token" = [])),
    request_body = NewAccount,
    responses(
        (status = 201, description = "The account is registered, as by NickServ REGISTER", body = AccountName),
        (status = 409, description = "The name is registered already", body = ErrorBody),
        (status = 422, description = "A bad name, password or email address", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn register_account(
    State(admin): State<Arc<Admin>>,
    request: Result<ApiJson<NewAccount>, ApiError>,
) -> Response {
    let target = match &request {
        Ok(ApiJson(request)) => request.name.clone(),
        Err(_) => String::new(),
    };
    let result = async {
        let ApiJson(request) = request?;
        // Not counted against any address's registrations: the administrator chose to.
        let name = admin
            .accounts
            .register_with_email(
                &request.name,
                &request.password,
                request.email.as_deref(),
                None,
            )
            .await?;
        let detail = format!("registered the account {name}");
        Ok((StatusCode::CREATED, AccountName { name }, detail))
    };
    audited(target, result.await)
}

/// A new password.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordReset {
    pub password: String,
}

/// The account whose password was reset.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordWasReset {
    /// As registered.
    pub name: String,
    /// How many sessions were logged out of it.
    pub logged_out: usize,
}

#[utoipa::path(
    put,
    path = "/accounts/{name}/password",
    tag = "write",
    security(("token" = [])),
    params(("name" = String, Path, description = "The account's name, in any case")),
    request_body = PasswordReset,
    responses(
        (status = 200, description = "The password is replaced and every session of the account logged out, as after a password change", body = PasswordWasReset),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 422, description = "An unacceptable password", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn reset_password(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    request: Result<ApiJson<PasswordReset>, ApiError>,
) -> Response {
    let result = async {
        let ApiJson(request) = request?;
        let name = admin
            .accounts
            .reset_password(&name, &request.password)
            .await?;
        let actor = admin.hub.administrator(&caller.name);
        let logged_out = admin
            .network
            .log_out_other_sessions(&name, &actor, Alert::LoggedOut)
            .await;
        let detail = format!("reset the password of {name}; {logged_out} sessions logged out");
        Ok((
            StatusCode::OK,
            PasswordWasReset { name, logged_out },
            detail,
        ))
    };
    audited(name.clone(), result.await)
}

/// Why an account is locked.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct LockRequest {
    /// Shown to whoever logs in to it with the right credentials (default: "no reason
    /// given").
    pub reason: Option<String>,
}

/// The account locked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountLocked {
    /// As registered.
    pub name: String,
    pub reason: String,
    /// How many sessions were logged out of it.
    pub logged_out: usize,
}

#[utoipa::path(
    post,
    path = "/accounts/{name}/lock",
    tag = "write",
    security(("token" = [])),
    params(("name" = String, Path, description = "The account's name, in any case")),
    request_body = LockRequest,
    responses(
        (status = 200, description = "The account is locked (a locked one takes the new reason) and every session of it logged out: from now on every login to it is refused, by password, SCRAM or certificate", body = AccountLocked),
        (status = 404, description = "No such account", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn lock_account(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    request: Result<ApiJson<LockRequest>, ApiError>,
) -> Response {
    let result = async {
        let ApiJson(request) = request?;
        let reason = request
            .reason
            .filter(|reason| !reason.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_LOCK_REASON.to_owned());
        let by = format!("api:{}", caller.name);
        let name = admin.accounts.lock(&name, &reason, &by).await?;
        let actor = admin.hub.administrator(&caller.name);
        let logged_out = admin
            .network
            .log_out_other_sessions(&name, &actor, Alert::AccountLocked)
            .await;
        let detail =
            format!("locked the account {name} ({reason}); {logged_out} sessions logged out");
        Ok((
            StatusCode::OK,
            AccountLocked {
                name,
                reason,
                logged_out,
            },
            detail,
        ))
    };
    audited(name.clone(), result.await)
}

/// The account unlocked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountUnlocked {
    /// As registered.
    pub name: String,
    /// Whether it was locked (unlocking an account that is not changes nothing).
    pub was_locked: bool,
}

#[utoipa::path(
    post,
    path = "/accounts/{name}/unlock",
    tag = "write",
    security(("token" = [])),
    params(("name" = String, Path, description = "The account's name, in any case")),
    responses(
        (status = 200, description = "The account is not locked (any more): logins to it work again", body = AccountUnlocked),
        (status = 404, description = "No such account", body = ErrorBody),
        WriteErrors,
    )
)]
pub(super) async fn unlock_account(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
) -> Response {
    let result = async {
        let by = format!("api:{}", caller.name);
        let (name, was_locked) = admin.accounts.unlock(&name, &by).await?;
        let detail = match was_locked {
            true => format!("unlocked the account {name}"),
            false => format!("the account {name} was not locked"),
        };
        Ok((StatusCode::OK, AccountUnlocked { name, was_locked }, detail))
    };
    audited(name.clone(), result.await)
}
