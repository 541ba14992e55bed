//! The SIGKILL harness: the test binary runs one of its own tests again as a
//! writer in another OS process. The writer says what it does line by line
//! on a pipe, where a line survives the writer's death; the parent kills it
//! at a moment of its choosing and reads what it said. What the writer
//! writes checks itself, so that a torn or mixed file shows.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Rng;

/// The parent's handle on a writer. Dropping it kills the writer, so a
/// failing assertion leaves none behind.
pub struct Writer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Writer {
    /// Runs the test named `test` of this binary alone, with `config` in the
    /// environment variable `env`, and waits until it says `READY`.
    pub fn start(test: &str, env: &str, config: String, round: usize) -> Writer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads", "1"])
            .env(env, config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let writer = Writer { child, lines: rx };
        // libtest's banner shares the line: `test child_writer ... READY`.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match writer.lines.recv_timeout(left) {
                Ok(line) if line.ends_with("READY") => break,
                Ok(_) => {}
                Err(err) => panic!("round {round}: the writer never got ready: {err}"),
            }
        }
        writer
    }

    /// SIGKILLs the writer, which must not have ended on its own, and
    /// returns all it said; an `E ...` line, an error it got, fails the test.
    pub fn kill(&mut self, round: usize) -> Vec<String> {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer ended on its own"
        );
        let lines: Vec<String> = self.lines.iter().collect();
        for text in &lines {
            if let Some(err) = text.strip_prefix("E ") {
                panic!("round {round}: the writer got an error: {err}");
            }
        }
        lines
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `magic`, key, sequence number, length, `len` bytes from a generator
/// seeded with `seed`, then FNV-1a of all of it.
pub fn checked_value(magic: &[u8; 4], key: u32, seq: u64, len: usize, seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 28);
    v.extend_from_slice(magic);
    v.extend_from_slice(&key.to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&(len as u32).to_le_bytes());
    let mut rng = Rng(seed);
    v.extend((0..len).map(|_| rng.next() as u8));
    let sum = fnv64(&v);
    v.extend_from_slice(&sum.to_le_bytes());
    v
}

/// The key and sequence number of exactly what `value` makes of them, or
/// `None` for anything else (a torn or mixed file lands here).
pub fn parse_checked(
    magic: &[u8; 4],
    bytes: &[u8],
    value: impl Fn(u32, u64) -> Vec<u8>,
) -> Option<(u32, u64)> {
    if bytes.len() < 28 || &bytes[..4] != magic {
        return None;
    }
    let key = u32::from_le_bytes(bytes[4..8].try_into().ok()?);
    let seq = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    (value(key, seq) == bytes).then_some((key, seq))
}

fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The writer's side once its directories are open: says `READY`, then runs
/// `step` with a generator seeded from `base` and the sequence numbers
/// `base`, `base + 1`, ... until killed, bounded even if nobody kills it. A
/// step's error is said as `E ...` and ends the writer.
pub fn write_until_killed(
    base: u64,
    mut step: impl FnMut(&mut Rng, u64) -> Result<(), String>,
) -> ! {
    say("READY\n");
    let mut rng = Rng(base | 1);
    let started = Instant::now();
    for i in 0..1_000_000u64 {
        if started.elapsed() > Duration::from_secs(120) {
            break;
        }
        if let Err(err) = step(&mut rng, base + i) {
            say(&format!("E {err}\n"));
            std::process::exit(2);
        }
    }
    std::process::exit(0);
}

/// The writer's side: one line to the parent, flushed at once so that it is
/// on the pipe before the next step begins.
pub fn say(text: &str) {
    let mut out = std::io::stdout();
    out.write_all(text.as_bytes()).unwrap();
    out.flush().unwrap();
}
