//! SASL SCRAM-SHA-256 (RFC 5802, with SHA-256 as RFC 7677 names it): the credentials stored
//! for an account, and the server's side of one exchange. Pure: salts and nonces come from the
//! caller, and nothing here touches the store or the network.
//!
//! What is stored (RFC 5802 §3) never logs in by itself: `StoredKey` is a hash of the key a
//! client proves it has, and `ServerKey` only lets the server prove itself to the client. The
//! password is taken as its UTF-8 bytes, without SASLprep, as Ergo does: palaver's passwords
//! hold no whitespace, and printable ASCII is the same either way (a client that prepares a
//! password with compatibility characters, such as ligatures, derives other keys).
//!
//! Only the mechanism without channel binding is offered (no `SCRAM-SHA-256-PLUS`): a client
//! asking for channel binding (`p=`) is refused, one that could bind but saw no `-PLUS`
//! offered (`y`) is accepted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The mechanism's name in `AUTHENTICATE` and the `sasl` capability.
pub const MECHANISM: &str = "SCRAM-SHA-256";

/// PBKDF2 iterations for new credentials: RFC 7677's minimum, which clients expect (some
/// refuse fewer) and which keeps a login cheap for slow clients, which compute it each time.
/// The stored keys resist an offline guess far less than the argon2id hash does: see
/// `docs/SECURITY.md`.
pub const ITERATIONS: u32 = 4096;

/// Bytes of a new salt.
pub const SALT_BYTES: usize = 16;

/// Bytes of randomness in the server's part of a nonce (base64-encoded on the wire).
pub const NONCE_BYTES: usize = 18;

/// The length of SHA-256 digests, and so of every key.
const KEY_BYTES: usize = 32;

/// The prefix of stored credentials (RFC 5803's form, also PostgreSQL's).
const STORED_PREFIX: &str = "SCRAM-SHA-256$";

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> [u8; KEY_BYTES] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn sha256(bytes: &[u8]) -> [u8; KEY_BYTES] {
    Sha256::digest(bytes).into()
}

/// What the server keeps to check SCRAM logins of one account.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredentials {
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: [u8; KEY_BYTES],
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: [u8; KEY_BYTES],
}

impl std::fmt::Debug for ScramCredentials {
    /// Shows the parameters only: the keys are as good as a password hash.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ScramCredentials")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredentials {
    /// The credentials for `password` with `salt` and `iterations` (RFC 5802 §3). Costs
    /// `iterations` HMAC computations: run it off the async workers.
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Self {
        let mut salted = [0; KEY_BYTES];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
        Self {
            salt: salt.to_vec(),
            iterations,
            stored_key: sha256(&hmac(&salted, b"Client Key")),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Stand-in credentials for an account that has none, so that an exchange for it goes on
    /// like any other and fails only at the proof: derived from `key` (secret, random per
    /// run) and the folded account name, so asking twice shows the same salt, and no proof
    /// can match a `StoredKey` nobody knows the preimage of.
    pub fn decoy(key: &[u8], folded_name: &str) -> Self {
        let part = |label: &str| hmac(key, format!("{label}\0{folded_name}").as_bytes());
        Self {
            salt: part("salt")[..SALT_BYTES].to_vec(),
            iterations: ITERATIONS,
            stored_key: part("stored key"),
            server_key: part("server key"),
        }
    }

    /// The stored form, RFC 5803's:
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, in base64.
    pub fn to_stored(&self) -> String {
        format!(
            "{STORED_PREFIX}{}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }

    /// Reads the stored form back; `None` if it is not one.
    pub fn from_stored(stored: &str) -> Option<Self> {
        let rest = stored.strip_prefix(STORED_PREFIX)?;
        let (parameters, keys) = rest.split_once('$')?;
        let (iterations, salt) = parameters.split_once(':')?;
        let (stored_key, server_key) = keys.split_once(':')?;
        let key =
            |text: &str| -> Option<[u8; KEY_BYTES]> { BASE64.decode(text).ok()?.try_into().ok() };
        Some(Self {
            salt: BASE64.decode(salt).ok()?,
            iterations: iterations.parse().ok().filter(|count| *count > 0)?,
            stored_key: key(stored_key)?,
            server_key: key(server_key)?,
        })
    }
}

/// Why an exchange failed. None of these says whether the account exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ScramError {
    #[error("the message does not follow RFC 5802")]
    Malformed,
    #[error("channel binding is not offered")]
    ChannelBinding,
    #[error("the authorization identity must be the user name")]
    AuthorizationIdentity,
    #[error("mandatory extensions are not supported")]
    MandatoryExtension,
    #[error("the nonce is not this exchange's")]
    Nonce,
    #[error("the proof is wrong")]
    InvalidProof,
}

/// The client's first message (`n,,n=user,r=nonce`), read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The account name asked for.
    pub username: String,
    /// The GS2 header (`n,,`), which the final message must repeat.
    gs2_header: String,
    /// The message without its GS2 header, part of what both sides sign.
    bare: String,
    nonce: String,
}

impl ClientFirst {
    /// Reads `message` (RFC 5802 §7, `client-first-message`).
    pub fn parse(message: &str) -> Result<Self, ScramError> {
        let mut parts = message.splitn(3, ',');
        let (Some(binding), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ScramError::Malformed);
        };
        match binding {
            "n" | "y" => {}
            _ if binding.starts_with("p=") => return Err(ScramError::ChannelBinding),
            _ => return Err(ScramError::Malformed),
        }
        // The header as sent, which the final message must repeat byte for byte.
        let gs2_header = &message[..binding.len() + authzid.len() + 2];
        let authzid = match authzid {
            "" => None,
            _ => Some(
                authzid
                    .strip_prefix("a=")
                    .and_then(decode_saslname)
                    .ok_or(ScramError::Malformed)?,
            ),
        };
        let mut fields = bare.split(',');
        let username = match fields.next() {
            Some(field) if field.starts_with("m=") => return Err(ScramError::MandatoryExtension),
            Some(field) => field
                .strip_prefix("n=")
                .and_then(decode_saslname)
                .filter(|name| !name.is_empty())
                .ok_or(ScramError::Malformed)?,
            None => return Err(ScramError::Malformed),
        };
        let nonce = fields
            .next()
            .and_then(|field| field.strip_prefix("r="))
            .filter(|nonce| valid_nonce(nonce))
            .ok_or(ScramError::Malformed)?;
        if authzid.is_some_and(|authzid| authzid != username) {
            return Err(ScramError::AuthorizationIdentity);
        }
        Ok(Self {
            gs2_header: gs2_header.to_owned(),
            bare: bare.to_owned(),
            nonce: nonce.to_owned(),
            username,
        })
    }
}

/// A `saslname` (RFC 5802 §7): `=2C` stands for `,` and `=3D` for `=`; no other `=`.
fn decode_saslname(name: &str) -> Option<String> {
    let mut decoded = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        decoded.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3)?;
        decoded.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    decoded.push_str(rest);
    Some(decoded)
}

/// A nonce is printable ASCII without `,` (RFC 5802 §7).
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|byte| (0x21..=0x7e).contains(&byte) && byte != b',')
}

/// The server's side of one exchange, between its first message and the client's final one.
pub struct ServerExchange {
    credentials: ScramCredentials,
    gs2_header: String,
    /// The client's nonce followed by the server's.
    nonce: String,
    /// `client-first-message-bare "," server-first-message`: the start of what both sign.
    signed_so_far: String,
}

impl ServerExchange {
    /// Answers `first` for an account with `credentials`, adding `server_nonce` (printable,
    /// fresh and unpredictable) to the client's; returns the exchange and the
    /// `server-first-message` to send.
    pub fn start(
        first: ClientFirst,
        credentials: ScramCredentials,
        server_nonce: &str,
    ) -> (Self, String) {
        let nonce = format!("{}{server_nonce}", first.nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&credentials.salt),
            credentials.iterations
        );
        let exchange = Self {
            credentials,
            gs2_header: first.gs2_header,
            nonce,
            signed_so_far: format!("{},{server_first}", first.bare),
        };
        (exchange, server_first)
    }

    /// Checks the client's final message (`c=…,r=…,p=…`) and returns the
    /// `server-final-message` (`v=…`) proving the server knows the credentials too. The proof
    /// is compared in constant time.
    pub fn finish(&self, client_final: &str) -> Result<String, ScramError> {
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed)?;
        let proof: [u8; KEY_BYTES] = BASE64
            .decode(proof)
            .ok()
            .and_then(|proof| proof.try_into().ok())
            .ok_or(ScramError::Malformed)?;
        let mut fields = without_proof.split(',');
        let binding = fields
            .next()
            .and_then(|field| field.strip_prefix("c="))
            .and_then(|binding| BASE64.decode(binding).ok())
            .ok_or(ScramError::Malformed)?;
        if binding != self.gs2_header.as_bytes() {
            return Err(ScramError::ChannelBinding);
        }
        let nonce = fields
            .next()
            .and_then(|field| field.strip_prefix("r="))
            .ok_or(ScramError::Malformed)?;
        if nonce != self.nonce {
            return Err(ScramError::Nonce);
        }
        let auth_message = format!("{},{without_proof}", self.signed_so_far);
        let client_signature = hmac(&self.credentials.stored_key, auth_message.as_bytes());
        let mut client_key = proof;
        for (byte, signature) in client_key.iter_mut().zip(client_signature) {
            *byte ^= signature;
        }
        let matches: bool = sha256(&client_key)
            .ct_eq(&self.credentials.stored_key)
            .into();
        if !matches {
            return Err(ScramError::InvalidProof);
        }
        let server_signature = hmac(&self.credentials.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(server_signature)))
    }
}

/// The client's side of the final step, for tests and tools that log in with SCRAM-SHA-256
/// (without channel binding, GS2 header `n,,`): from the password, the client's first message
/// without its header and the server's first message, the client's final message and the
/// server's final message a server knowing the password answers with. `None` if
/// `server_first` is not one.
pub fn client_final(
    password: &str,
    client_first_bare: &str,
    server_first: &str,
) -> Option<(String, String)> {
    let field = |name: &str| {
        server_first
            .split(',')
            .find_map(|field| field.strip_prefix(name))
    };
    let nonce = field("r=")?;
    let salt = BASE64.decode(field("s=")?).ok()?;
    let iterations = field("i=")?.parse().ok()?;
    let mut salted = [0; KEY_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac(&sha256(&client_key), auth_message.as_bytes());
    let mut proof = client_key;
    for (byte, signature) in proof.iter_mut().zip(signature) {
        *byte ^= signature;
    }
    let server_signature = hmac(&hmac(&salted, b"Server Key"), auth_message.as_bytes());
    Some((
        format!("{without_proof},p={}", BASE64.encode(proof)),
        format!("v={}", BASE64.encode(server_signature)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3: user `user`, password `pencil`.
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn pencil() -> ScramCredentials {
        ScramCredentials::derive("pencil", &BASE64.decode(SALT).unwrap(), 4096)
    }

    fn exchange() -> ServerExchange {
        let first = ClientFirst::parse(CLIENT_FIRST).expect("client-first");
        assert_eq!(first.username, "user");
        let (exchange, server_first) = ServerExchange::start(first, pencil(), SERVER_NONCE);
        assert_eq!(server_first, SERVER_FIRST);
        exchange
    }

    #[test]
    fn the_rfc_7677_exchange_succeeds() {
        assert_eq!(exchange().finish(CLIENT_FINAL), Ok(SERVER_FINAL.to_owned()));
    }

    #[test]
    fn the_client_side_computes_the_rfc_7677_messages() {
        let bare = CLIENT_FIRST.strip_prefix("n,,").unwrap();
        assert_eq!(
            client_final("pencil", bare, SERVER_FIRST),
            Some((CLIENT_FINAL.to_owned(), SERVER_FINAL.to_owned()))
        );
        assert_eq!(client_final("pencil", bare, "r=abc"), None);
    }

    #[test]
    fn a_wrong_proof_or_nonce_or_binding_fails() {
        let exchange = exchange();
        let wrong_proof = CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
        assert_eq!(exchange.finish(&wrong_proof), Err(ScramError::InvalidProof));
        let other_password = ScramCredentials::derive("pencils", &pencil().salt, 4096);
        let first = ClientFirst::parse(CLIENT_FIRST).unwrap();
        let (other, _) = ServerExchange::start(first, other_password, SERVER_NONCE);
        assert_eq!(other.finish(CLIENT_FINAL), Err(ScramError::InvalidProof));
        let wrong_nonce = CLIENT_FINAL.replace("$k0,p=", "$k1,p=");
        assert_eq!(exchange.finish(&wrong_nonce), Err(ScramError::Nonce));
        // `eSws` is `y,,`: not the header the client sent.
        let wrong_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
        assert_eq!(
            exchange.finish(&wrong_binding),
            Err(ScramError::ChannelBinding)
        );
        for malformed in ["", "c=biws", "p=AAAA", "c=biws,r=x,p=not base64!"] {
            assert_eq!(exchange.finish(malformed), Err(ScramError::Malformed));
        }
    }

    #[test]
    fn client_first_messages_are_read_as_rfc_5802_says() {
        let first = ClientFirst::parse("y,a=a=3Db,n=a=3Db,r=abc,x=ext").expect("valid");
        assert_eq!(first.username, "a=b");
        assert_eq!(first.gs2_header, "y,a=a=3Db,");
        assert_eq!(first.bare, "n=a=3Db,r=abc,x=ext");
        for (message, error) in [
            ("p=tls-unique,,n=user,r=abc", ScramError::ChannelBinding),
            ("n,a=other,n=user,r=abc", ScramError::AuthorizationIdentity),
            ("n,,m=ext,n=user,r=abc", ScramError::MandatoryExtension),
            ("n,,n=user", ScramError::Malformed),
            ("n,,n=,r=abc", ScramError::Malformed),
            ("n,,n=us=er,r=abc", ScramError::Malformed),
            ("n,,n=user,r=", ScramError::Malformed),
            ("x,,n=user,r=abc", ScramError::Malformed),
            ("n,,r=abc,n=user", ScramError::Malformed),
            ("n,n=user,r=abc", ScramError::Malformed),
        ] {
            assert_eq!(ClientFirst::parse(message), Err(error), "{message}");
        }
    }

    #[test]
    fn credentials_are_stored_in_rfc_5803_form_and_read_back() {
        let credentials = pencil();
        let stored = credentials.to_stored();
        assert!(
            stored.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"),
            "{stored}"
        );
        assert_eq!(ScramCredentials::from_stored(&stored), Some(credentials));
        for broken in [
            "",
            "$argon2id$v=19$m=19456,t=2,p=1$x$y",
            "SCRAM-SHA-256$0:AAAA$AAAA:AAAA",
            "SCRAM-SHA-256$4096:AAAA$AAAA:AAAA",
        ] {
            assert_eq!(ScramCredentials::from_stored(broken), None, "{broken}");
        }
    }

    #[test]
    fn decoys_are_stable_per_name_and_match_no_proof() {
        let decoy = ScramCredentials::decoy(b"secret", "user");
        assert_eq!(decoy, ScramCredentials::decoy(b"secret", "user"));
        assert_ne!(decoy.salt, ScramCredentials::decoy(b"secret", "other").salt);
        assert_ne!(
            decoy.salt,
            ScramCredentials::decoy(b"other secret", "user").salt
        );
        assert_eq!(
            (decoy.salt.len(), decoy.iterations),
            (SALT_BYTES, ITERATIONS)
        );
        let first = ClientFirst::parse(CLIENT_FIRST).unwrap();
        let (exchange, _) = ServerExchange::start(first, decoy, SERVER_NONCE);
        assert_eq!(exchange.finish(CLIENT_FINAL), Err(ScramError::InvalidProof));
    }

    #[test]
    fn credentials_never_show_their_keys() {
        let shown = format!("{:?}", pencil());
        assert_eq!(shown, "ScramCredentials { iterations: 4096, .. }");
    }
}
