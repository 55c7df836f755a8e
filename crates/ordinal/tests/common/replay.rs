//! Replays an example's README against a running `ordinal up`: the README
//! is the script, so the test and the documentation cannot drift apart.
//!
//! The README's ` ```console ` blocks hold what a reader types and sees:
//! a line `$ command` is typed in a terminal on the reader's machine, a
//! line `# command` in the shell a `kubectl exec -it` opened, and the
//! lines that follow a command (up to the next command or the end of the
//! block) are what it shows. Other blocks (` ```sh `, ` ```text `) are not
//! replayed.
//!
//! A test walks the README in order, naming each command as it replays it
//! (`run`, `run_failing`, `until`, `run_on_terminal`, `until_on_terminal`,
//! `watch`, `session`, `typed`); naming a command that is
//! not the README's next one fails, and so does `finish` while commands
//! are left. Commands run through `sh -c` in a copy of the example's
//! directory, with the real kubectl first on `PATH` and the cluster's
//! kubeconfig in `KUBECONFIG`, so `for` loops and quoting work as they do
//! for the reader.
//!
//! Shown output is compared after normalizing what differs from run to
//! run: runs of spaces (column widths), ages (`12s`, `2m3s`), IPv4
//! addresses, provisioned volume names (`pvc-<uid>`) and revision hashes
//! (`web-86c5bb8d54`). A line `...` stands for any number of lines.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::terminal::Terminal;
use super::{Ordinal, kubectl_path};

/// How long a command may take, and how long `until` retries.
const LIMIT: Duration = Duration::from_secs(120);

/// Where a command is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// `$`: a terminal on the reader's machine.
    Host,
    /// `#`: the shell of a `kubectl exec -it` session.
    Shell,
}

/// One command of the README and what it shows.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based line of the README.
    pub line: usize,
    pub prompt: Prompt,
    pub command: String,
    pub shown: Vec<String>,
}

/// The commands of a README's console blocks, in order.
pub fn parse(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut console = false;
    let mut open_step = false;
    for (i, line) in text.lines().enumerate() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            if in_block {
                in_block = false;
            } else {
                in_block = true;
                console = info.split_whitespace().next() == Some("console");
                open_step = false;
            }
            continue;
        }
        if !(in_block && console) {
            continue;
        }
        let (prompt, command) = if let Some(c) = line.strip_prefix("$ ") {
            (Some(Prompt::Host), c)
        } else if let Some(c) = line.strip_prefix("# ") {
            (Some(Prompt::Shell), c)
        } else {
            (None, line)
        };
        match prompt {
            Some(prompt) => {
                steps.push(Step {
                    line: i + 1,
                    prompt,
                    command: command.trim().to_string(),
                    shown: Vec::new(),
                });
                open_step = true;
            }
            None if open_step => steps.last_mut().unwrap().shown.push(line.to_string()),
            None => assert!(
                line.trim().is_empty(),
                "README line {}: output before any command in a console block",
                i + 1
            ),
        }
    }
    steps
}

/// The alphabet of Kubernetes' hash suffixes (`rand.SafeEncodeString`).
const HASH_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

fn is_age(token: &str) -> bool {
    let mut rest = token;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        let unit = rest[digits..].chars().next();
        if !matches!(unit, Some('s' | 'm' | 'h' | 'd' | 'y')) {
            return false;
        }
        rest = &rest[digits + 1..];
        parts += 1;
    }
    parts > 0
}

fn is_ipv4(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// One whitespace-separated token, with what differs between runs
/// replaced by a placeholder.
fn normalize_token(token: &str) -> String {
    if is_age(token) {
        return "<age>".into();
    }
    if is_ipv4(token) {
        return "<ip>".into();
    }
    if let Some(uid) = token.strip_prefix("pvc-")
        && is_uuid(uid)
    {
        return "pvc-<uid>".into();
    }
    if let Some((name, hash)) = token.rsplit_once('-')
        && !name.is_empty()
        && (7..=10).contains(&hash.len())
        && hash.chars().all(|c| HASH_ALPHABET.contains(c))
    {
        return format!("{name}-<hash>");
    }
    token.to_string()
}

/// A line with its column widths and run-specific values normalized.
pub fn normalize(line: &str) -> String {
    line.split_whitespace()
        .map(normalize_token)
        .collect::<Vec<_>>()
        .join(" ")
}

fn normalized(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| normalize(l))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether `actual` matches `shown`, where a `...` line of `shown`
/// matches any number of lines.
fn matches(shown: &[String], actual: &[String]) -> bool {
    match shown.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| a == first && matches(rest, more)),
    }
}

/// Whether the output `actual` is what `shown` shows.
pub fn shows(shown: &[String], actual: &str, any_order: bool) -> bool {
    let mut shown = normalized(shown);
    let mut actual = normalized(&actual.lines().map(str::to_string).collect::<Vec<_>>());
    if any_order {
        shown.sort();
        actual.sort();
    }
    matches(&shown, &actual)
}

/// A README being replayed.
pub struct Replay<'a> {
    ordinal: &'a Ordinal,
    readme: PathBuf,
    steps: Vec<Step>,
    next: usize,
    /// A copy of the example's directory; commands run here.
    work: tempfile::TempDir,
    /// `HOME` for kubectl (its discovery cache) and `bin/kubectl`.
    home: tempfile::TempDir,
}

/// How a host command's output reaches the test.
#[derive(Clone, Copy)]
enum Via {
    Pipe,
    Terminal,
}

/// The output of a command, its exit status, and whether it finished.
struct Ran {
    output: String,
    success: bool,
}

impl<'a> Replay<'a> {
    /// Reads `example/README.md` and copies the example's files to a
    /// directory of the test's own, where the commands run (a test may
    /// adapt them there first: [`Replay::workdir`]).
    pub fn new(ordinal: &'a Ordinal, example: &Path) -> Replay<'a> {
        let readme = example.join("README.md");
        let text = std::fs::read_to_string(&readme)
            .unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
        let steps = parse(&text);
        assert!(!steps.is_empty(), "{} has no commands", readme.display());
        let work = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(example).expect("example directory") {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), work.path().join(entry.file_name())).unwrap();
            }
        }
        let home = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(home.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(kubectl_path(), home.path().join("bin/kubectl")).unwrap();
        Replay {
            ordinal,
            readme,
            steps,
            next: 0,
            work,
            home,
        }
    }

    /// The directory the commands run in.
    pub fn workdir(&self) -> &Path {
        self.work.path()
    }

    /// `sh -c command` in the work directory, as the reader's shell.
    fn shell(&self, command: &str) -> Command {
        let mut path = OsString::from(self.home.path().join("bin"));
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(command)
            .current_dir(self.work.path())
            .env("PATH", path)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.ordinal.kubeconfig())
            .env_remove("KUBERNETES_SERVICE_HOST");
        sh
    }

    /// Starts `command` in its own process group with stderr merged into
    /// stdout (as a terminal shows them); returns it and that output.
    fn spawn_merged(&self, command: &str) -> (Child, ChildStdout) {
        let mut sh = self.shell(&format!("exec 2>&1\n{command}"));
        sh.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = sh.spawn().expect("sh runs");
        let out = child.stdout.take().expect("piped stdout");
        (child, out)
    }

    /// Takes the README's next step, which must be `command` typed at
    /// `prompt`.
    fn take(&mut self, prompt: Prompt, command: &str) -> Step {
        let Some(step) = self.steps.get(self.next).cloned() else {
            panic!(
                "{}: the test replays `{command}`, but the README has no more commands",
                self.readme.display()
            );
        };
        assert!(
            step.prompt == prompt && step.command == command,
            "{} line {}: the README's next command is {:?} `{}`, the test replays {:?} `{}`",
            self.readme.display(),
            step.line,
            step.prompt,
            step.command,
            prompt,
            command
        );
        self.next += 1;
        step
    }

    /// Runs a host command to its end, within [`LIMIT`]: through a pipe
    /// (stdout and stderr together, as a terminal shows them), or on a
    /// terminal of its own (for `kubectl exec -i -t`).
    fn execute(&self, step: &Step, via: Via) -> Ran {
        match via {
            Via::Pipe => self.execute_piped(step),
            Via::Terminal => self.execute_on_terminal(step),
        }
    }

    /// A command with a terminal as its stdin, stdout, stderr and
    /// controlling terminal, as in the reader's terminal. Its output is
    /// what the terminal shows, without carriage returns.
    fn execute_on_terminal(&self, step: &Step) -> Ran {
        let (terminal, slave) = Terminal::open(40, 200);
        let mut sh = self.shell(&step.command);
        Terminal::attach(&mut sh, &slave);
        let mut child = sh.spawn().expect("sh runs");
        drop(slave);
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                panic!(
                    "README line {}: `{}` did not finish within {LIMIT:?}; the terminal shows:\n{}",
                    step.line,
                    step.command,
                    terminal.text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // What is still in flight to the terminal.
        std::thread::sleep(Duration::from_millis(100));
        Ran {
            output: plain(&terminal.text()).replace('\r', ""),
            success: status.success(),
        }
    }

    /// A command through a pipe (stdout and stderr together).
    fn execute_piped(&self, step: &Step) -> Ran {
        let (mut child, mut out) = self.spawn_merged(&step.command);
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = out.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                kill_group(&mut child);
                panic!(
                    "README line {}: `{}` did not finish within {LIMIT:?}",
                    step.line, step.command
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ran {
            output: reader.join().unwrap(),
            success: status.success(),
        }
    }

    /// Replays `command` once: it must succeed and show what the README
    /// shows. Returns its output.
    pub fn run(&mut self, command: &str) -> String {
        self.run_via(command, Via::Pipe)
    }

    /// Replays `command` once: it must fail (as the README says it does)
    /// and show what the README shows.
    pub fn run_failing(&mut self, command: &str) -> String {
        let step = self.take(Prompt::Host, command);
        let ran = self.execute(&step, Via::Pipe);
        assert!(
            !ran.success && shows(&step.shown, &ran.output, false),
            "README line {}: `{}` {}:\n{}\nthe README shows it failing with:\n{}",
            step.line,
            step.command,
            if ran.success { "succeeded" } else { "showed" },
            ran.output,
            step.shown.join("\n")
        );
        ran.output
    }

    /// [`Replay::run`] on a terminal of the command's own, as the reader
    /// types it (`kubectl exec -i -t`; without a terminal kubectl would
    /// say it cannot use one, and curl would draw its progress meter).
    pub fn run_on_terminal(&mut self, command: &str) -> String {
        self.run_via(command, Via::Terminal)
    }

    fn run_via(&mut self, command: &str, via: Via) -> String {
        let step = self.take(Prompt::Host, command);
        let ran = self.execute(&step, via);
        assert!(
            ran.success && shows(&step.shown, &ran.output, false),
            "README line {}: `{}` {}:\n{}\nthe README shows:\n{}",
            step.line,
            step.command,
            if ran.success { "showed" } else { "failed" },
            ran.output,
            step.shown.join("\n")
        );
        ran.output
    }

    /// Replays `command` until it shows what the README shows (a reader
    /// looks again until the cluster got there), within [`LIMIT`].
    pub fn until(&mut self, command: &str) -> String {
        self.until_in(command, false, Via::Pipe)
    }

    /// [`Replay::until`], with the lines in any order (a listing sorted
    /// by generated names).
    pub fn until_any_order(&mut self, command: &str) -> String {
        self.until_in(command, true, Via::Pipe)
    }

    /// [`Replay::until`] on a terminal ([`Replay::run_on_terminal`]).
    pub fn until_on_terminal(&mut self, command: &str) -> String {
        self.until_in(command, false, Via::Terminal)
    }

    fn until_in(&mut self, command: &str, any_order: bool, via: Via) -> String {
        let step = self.take(Prompt::Host, command);
        let deadline = Instant::now() + LIMIT;
        loop {
            let ran = self.execute(&step, via);
            if ran.success && shows(&step.shown, &ran.output, any_order) {
                return ran.output;
            }
            assert!(
                Instant::now() < deadline,
                "README line {}: `{}` did not come to show what the README shows within {LIMIT:?}; \
                 it showed:\n{}\nthe README shows:\n{}",
                step.line,
                step.command,
                ran.output,
                step.shown.join("\n")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Starts `command` (a `kubectl get -w`) in the background, as in a
    /// second terminal. Its output, line by line, is the watch's.
    pub fn watch(&mut self, command: &str) -> Watch {
        let step = self.take(Prompt::Host, command);
        assert!(
            step.shown.is_empty(),
            "README line {}: a watch's output belongs in a text block",
            step.line
        );
        let (child, out) = self.spawn_merged(&step.command);
        let out = BufReader::new(out);
        let lines = Arc::new(Mutex::new(Vec::new()));
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in out.lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let watch = Watch { child, lines };
        // kubectl lists, prints what is there, then watches from the
        // list's revision, so nothing is missed once it printed; with
        // nothing to print there is no sign, and a moment is given.
        let deadline = Instant::now() + Duration::from_secs(3);
        while watch.lines().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        watch
    }

    /// Starts `command` (a `kubectl exec -it`) on a terminal of its own.
    pub fn session(&mut self, command: &str) -> Session {
        let step = self.take(Prompt::Host, command);
        assert!(
            step.shown.is_empty(),
            "README line {}: the session's output belongs to the commands typed in it",
            step.line
        );
        let (terminal, slave) = Terminal::open(40, 200);
        let mut sh = self.shell(&step.command);
        Terminal::attach(&mut sh, &slave);
        let child = sh.spawn().expect("sh runs");
        drop(slave);
        Session {
            terminal,
            child,
            line: step.line,
        }
    }

    /// Types `command` into the session's shell and waits until it shows
    /// what the README shows; returns what it showed. `exit` must end the
    /// session with status 0.
    pub fn typed(&mut self, session: &mut Session, command: &str) -> String {
        let step = self.take(Prompt::Shell, command);
        let prompt_seen = |text: &str| text.trim_end_matches(' ').ends_with('#');
        let deadline = Instant::now() + LIMIT;
        while !prompt_seen(&plain(&session.terminal.text())) {
            assert!(
                Instant::now() < deadline,
                "README line {}: no shell prompt; the terminal shows:\n{}",
                session.line,
                plain(&session.terminal.text())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mark = plain(&session.terminal.text()).len();
        session.terminal.type_text(&format!("{command}\r"));
        // The output: what follows the echo of the command, without the
        // next prompt (dash's `# `, busybox ash's `/ # `).
        let output = |text: &str| -> Option<String> {
            let new = text.get(mark..)?;
            let (_echo, rest) = new.split_once('\n')?;
            let rest = rest.replace('\r', "");
            let body = match rest.rsplit_once('\n') {
                Some((body, last)) if prompt_seen(last) => body,
                None if prompt_seen(&rest) => "",
                _ => rest.as_str(),
            };
            Some(body.trim_end_matches('\n').to_string())
        };
        if command == "exit" {
            let status = loop {
                if let Some(status) = session.child.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    Instant::now() < deadline,
                    "README line {}: the session did not end",
                    step.line
                );
                std::thread::sleep(Duration::from_millis(20));
            };
            // What is still in flight to the terminal.
            std::thread::sleep(Duration::from_millis(200));
            let shown = output(&plain(&session.terminal.text())).unwrap_or_default();
            assert!(
                status.success() && shows(&step.shown, &shown, false),
                "README line {}: `exit` ended the session with {status}, showing:\n{shown}",
                step.line
            );
            return shown;
        }
        // The command is done when the prompt is back: its output is
        // then complete (looked at twice, in case a line ended in `#`).
        let mut complete = 0;
        loop {
            let text = plain(&session.terminal.text());
            if prompt_seen(&text)
                && let Some(shown) = output(&text)
            {
                if shows(&step.shown, &shown, false) {
                    return shown;
                }
                complete += 1;
            }
            assert!(
                complete < 2 && Instant::now() < deadline,
                "README line {}: `{}` did not show what the README shows; the terminal shows:\n{}",
                step.line,
                command,
                text.get(mark..).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Every command of the README was replayed.
    pub fn finish(self) {
        assert!(
            self.next == self.steps.len(),
            "{}: the test stopped at line {} (`{}`); the README goes on",
            self.readme.display(),
            self.steps[self.next].line,
            self.steps[self.next].command
        );
    }
}

/// What a terminal shows of `text`: without the control sequences a
/// shell sends (busybox's ash asks for the cursor position, `ESC [ 6 n`,
/// after its prompt; line editors move the cursor).
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        // CSI: `ESC [`, parameters and intermediates, one final byte.
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        } else {
            // A two-byte escape (`ESC =`, `ESC >`, ...).
            chars.next();
        }
    }
    out
}

fn kill_group(child: &mut Child) {
    // SAFETY: signals the process group this test created.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let _ = child.wait();
}

/// A command running in the background (`kubectl get pods -w`).
pub struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    /// The lines printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Watch {
    /// Ctrl+C.
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// A `kubectl exec -it` on a terminal.
pub struct Session {
    terminal: Terminal,
    child: Child,
    line: usize,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
