//! `palaver connect`'s configuration file: `connect.toml` in `$XDG_CONFIG_HOME/palaver/`
//! (`~/.config/palaver/` by default), or the file `--config` names. It says what the flags
//! would otherwise have to say every time — the server, TLS, the nick, the rooms to join, the
//! mouse — which nicks to ignore, how to write the time, and the colours. Flags win over it.
//!
//! `/ignore` and `/unignore` change its `ignore` list in place ([`set_ignored`]): the rest of
//! the file, comments included, stays as the user wrote it.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Value};

use crate::app::theme::Theme;

/// The keys the file may have; anything else is a mistake worth saying.
const KEYS: [&str; 9] = [
    "server",
    "tls",
    "ca",
    "nick",
    "join",
    "mouse",
    "ignore",
    "time_format",
    "colours",
];

/// What the configuration file says. Every setting is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// `HOST[:PORT]`, used when the command line names no server.
    pub server: Option<String>,
    pub tls: bool,
    /// A PEM file of certificates to trust instead of the system's.
    pub ca: Option<PathBuf>,
    pub nick: Option<String>,
    /// Rooms to join, used when the command line names none.
    pub join: Vec<String>,
    /// Whether the full screen takes the mouse (for the wheel); `None`: as the flag says.
    pub mouse: Option<bool>,
    /// Nicks whose messages the full screen does not show.
    pub ignore: Vec<String>,
    /// How the full screen stamps lines (strftime's syntax, such as `%H:%M`).
    pub time_format: Option<String>,
    /// The full screen's colours: the defaults, changed by the `[colours]` table.
    pub colours: Theme,
}

/// Where the configuration file is when `--config` does not say: `$XDG_CONFIG_HOME`, else
/// `$HOME/.config`, then `palaver/connect.toml`. `None` without either variable.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
        })?;
    Some(base.join("palaver").join("connect.toml"))
}

impl ClientConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        Self::parse(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// Checks `text` as a configuration file: TOML with only the known keys, each of its
    /// type.
    pub fn parse(text: &str) -> Result<Self, String> {
        let document: DocumentMut = text.parse().map_err(|error| format!("{error}"))?;
        let table = document.as_table();
        if let Some((key, _)) = table.iter().find(|(key, _)| !KEYS.contains(key)) {
            return Err(format!(
                "unknown setting `{key}` (the settings are {})",
                KEYS.join(", ")
            ));
        }
        Ok(Self {
            server: string(table.get("server"), "server")?,
            tls: boolean(table.get("tls"), "tls")?.unwrap_or(false),
            ca: string(table.get("ca"), "ca")?.map(PathBuf::from),
            nick: string(table.get("nick"), "nick")?,
            join: strings(table.get("join"), "join")?,
            mouse: boolean(table.get("mouse"), "mouse")?,
            ignore: strings(table.get("ignore"), "ignore")?,
            time_format: match string(table.get("time_format"), "time_format")? {
                Some(format) => {
                    crate::app::clock::check_format(&format)?;
                    Some(format)
                }
                None => None,
            },
            colours: match table.get("colours") {
                None => Theme::default(),
                Some(item) => Theme::from_table(
                    item.as_table_like()
                        .ok_or("`colours` must be a table: [colours] and its lines")?,
                )?,
            },
        })
    }
}

fn string(item: Option<&Item>, key: &str) -> Result<Option<String>, String> {
    match item {
        None => Ok(None),
        Some(item) => item
            .as_str()
            .map(|text| Some(text.to_owned()))
            .ok_or_else(|| format!("`{key}` must be a string")),
    }
}

fn boolean(item: Option<&Item>, key: &str) -> Result<Option<bool>, String> {
    match item {
        None => Ok(None),
        Some(item) => item
            .as_bool()
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be true or false")),
    }
}

fn strings(item: Option<&Item>, key: &str) -> Result<Vec<String>, String> {
    let Some(item) = item else {
        return Ok(Vec::new());
    };
    let wrong = || format!("`{key}` must be a list of strings, such as [\"a\", \"b\"]");
    let array = item.as_array().ok_or_else(wrong)?;
    array
        .iter()
        .map(|value| value.as_str().map(str::to_owned).ok_or_else(wrong))
        .collect()
}

/// Adds `nick` to the `ignore` list of the file at `path` (or removes it, in any case), and
/// returns the list as it now is. The file and its directory are created if they do not
/// exist; everything else in it is kept as it was.
pub fn set_ignored(path: &Path, nick: &str, ignored: bool) -> Result<Vec<String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    // Checked as a whole first: a file with a mistake is not rewritten.
    ClientConfig::parse(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut document: DocumentMut = text.parse().map_err(|error| format!("{error}"))?;
    let list = document
        .entry("ignore")
        .or_insert(Item::Value(Value::Array(Array::new())))
        .as_array_mut()
        .expect("checked: a list");
    let listed: Vec<String> = list
        .iter()
        .filter_map(|value| value.as_str().map(str::to_owned))
        .collect();
    let now = with_ignored(listed, nick, ignored);
    list.clear();
    list.extend(now.iter().map(String::as_str));
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory)
            .map_err(|error| format!("cannot create {}: {error}", directory.display()))?;
    }
    std::fs::write(path, document.to_string())
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(now)
}

/// `list` with `nick` added at the end (`ignored`) or taken out, in any case, once.
pub fn with_ignored(mut list: Vec<String>, nick: &str, ignored: bool) -> Vec<String> {
    list.retain(|listed| !listed.eq_ignore_ascii_case(nick));
    if ignored {
        list.push(nick.to_owned());
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_read_and_mistakes_are_named() {
        let config = ClientConfig::parse(
            r##"
            # Where I chat.
            server = "chat.example:6697"
            tls = true
            ca = "/etc/ssl/chat.pem"
            nick = "alice"
            join = ["#lobby", "#rust"]
            mouse = false
            ignore = ["spammer"]
            time_format = "%H:%M"

            [colours]
            mention = "lightmagenta"
            "##,
        )
        .unwrap();
        assert_eq!(
            config,
            ClientConfig {
                server: Some("chat.example:6697".into()),
                tls: true,
                ca: Some("/etc/ssl/chat.pem".into()),
                nick: Some("alice".into()),
                join: vec!["#lobby".into(), "#rust".into()],
                mouse: Some(false),
                ignore: vec!["spammer".into()],
                time_format: Some("%H:%M".into()),
                colours: Theme {
                    mention: ratatui::style::Color::LightMagenta,
                    ..Theme::default()
                },
            }
        );
        assert!(
            !ClientConfig::parse("colours = { nicks = false }")
                .unwrap()
                .colours
                .nicks
        );
        assert_eq!(ClientConfig::parse("").unwrap(), ClientConfig::default());
        let error = |text: &str| ClientConfig::parse(text).unwrap_err();
        assert!(error("nickname = \"a\"").starts_with("unknown setting `nickname`"));
        assert_eq!(error("tls = \"yes\""), "`tls` must be true or false");
        assert!(error("time_format = \"%\"").contains("is not a time format"));
        assert!(error("[colours]\nshade = \"red\"").starts_with("unknown colour `shade`"));
        assert_eq!(
            error("colours = \"red\""),
            "`colours` must be a table: [colours] and its lines"
        );
        assert_eq!(
            error("join = \"#lobby\""),
            "`join` must be a list of strings, such as [\"a\", \"b\"]"
        );
        assert!(
            error("nick = ").contains("TOML parse error"),
            "{}",
            error("nick = ")
        );
    }

    #[test]
    fn ignoring_edits_the_list_and_keeps_the_rest_of_the_file() {
        let directory = std::env::temp_dir().join(format!(
            "palaver-connect-config-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let path = directory.join("palaver").join("connect.toml");
        let _ = std::fs::remove_dir_all(&directory);
        // A file that does not exist yet is created.
        assert_eq!(set_ignored(&path, "spammer", true).unwrap(), ["spammer"]);
        assert_eq!(
            ClientConfig::load(&path).unwrap().ignore,
            ["spammer"],
            "{:?}",
            std::fs::read_to_string(&path)
        );
        std::fs::write(
            &path,
            "# my settings\nnick = \"alice\" # me\nignore = [\"spammer\"]\n",
        )
        .unwrap();
        assert_eq!(
            set_ignored(&path, "troll", true).unwrap(),
            ["spammer", "troll"]
        );
        assert_eq!(set_ignored(&path, "SPAMMER", false).unwrap(), ["troll"]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# my settings\nnick = \"alice\" # me\n"),
            "{text}"
        );
        assert_eq!(ClientConfig::load(&path).unwrap().ignore, ["troll"]);
        // A file with a mistake is left alone.
        std::fs::write(&path, "nick = 3\n").unwrap();
        assert!(set_ignored(&path, "x", true).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "nick = 3\n");
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
