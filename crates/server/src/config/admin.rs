//! Reading `[admin]`: the administration API's bearer tokens (`[[admin.token]]`) and where its
//! audit log is written (`docs/OPERATIONS.md`, "Administration API").

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;
use crate::accounts::AdminTokenEntry;

/// The file name suffix of the default audit log, next to the database.
const AUDIT_LOG_SUFFIX: &str = ".audit.jsonl";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAdmin {
    #[serde(default)]
    pub token: Vec<AdminTokenEntry>,
    pub audit_log: Option<PathBuf>,
}

/// The administration API's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminSettings {
    /// Who may call the API: names unique, hashes checked. None: every request is refused.
    pub tokens: Vec<AdminTokenEntry>,
    /// The JSON-lines file every write through the API is recorded in; `None` when the
    /// database is in memory and no file was named, so the record is the log's alone.
    pub audit_log: Option<PathBuf>,
}

/// `[admin]`, with the audit log next to the database (`[store] path`) unless named.
pub(super) fn resolve_admin(
    file: FileAdmin,
    store_path: &str,
) -> Result<AdminSettings, ConfigError> {
    let mut names = std::collections::HashSet::new();
    for token in &file.token {
        if let Some(problem) = token.problem() {
            return Err(ConfigError::Invalid(problem));
        }
        if !names.insert(token.name.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "two [[admin.token]] entries are named {}",
                token.name
            )));
        }
    }
    let audit_log = file.audit_log.or_else(|| {
        // A database in memory has no directory to sit beside.
        (store_path != ":memory:").then(|| PathBuf::from(format!("{store_path}{AUDIT_LOG_SUFFIX}")))
    });
    Ok(AdminSettings {
        tokens: file.token,
        audit_log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileConfig;

    fn resolve(text: &str, store_path: &str) -> Result<AdminSettings, String> {
        let file = FileConfig::parse(text)?;
        resolve_admin(file.admin, store_path).map_err(|error| error.to_string())
    }

    #[test]
    fn the_audit_log_sits_next_to_the_database_unless_named() {
        let settings = resolve("", "/var/lib/palaver/palaver.db").unwrap();
        assert_eq!(
            settings.audit_log,
            Some("/var/lib/palaver/palaver.db.audit.jsonl".into())
        );
        assert_eq!(resolve("", ":memory:").unwrap().audit_log, None);
        let named = resolve(
            "[admin]\naudit_log = \"/var/log/audit.jsonl\"\n",
            ":memory:",
        );
        assert_eq!(
            named.unwrap().audit_log,
            Some("/var/log/audit.jsonl".into())
        );
    }

    #[test]
    fn tokens_are_checked_and_their_names_unique() {
        let hash = crate::accounts::hash_password("secret").unwrap();
        let token = |name: &str| {
            format!(
                "[[admin.token]]\nname = \"{name}\"\nsecret_hash = \"{hash}\"\nscope = \"read\"\n"
            )
        };
        let settings = resolve(&token("grafana"), ":memory:").unwrap();
        assert_eq!(settings.tokens[0].name, "grafana");
        let twice = format!("{}{}", token("ops"), token("ops"));
        assert_eq!(
            resolve(&twice, ":memory:").unwrap_err(),
            "invalid setting: two [[admin.token]] entries are named ops"
        );
        assert!(
            resolve(&token("a b"), ":memory:")
                .unwrap_err()
                .contains("one word")
        );
        let bad_scope = token("ops").replace("\"read\"", "\"root\"");
        assert!(
            resolve(&bad_scope, ":memory:")
                .unwrap_err()
                .contains("unknown variant")
        );
    }
}
