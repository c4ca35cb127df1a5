//! `palaver man DIR` and `palaver completions SHELL`: man pages for every command, rendered by
//! a real `groff` where it is installed, and completion scripts that the shells themselves
//! accept (`bash -n`; zsh and fish too where installed).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Options, Process, TempDir};

/// How long a test waits for anything before declaring the binary broken.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs palaver with `args` to completion; returns its stdout lines.
fn run(args: &[&str]) -> Vec<String> {
    let mut process = Process::spawn(args, Options::default());
    let (status, lines) = process.wait_exit();
    assert!(
        status.success(),
        "palaver {args:?}: {}",
        process.stderr_text()
    );
    lines
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[test]
fn a_man_page_is_written_for_palaver_and_each_of_its_commands() {
    let directory = TempDir::new("man");
    let pages = directory.path.join("man1");
    run(&["man", pages.to_str().unwrap()]);
    for command in [
        "",
        "-serve",
        "-connect",
        "-bench",
        "-gen-cert",
        "-hash-password",
        "-check-config",
        "-man",
        "-completions",
    ] {
        let page = pages.join(format!("palaver{command}.1"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|error| panic!("{}: {error}", page.display()));
        assert!(text.contains(".TH palaver"), "{}", page.display());
    }
    let serve = std::fs::read_to_string(pages.join("palaver-serve.1")).unwrap();
    // The same text and defaults as `--help`.
    assert!(serve.contains(r"\fB\-\-web\-listen\fR"), "{serve}");
    assert!(serve.contains("[default: 0.0.0.0:8080]"), "{serve}");
    assert!(serve.contains("PALAVER_WEB_LISTEN"), "{serve}");

    if installed("groff") {
        let rendered = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(pages.join("palaver-serve.1"))
            .output()
            .expect("run groff");
        assert!(rendered.status.success());
        let warnings = String::from_utf8_lossy(&rendered.stderr);
        assert!(warnings.is_empty(), "groff warns: {warnings}");
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("Run the chat server"), "{text}");
    } else {
        eprintln!("SKIPPED rendering: groff is not installed");
    }
}

#[test]
fn completions_are_scripts_their_shells_accept() {
    for (shell, checker, marker) in [
        ("bash", "bash", "complete -F"),
        ("zsh", "zsh", "#compdef palaver"),
        ("fish", "fish", "complete -c palaver"),
    ] {
        let script = run(&["completions", shell]).join("\n");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("web-listen"),
            "{shell} completes serve's flags"
        );
        if !installed(checker) {
            eprintln!("SKIPPED checking the {shell} script: {checker} is not installed");
            continue;
        }
        let directory = TempDir::new("completions");
        let file = directory.path.join(format!("palaver.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let checked = Command::new(checker)
            .arg("-n")
            .arg(&file)
            .output()
            .expect("run the shell");
        assert!(
            checked.status.success(),
            "{checker} -n refuses the script: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_ones_there_are() {
    let mut process = Process::spawn(&["completions", "tcsh"], Options::default());
    let (status, _) = process.wait_exit();
    assert!(!status.success());
    let stderr = process.stderr_text();
    assert!(
        stderr.contains("bash") && stderr.contains("zsh") && stderr.contains("fish"),
        "{stderr}"
    );
}
