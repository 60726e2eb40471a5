//! What this process has used, read from Linux's `/proc`: `--report-rss` prints it as the
//! process exits, and the bench reads the same files for its fake and its machine summary,
//! so both sides measure the same way.

/// `key: value` from a `/proc` text file (first match).
pub fn proc_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// A `/proc` field in kB, e.g. `VmHWM:   123456 kB` -> 123456.
pub fn proc_kb(text: &str, key: &str) -> Option<u64> {
    proc_field(text, key)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This process's peak resident set (VmHWM), in kB.
pub fn peak_rss_kb() -> Option<u64> {
    proc_kb(&std::fs::read_to_string("/proc/self/status").ok()?, "VmHWM")
}

/// CPU time (user + system, all threads) from a `/proc/<pid>/stat` line, in ms.
fn stat_cpu_ms(stat: &str) -> Option<u64> {
    // Fields after the command name (which may hold spaces) start at field 3, `state`;
    // utime and stime are fields 14 and 15, in USER_HZ ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some((utime + stime) * 10)
}

/// This process's CPU time so far, in ms.
pub fn cpu_ms() -> Option<u64> {
    stat_cpu_ms(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// What `--report-rss` prints to stderr just before host-sim exits: `peak_rss_kb=N` and
/// `cpu_ms=N` (so the bench can tell work from waiting).
pub fn print_peak_rss() {
    if let Some(kb) = peak_rss_kb() {
        eprintln!("peak_rss_kb={kb}");
    }
    if let Some(ms) = cpu_ms() {
        eprintln!("cpu_ms={ms}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_from_proc_status() {
        let status =
            "Name:\thost-sim\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(proc_kb(status, "VmHWM"), Some(123_456));
        assert_eq!(proc_kb(status, "VmRSS"), Some(1000));
        assert_eq!(proc_kb(status, "VmSwap"), None);
        // This process has a status file too.
        assert!(peak_rss_kb().is_some_and(|kb| kb > 0));
    }

    #[test]
    fn cpu_time_is_read_from_proc_stat_even_with_spaces_in_the_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime ...
        let stat = "4242 (host sim) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 13 0 0 20 0";
        assert_eq!(stat_cpu_ms(stat), Some(2630));
        assert_eq!(stat_cpu_ms("4242 (x) S 1"), None);
        assert!(cpu_ms().is_some());
    }
}
