//! IRCv3 WHOX (<https://ircv3.net/specs/extensions/whox>): `WHO <mask> %<fields>[,<token>]`
//! asks for chosen fields of each user found, and each user is answered with one
//! `354 RPL_WHOSPCRPL` holding exactly those fields, in a fixed order whatever order they
//! were asked in.
//!
//! Beside the standard fields this reads two that ircu introduced and clients send: `d`, the
//! hop count, and `o`, the channel op level. Letters it does not know are ignored, as the
//! specification asks.

/// A field a WHOX query may ask for. The order of [`WhoxField::ALL`] is the order of the
/// fields in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhoxField {
    /// `t`: the query's token, given back.
    Token,
    /// `c`: a channel the user is in, or `*`.
    Channel,
    /// `u`: the user name.
    User,
    /// `i`: the IP address, or `255.255.255.255` when it is not disclosed.
    Ip,
    /// `h`: the host.
    Host,
    /// `s`: the server.
    Server,
    /// `n`: the nick.
    Nick,
    /// `f`: the `WHO` flags (`H`/`G`, then the others).
    Flags,
    /// `d`: hops away from this server.
    Hops,
    /// `l`: seconds idle.
    Idle,
    /// `a`: the account, or `0` when logged out.
    Account,
    /// `o`: the channel op level (ircu), which this server does not have.
    OpLevel,
    /// `r`: the real name; always last, as the final parameter.
    Realname,
}

impl WhoxField {
    /// Every field, in reply order (IRCv3 WHOX, with ircu's `d` and `o` where ircu puts them).
    pub const ALL: [WhoxField; 13] = [
        WhoxField::Token,
        WhoxField::Channel,
        WhoxField::User,
        WhoxField::Ip,
        WhoxField::Host,
        WhoxField::Server,
        WhoxField::Nick,
        WhoxField::Flags,
        WhoxField::Hops,
        WhoxField::Idle,
        WhoxField::Account,
        WhoxField::OpLevel,
        WhoxField::Realname,
    ];

    /// The letter that asks for this field.
    pub fn letter(self) -> char {
        match self {
            WhoxField::Token => 't',
            WhoxField::Channel => 'c',
            WhoxField::User => 'u',
            WhoxField::Ip => 'i',
            WhoxField::Host => 'h',
            WhoxField::Server => 's',
            WhoxField::Nick => 'n',
            WhoxField::Flags => 'f',
            WhoxField::Hops => 'd',
            WhoxField::Idle => 'l',
            WhoxField::Account => 'a',
            WhoxField::OpLevel => 'o',
            WhoxField::Realname => 'r',
        }
    }

    fn bit(self) -> u16 {
        1 << self as u8
    }
}

/// What the `[ip]` field shows when the address is not disclosed (IRCv3 WHOX).
pub const UNDISCLOSED_IP: &str = "255.255.255.255";
/// What the `[account]` field shows for a user not logged in (IRCv3 WHOX).
pub const NO_ACCOUNT: &str = "0";
/// The token given back when a query asks for `t` without a valid one: a token is at most
/// three digits (IRCv3 WHOX), and anything else could not travel as a middle parameter.
const DEFAULT_TOKEN: &str = "0";
/// Longest token given back.
const MAX_TOKEN_LEN: usize = 3;

/// A parsed WHOX request: the fields asked for and the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoxQuery {
    /// The fields asked for, as [`WhoxField::bit`]s.
    fields: u16,
    /// Given back in the `t` field: up to three digits, or [`DEFAULT_TOKEN`].
    token: String,
}

impl WhoxQuery {
    /// Reads the second parameter of `WHO` (`%cuhnar`, `%tn,42`); `None` unless it is a
    /// WHOX request (starts with `%`). Unknown letters are ignored.
    pub fn parse(param: &str) -> Option<Self> {
        let spec = param.strip_prefix('%')?;
        let (letters, token) = spec.split_once(',').unwrap_or((spec, ""));
        let fields = WhoxField::ALL
            .into_iter()
            .filter(|field| letters.contains(field.letter()))
            .fold(0, |bits, field| bits | field.bit());
        let valid_token = !token.is_empty()
            && token.len() <= MAX_TOKEN_LEN
            && token.bytes().all(|byte| byte.is_ascii_digit());
        let token = if valid_token { token } else { DEFAULT_TOKEN };
        Some(Self {
            fields,
            token: token.to_owned(),
        })
    }

    /// Whether the query asks for `field`.
    pub fn wants(&self, field: WhoxField) -> bool {
        self.fields & field.bit() != 0
    }

    /// The token to give back in the `t` field.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The parameters of one `354` reply after the client's nick: the value of each field
    /// asked for, in reply order.
    pub fn reply_params(&self, value: impl FnMut(WhoxField) -> String) -> Vec<String> {
        WhoxField::ALL
            .into_iter()
            .filter(|field| self.wants(*field))
            .map(value)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `query`'s reply about a sample user.
    fn reply(query: &WhoxQuery) -> Vec<String> {
        query.reply_params(|field| match field {
            WhoxField::Token => query.token().to_owned(),
            other => sample(other),
        })
    }

    fn sample(field: WhoxField) -> String {
        match field {
            WhoxField::Token => "token".into(),
            WhoxField::Channel => "#a".into(),
            WhoxField::User => "~al".into(),
            WhoxField::Ip => "127.0.0.1".into(),
            WhoxField::Host => "localhost".into(),
            WhoxField::Server => "irc.example".into(),
            WhoxField::Nick => "alice".into(),
            WhoxField::Flags => "H@".into(),
            WhoxField::Hops => "0".into(),
            WhoxField::Idle => "12".into(),
            WhoxField::Account => NO_ACCOUNT.into(),
            WhoxField::OpLevel => "n/a".into(),
            WhoxField::Realname => "Alice Liddell".into(),
        }
    }

    #[test]
    fn fields_come_in_reply_order_whatever_the_order_asked() {
        let all = "#a ~al 127.0.0.1 localhost irc.example alice H@ 0 12 0 n/a";
        for asked in ["%tcuihsnfdlaor,123", "%roaldfnshiuct,123"] {
            let query = WhoxQuery::parse(asked).unwrap();
            let params = reply(&query);
            assert_eq!(params[0], "123");
            assert_eq!(params[1..params.len() - 1].join(" "), all);
            assert_eq!(params.last().unwrap(), "Alice Liddell");
        }
        let query = WhoxQuery::parse("%na").unwrap();
        assert_eq!(reply(&query), ["alice", "0"]);
        assert!(query.wants(WhoxField::Nick) && !query.wants(WhoxField::Token));
    }

    #[test]
    fn unknown_letters_are_ignored_and_tokens_are_up_to_three_digits() {
        let query = WhoxQuery::parse("%nzx").unwrap();
        assert_eq!(reply(&query), ["alice"]);
        assert_eq!(
            reply(&WhoxQuery::parse("%tn,321").unwrap()),
            ["321", "alice"]
        );
        for bad in ["%tn", "%tn,", "%tn,1234", "%tn,4a", "%tn,a b"] {
            assert_eq!(
                reply(&WhoxQuery::parse(bad).unwrap()),
                ["0", "alice"],
                "{bad}"
            );
        }
        assert_eq!(WhoxQuery::parse("%"), Some(WhoxQuery::parse("%,").unwrap()));
        assert_eq!(WhoxQuery::parse("o"), None);
        assert_eq!(WhoxQuery::parse(""), None);
    }
}
