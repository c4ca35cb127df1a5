//! Embeds the browser client: every file under `web/` becomes an entry of a table
//! (`web_assets.rs` in the build's output directory) that `src/web/assets.rs` serves, keyed by
//! its path as a URL (`web/js/main.js` is `/js/main.js`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("web");
    // A directory here is scanned for changes to every file below it.
    println!("cargo:rerun-if-changed=web");
    let mut files = Vec::new();
    if root.is_dir() {
        collect(&root, &mut files);
    }
    files.sort();
    let mut table = String::from("&[\n");
    for file in &files {
        let url = file
            .strip_prefix(&root)
            .expect("below the root")
            .components()
            .map(|part| part.as_os_str().to_str().expect("file names are UTF-8"))
            .fold(String::new(), |url, part| url + "/" + part);
        writeln!(
            table,
            "    ({url:?}, include_bytes!({:?})),",
            file.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("web_assets.rs");
    std::fs::write(out, table).expect("write the asset table");
}

/// Every file below `directory`, skipping hidden ones (editor and system leftovers).
fn collect(directory: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(directory).expect("read the web client's directory");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let hidden = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
