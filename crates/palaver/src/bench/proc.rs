//! What Linux's /proc says of a process: its CPU time (user and system, all threads) and its
//! resident memory.

use std::time::Duration;

/// A process's CPU time and resident memory at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    pub cpu: Duration,
    pub rss_bytes: u64,
}

/// Samples process `pid` (`None`: this process); `None` if /proc cannot tell.
pub fn sample(pid: Option<u32>) -> Option<Sample> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_owned(),
    };
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
    Some(Sample {
        cpu: cpu_time(&stat)?,
        rss_bytes: rss_bytes(&status)?,
    })
}

/// The sum of processes' samples (a cluster's nodes and its Redis, say); `None` if there are
/// none or /proc cannot tell of one of them.
pub fn sample_all(pids: &[u32]) -> Option<Sample> {
    let mut total = Sample::default();
    for sample in sample_each(pids) {
        let sample = sample?;
        total.cpu += sample.cpu;
        total.rss_bytes += sample.rss_bytes;
    }
    (!pids.is_empty()).then_some(total)
}

/// Each process's sample, in the order of `pids`.
pub fn sample_each(pids: &[u32]) -> Vec<Option<Sample>> {
    pids.iter().map(|&pid| sample(Some(pid))).collect()
}

/// utime + stime from a `/proc/PID/stat` line, in clock ticks converted to time.
fn cpu_time(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&ticks| ticks > 0)?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks as f64,
    ))
}

/// `VmRSS` from `/proc/PID/status`, in bytes.
fn rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_time_past_a_command_name_with_spaces() {
        // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
        // cmajflt utime stime …
        let stat = "42 (a b) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1";
        assert_eq!(cpu_time(stat), Some(Duration::from_secs(3)));
        assert_eq!(
            rss_bytes("Name:\tx\nVmRSS:\t  2048 kB\n"),
            Some(2048 * 1024)
        );
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = sample(None).expect("/proc/self");
        assert!(sample.rss_bytes > 0);
    }

    #[test]
    fn several_processes_are_added_up() {
        let me = std::process::id();
        let once = sample_all(&[me]).expect("this process");
        let twice = sample_all(&[me, me]).expect("this process twice");
        assert!(twice.rss_bytes > once.rss_bytes);
        assert!(twice.cpu >= once.cpu * 2);
        assert_eq!(sample_all(&[]), None);
        assert_eq!(sample_all(&[me, u32::MAX]), None, "one process gone");
    }
}
