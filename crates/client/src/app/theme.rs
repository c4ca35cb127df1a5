//! The full screen's colours, which `[colours]` in `connect.toml` may change: the stamps,
//! notices and errors of the scrollback, mentions, the read marker, the bars' background, and
//! whether each nick gets a colour of its own.

use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use toml_edit::TableLike;

/// The colours the full screen draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// A line's time.
    pub stamp: Color,
    /// `-- …` lines: joins, parts, the server's notes and the client's own.
    pub notice: Color,
    /// `! …` lines.
    pub error: Color,
    /// Your nick where others say it (bold as well).
    pub mention: Color,
    /// The read marker's rule.
    pub marker: Color,
    /// The background of the topic and status bars.
    pub bar: Color,
    /// Whether each nick gets a colour of its own (always the same one); `false`: none.
    pub nicks: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            stamp: Color::DarkGray,
            notice: Color::Gray,
            error: Color::LightRed,
            mention: Color::Yellow,
            marker: Color::DarkGray,
            bar: Color::Blue,
            nicks: true,
        }
    }
}

/// The names `[colours]` takes, besides `nicks`.
const NAMES: [&str; 6] = ["stamp", "notice", "error", "mention", "marker", "bar"];

impl Theme {
    /// The defaults, changed by what `table` (the `[colours]` table) says. Colours are named
    /// (`yellow`, `lightred`, `darkgray`…), written `#rrggbb`, or numbered 0 to 255.
    pub fn from_table(table: &dyn TableLike) -> Result<Self, String> {
        let mut theme = Self::default();
        for (key, item) in table.iter() {
            if key == "nicks" {
                theme.nicks = item
                    .as_bool()
                    .ok_or("`colours.nicks` must be true or false")?;
                continue;
            }
            let slot = match key {
                "stamp" => &mut theme.stamp,
                "notice" => &mut theme.notice,
                "error" => &mut theme.error,
                "mention" => &mut theme.mention,
                "marker" => &mut theme.marker,
                "bar" => &mut theme.bar,
                _ => {
                    return Err(format!(
                        "unknown colour `{key}` (the colours are {}, and nicks)",
                        NAMES.join(", ")
                    ));
                }
            };
            let name = item
                .as_str()
                .ok_or_else(|| format!("`colours.{key}` must be a colour's name, in quotes"))?;
            *slot = Color::from_str(name)
                .map_err(|_| format!("`colours.{key}`: {name:?} is not a colour"))?;
        }
        Ok(theme)
    }

    /// The bars' style: white on the bar colour.
    pub fn bar(&self) -> Style {
        Style::new().fg(Color::White).bg(self.bar)
    }

    pub fn mention(&self) -> Style {
        Style::new().fg(self.mention).add_modifier(Modifier::BOLD)
    }

    /// The style of `nick`'s name: its colour ([`super::view::nick_colour`]), unless nicks are
    /// not coloured.
    pub fn nick(&self, nick: &str) -> Style {
        if self.nicks {
            Style::new().fg(super::view::nick_colour(nick))
        } else {
            Style::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml_edit::Table {
        let document: toml_edit::DocumentMut = text.parse().unwrap();
        document.as_table().clone()
    }

    #[test]
    fn colours_are_named_written_or_numbered_and_mistakes_are_named() {
        let theme = Theme::from_table(&table(
            "mention = \"lightmagenta\"\nbar = \"#102030\"\nstamp = \"244\"\nnicks = false",
        ))
        .unwrap();
        assert_eq!(theme.mention, Color::LightMagenta);
        assert_eq!(theme.bar, Color::Rgb(0x10, 0x20, 0x30));
        assert_eq!(theme.stamp, Color::Indexed(244));
        assert!(!theme.nicks);
        assert_eq!(
            theme.error,
            Theme::default().error,
            "the rest as by default"
        );
        assert_eq!(theme.nick("bob"), Style::new());
        let error = |text: &str| Theme::from_table(&table(text)).unwrap_err();
        assert!(error("shade = \"red\"").starts_with("unknown colour `shade`"));
        assert_eq!(
            error("bar = \"reddish\""),
            "`colours.bar`: \"reddish\" is not a colour"
        );
        assert_eq!(
            error("bar = 3"),
            "`colours.bar` must be a colour's name, in quotes"
        );
        assert_eq!(
            error("nicks = \"no\""),
            "`colours.nicks` must be true or false"
        );
    }
}
