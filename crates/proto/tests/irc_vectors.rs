//! Runs the ircdocs parser-tests (vendored in `data/irc-parser-tests/`, CC0) against
//! `palaver_proto::irc`.
//!
//! Every vector of msg-split, msg-join, mask-match and userhost-split is asserted, with no known
//! exceptions. Each test collects all failing vectors before failing, so one run shows every
//! regression, and checks it saw a plausible number of vectors so a truncated or misread file
//! cannot pass by asserting nothing.
//!
//! validate-hostname.yaml is vendored but not run: this crate has no hostname validation (hosts
//! are whatever the server shows, such as a peer address or a cloak).

use std::collections::BTreeMap;

use palaver_proto::irc::{self, Message};
use saphyr::{LoadableYamlNode, Yaml};

/// The `tests` list of one vendored file.
fn vectors(file: &str, source: &'static str) -> Vec<Yaml<'static>> {
    let documents = Yaml::load_from_str(source).unwrap_or_else(|e| panic!("{file}: {e}"));
    let [document] = documents.as_slice() else {
        panic!("{file}: expected one YAML document");
    };
    document
        .as_mapping_get("tests")
        .and_then(Yaml::as_sequence)
        .unwrap_or_else(|| panic!("{file}: expected a `tests` list"))
        .clone()
}

/// A scalar that must be a string. The vendored files quote every value, so anything else
/// (a number, a bool) means the file was misread.
fn string(node: &Yaml, what: &str) -> String {
    node.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {node:?}"))
        .to_owned()
}

/// `parent[key]` as a string; a missing or null key is `None`, as the files specify.
fn optional_string(parent: &Yaml, key: &str) -> Option<String> {
    parent
        .as_mapping_get(key)
        .filter(|node| !node.is_null())
        .map(|node| string(node, key))
}

/// `parent[key]` as a list of strings; a missing or null key is the empty list.
fn string_list(parent: &Yaml, key: &str) -> Vec<String> {
    match parent.as_mapping_get(key).filter(|node| !node.is_null()) {
        None => Vec::new(),
        Some(node) => node
            .as_sequence()
            .unwrap_or_else(|| panic!("{key}: expected a list, got {node:?}"))
            .iter()
            .map(|item| string(item, key))
            .collect(),
    }
}

/// `parent[key]` as string pairs in document order; a missing or null key is empty.
fn string_pairs(parent: &Yaml, key: &str) -> Vec<(String, String)> {
    match parent.as_mapping_get(key).filter(|node| !node.is_null()) {
        None => Vec::new(),
        Some(node) => node
            .as_mapping()
            .unwrap_or_else(|| panic!("{key}: expected a mapping, got {node:?}"))
            .iter()
            .map(|(k, v)| (string(k, key), string(v, key)))
            .collect(),
    }
}

fn field<'a>(case: &'a Yaml<'static>, key: &str) -> &'a Yaml<'static> {
    case.as_mapping_get(key)
        .unwrap_or_else(|| panic!("expected `{key}` in {case:?}"))
}

/// Fails with every collected failure, after checking enough vectors were seen.
fn finish(file: &str, checked: usize, at_least: usize, failures: Vec<String>) {
    assert!(
        checked >= at_least,
        "{file}: only {checked} vectors checked, expected at least {at_least}"
    );
    assert!(
        failures.is_empty(),
        "{file}: {} of {checked} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn msg_split() {
    let file = "msg-split.yaml";
    let cases = vectors(file, include_str!("data/irc-parser-tests/msg-split.yaml"));
    let mut failures = Vec::new();
    for case in &cases {
        let input = string(field(case, "input"), "input");
        let atoms = field(case, "atoms");
        let message = match Message::parse(&input) {
            Ok(message) => message,
            Err(e) => {
                failures.push(format!("{input:?}: {e}"));
                continue;
            }
        };

        // The file gives tags as a dict, so a duplicated key appears once with its final value:
        // compare against the last occurrence of each key, which is what `tag` returns.
        let expected_tags: BTreeMap<String, String> =
            string_pairs(atoms, "tags").into_iter().collect();
        let mut actual_tags = BTreeMap::new();
        for tag in &message.tags {
            actual_tags.insert(tag.key.clone(), tag.value.clone());
        }
        if actual_tags != expected_tags {
            failures.push(format!(
                "{input:?}: tags {actual_tags:?}, expected {expected_tags:?}"
            ));
        }
        for (key, value) in &expected_tags {
            if message.tag(key) != Some(value.as_str()) {
                failures.push(format!(
                    "{input:?}: tag({key:?}) is {:?}, expected {value:?}",
                    message.tag(key)
                ));
            }
        }

        let expected_source = optional_string(atoms, "source");
        if message.source != expected_source {
            failures.push(format!(
                "{input:?}: source {:?}, expected {expected_source:?}",
                message.source
            ));
        }
        let expected_verb = string(field(atoms, "verb"), "verb");
        if message.command != expected_verb {
            failures.push(format!(
                "{input:?}: command {:?}, expected {expected_verb:?}",
                message.command
            ));
        }
        let expected_params = string_list(atoms, "params");
        if message.params != expected_params {
            failures.push(format!(
                "{input:?}: params {:?}, expected {expected_params:?}",
                message.params
            ));
        }
    }
    finish(file, cases.len(), 35, failures);
}

#[test]
fn msg_join() {
    let file = "msg-join.yaml";
    let cases = vectors(file, include_str!("data/irc-parser-tests/msg-join.yaml"));
    let mut failures = Vec::new();
    for case in &cases {
        let desc = optional_string(case, "desc").unwrap_or_default();
        let atoms = field(case, "atoms");
        let matches = string_list(case, "matches");

        // Tags are built in the order the file lists them; the vectors accept any order anyway.
        let mut message = Message::new(
            string(field(atoms, "verb"), "verb"),
            string_list(atoms, "params"),
        );
        if let Some(source) = optional_string(atoms, "source") {
            message = message.with_source(source);
        }
        for (key, value) in string_pairs(atoms, "tags") {
            message = message.with_tag(key, value);
        }

        let bytes = message.to_bytes();
        let Some(line) = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|wire| wire.strip_suffix("\r\n"))
        else {
            failures.push(format!("{desc}: {bytes:?} is not UTF-8 ending in CRLF"));
            continue;
        };
        if !matches.iter().any(|m| m == line) {
            failures.push(format!(
                "{desc}: wrote {line:?}, expected one of {matches:?}"
            ));
        }
        // What we write must also read back as what we meant.
        if Message::parse(line).as_ref() != Ok(&message) {
            failures.push(format!(
                "{desc}: {line:?} does not parse back to {message:?}"
            ));
        }
    }
    finish(file, cases.len(), 17, failures);
}

#[test]
fn mask_match() {
    let file = "mask-match.yaml";
    let cases = vectors(file, include_str!("data/irc-parser-tests/mask-match.yaml"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let mask = string(field(case, "mask"), "mask");
        for (key, expected) in [("matches", true), ("fails", false)] {
            for text in string_list(case, key) {
                checked += 1;
                if irc::matches(&mask, &text) != expected {
                    failures.push(format!("matches({mask:?}, {text:?}) should be {expected}"));
                }
            }
        }
    }
    finish(file, checked, 26, failures);
}

#[test]
fn userhost_split() {
    let file = "userhost-split.yaml";
    let cases = vectors(
        file,
        include_str!("data/irc-parser-tests/userhost-split.yaml"),
    );
    let mut failures = Vec::new();
    for case in &cases {
        let source = string(field(case, "source"), "source");
        let atoms = field(case, "atoms");
        // The file says a missing part is an empty string, so `!@host` (user present but empty)
        // and `@host` (no user) compare alike.
        let expected = (
            optional_string(atoms, "nick").unwrap_or_default(),
            optional_string(atoms, "user").unwrap_or_default(),
            optional_string(atoms, "host").unwrap_or_default(),
        );
        let (nick, user, host) = irc::split_userhost(&source);
        let actual = (
            nick.to_owned(),
            user.unwrap_or_default().to_owned(),
            host.unwrap_or_default().to_owned(),
        );
        if actual != expected {
            failures.push(format!("{source:?}: {actual:?}, expected {expected:?}"));
        }
    }
    finish(file, cases.len(), 9, failures);
}
