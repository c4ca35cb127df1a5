//! Replays the fuzz targets' committed corpora (`fuzz/corpus/TARGET/`) and the inputs of
//! every finding (`fuzz/regressions/TARGET/`) through the same checks the fuzzers run
//! (`palaver_server::fuzzing`), on the stable toolchain: what fuzzing once covered or found
//! stays covered by every `cargo test`. Fuzzing itself is documented in docs/SECURITY.md,
//! "Fuzzing".

use std::path::{Path, PathBuf};

use palaver_server::fuzzing;

/// What a target checks of one input: it panics if a promise breaks.
type Check = fn(&[u8]);

/// Every target, by the name of its corpus directory and fuzz binary.
const TARGETS: [(&str, Check); 7] = [
    ("text_input", fuzzing::text_input),
    ("irc_message", fuzzing::irc_message),
    ("proxy_header", fuzzing::proxy_header),
    ("websocket_frames", fuzzing::websocket_frames),
    ("sasl", fuzzing::sasl),
    ("config", fuzzing::config),
    ("irc_session", fuzzing::irc_session),
];

fn fuzz_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `directory`, or none if it does not exist.
fn inputs(directory: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_has_a_corpus_and_every_input_passes_its_checks() {
    let fuzz = fuzz_directory();
    for (target, check) in TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(target));
        assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty");
        let findings = inputs(&fuzz.join("regressions").join(target));
        for path in corpus.iter().chain(&findings) {
            let data = std::fs::read(path).expect("read an input");
            // A panic names the input, so it can be run again alone.
            eprintln!("{target}: {}", path.display());
            check(&data);
        }
    }
}

#[test]
fn every_fuzz_binary_is_replayed_here() {
    let manifest =
        std::fs::read_to_string(fuzz_directory().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let binaries: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "palaver-fuzz")
        .collect();
    let replayed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(binaries, replayed);
}
