//! The open-file limit (RLIMIT_NOFILE): every client is a socket, on the server's side as on
//! the load generator's, and the usual soft limit (1024) stops either long before tens of
//! thousands of clients. Raised as far as this process may: the soft limit up to the hard
//! one, and the hard one too when privileged (root, or CAP_SYS_RESOURCE; at most the
//! kernel's `fs.nr_open`).

use anyhow::bail;

/// Files a process holds besides its clients' sockets: standard streams, the runtime's own
/// descriptors, listeners, the database and its journal, /proc reads, the plot.
const OTHER_FILES: u64 = 64;

/// Makes sure `clients` sockets can be open at once, raising the limit if need be; when it
/// cannot be raised that far, it is still raised as far as it may be.
pub fn raise_for(clients: usize) -> anyhow::Result<()> {
    let needed = clients as u64 + OTHER_FILES;
    let limit = current()?;
    if limit.rlim_cur >= needed {
        return Ok(());
    }
    if limit.rlim_max >= needed {
        if set(limit.rlim_max, limit.rlim_max) || set(needed, limit.rlim_max) {
            return Ok(());
        }
    } else if set(needed, needed) {
        // Only a privileged process may raise the hard limit; trying costs nothing.
        return Ok(());
    } else {
        // As high as the hard limit lets it go: still that many more clients served.
        set(limit.rlim_max, limit.rlim_max);
    }
    let limit = current()?;
    bail!(
        "{clients} clients need about {needed} open files, but the limit is {} (hard limit {}) \
         and this process may not raise it: raise the hard limit (`ulimit -Hn {needed}` as \
         root, or LimitNOFILE= in a systemd unit) and run again",
        limit.rlim_cur,
        limit.rlim_max,
    );
}

/// Raises the limit so that the server can hold `connections` clients, as far as it may; if
/// it cannot, says how many it can hold (connections past that are refused by the kernel
/// when accepted, and logged) so the caller can warn.
pub fn raise_for_server(connections: usize) -> Result<(), String> {
    raise_for(connections).map_err(|_| {
        let limit = current().map_or(0, |limit| limit.rlim_cur);
        format!(
            "the open-file limit ({limit}) holds about {} connections, fewer than \
             [limits] max_connections ({connections}): raise it (LimitNOFILE= in a systemd \
             unit, `ulimit -n` in a shell)",
            limit.saturating_sub(OTHER_FILES)
        )
    })
}

fn current() -> anyhow::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given, which lives for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        bail!(
            "cannot read the open-file limit: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(limit)
}

/// Sets the soft and hard limits; whether the system allowed it.
fn set(soft: u64, hard: u64) -> bool {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct it is given, which lives for the call.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_already_high_enough_is_left_alone() {
        let before = current().unwrap();
        raise_for(10).unwrap();
        let after = current().unwrap();
        assert_eq!(
            (before.rlim_cur, before.rlim_max),
            (after.rlim_cur, after.rlim_max)
        );
    }
}
