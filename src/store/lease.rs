//! A lease on one key: at most one uploader at a time may complete a multipart upload to it.
//!
//! Why: S3 has no atomic "create this multipart object only if absent" on every server.
//! AWS honours `If-None-Match: *` on CompleteMultipartUpload atomically, but SeaweedFS (our
//! test server) evaluates it non-atomically — two racing completions can both succeed. A
//! single create-only PUT *is* atomic there (and on AWS), and so is a PUT conditional on
//! an ETag (`If-Match`): both measured with 8 racing writers × 60 trials, exactly one
//! winner each time. So the race is moved to a small lock object:
//!
//! 1. The lock `_marketing_core_tmp/locks/<md5 of the key>.lock` is created with a
//!    create-only PUT. The winner holds the lease; it completes its multipart upload
//!    straight to the key (still with `If-None-Match: *` / `If-Match`, for servers that
//!    honour them), then deletes the lock.
//! 2. Everyone else polls: HEAD of the key (once it exists, the caller compares MD5s:
//!    skipped or conflict), then GET of the lock to see whether its holder is alive.
//! 3. The holder rewrites the lock every `ttl / 6` (a heartbeat: a PUT conditional on the
//!    lock's current ETag; the body carries a counter so the ETag changes). A lock whose
//!    ETag has not changed for `ttl` (measured on the waiter's own clock, so clock skew
//!    does not matter) belongs to a crashed holder and is taken over with a PUT
//!    conditional on that ETag — one taker wins.
//! 4. Faster takeover without waiting `ttl`, when the holder provably is gone: the lock
//!    was written by this very process for a key no task of this process holds now (a
//!    failed earlier attempt), or by a process of this machine (same boot, hostname and
//!    PID namespace) that no longer runs (its PID is gone or has another start time).
//!
//! A crash never exposes a partial object: parts are invisible until the completion, and
//! an interrupted upload is aborted (or left incomplete, invisible, if the server is
//! gone). A crash leaves at most the lock behind, which the next attempt takes over.
//!
//! The one window left, as with any lease without fencing tokens: a holder that stops for
//! longer than `ttl` between its last check of the lock and its completion request. The
//! holder re-checks (and renews) the lock right before completing, so the window is the
//! completion request itself; the completion still carries `If-None-Match` / `If-Match`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use tokio::task::JoinHandle;

/// Where the lock objects live (inside the reserved temporary prefix).
pub const LOCK_PREFIX: &str = "_marketing_core_tmp/locks";

/// The lock object of `key`: a fixed-length name (the key may be 1024 bytes already).
pub fn lock_path(key: &str) -> ObjectPath {
    let digest: String = Md5::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    ObjectPath::from(format!("{LOCK_PREFIX}/{digest}.lock"))
}

/// Who this process is, written into every lock it holds.
struct Identity {
    /// Boot id + hostname + PID namespace (Linux); `None` where unknown: then only
    /// this process's own locks are recognised without waiting for the TTL.
    machine: Option<String>,
    pid: u32,
    /// Start time of the process (clock ticks since boot), against PID reuse.
    pid_start: Option<String>,
    /// Unique per process lifetime.
    process: String,
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Field 22 of `/proc/<pid>/stat` (after the parenthesised command name, which may hold spaces).
fn process_start(pid: &str) -> std::io::Result<Option<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    Ok(stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(19)).map(str::to_string))
}

fn identity() -> &'static Identity {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let pid = std::process::id();
        let machine = (|| {
            let boot = read_trimmed("/proc/sys/kernel/random/boot_id")?;
            let host = read_trimmed("/proc/sys/kernel/hostname")?;
            let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
            Some(format!("{boot}/{host}/{}", ns.display()))
        })();
        let pid_start = process_start("self").ok().flatten();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Identity { machine, pid, pid_start, process: format!("{pid}-{nanos:x}") }
    })
}

/// The fields of a lock body that matter to a waiter.
#[derive(Debug, Default, PartialEq)]
struct Owner {
    machine: Option<String>,
    pid: Option<String>,
    pid_start: Option<String>,
    process: Option<String>,
    heartbeat: Duration,
}

fn parse_owner(body: &[u8]) -> Owner {
    let mut owner = Owner::default();
    for line in String::from_utf8_lossy(body).lines() {
        let Some((name, value)) = line.split_once('=') else { continue };
        let value = Some(value.to_string()).filter(|v| !v.is_empty());
        match name {
            "machine" => owner.machine = value,
            "pid" => owner.pid = value,
            "pid_start" => owner.pid_start = value,
            "process" => owner.process = value,
            "heartbeat_seconds" => {
                owner.heartbeat = value
                    .and_then(|v| v.parse::<f64>().ok())
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .unwrap_or_default()
            }
            _ => {}
        }
    }
    owner
}

/// True when the holder is known to be gone (no need to wait for the TTL). Called only
/// while this process holds its in-process claim on the key, so a lock of this very
/// process is a leftover of an earlier, failed attempt.
fn holder_is_gone(owner: &Owner) -> bool {
    let me = identity();
    if owner.process.as_deref() == Some(me.process.as_str()) {
        return true;
    }
    let (Some(machine), Some(pid)) = (&owner.machine, &owner.pid) else { return false };
    if me.machine.as_deref() != Some(machine.as_str()) || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match process_start(pid) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        // The PID was reused by another process.
        Ok(start) => owner.pid_start.is_some() && start.is_some() && start != owner.pid_start,
        Err(_) => false,
    }
}

fn lock_body(key: &str, heartbeat: Duration, seq: u64) -> PutPayload {
    let me = identity();
    let text = format!(
        "marketing_core upload lock\nmachine={}\npid={}\npid_start={}\nprocess={}\nheartbeat_seconds={}\nseq={seq}\nkey={key}\n",
        me.machine.as_deref().unwrap_or(""),
        me.pid,
        me.pid_start.as_deref().unwrap_or(""),
        me.process,
        heartbeat.as_secs_f64(),
    );
    PutPayload::from(text.into_bytes())
}

/// Keys some task of this process is uploading (claimed before the lock is touched), so
/// that a lock of this process is recognised as a leftover only when nobody here holds it.
fn claims() -> &'static Mutex<HashSet<String>> {
    static CLAIMS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    CLAIMS.get_or_init(Default::default)
}

struct Claim(String);

impl Claim {
    async fn take(name: String) -> Claim {
        loop {
            if claims().lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone()) {
                return Claim(name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        claims().lock().unwrap_or_else(|e| e.into_inner()).remove(&self.0);
    }
}

/// The outcome of [`acquire`].
pub enum Acquired {
    /// This uploader holds the lease: upload, [`Lease::confirm`], complete, [`Lease::release`].
    Held(Lease),
    /// The key changed (another uploader wrote it): compare, do not upload.
    KeyChanged,
}

struct LeaseState {
    e_tag: Option<String>,
    seq: u64,
    /// The lock was taken over (our heartbeat met another ETag).
    lost: bool,
    stopped: bool,
}

/// A held lease; its heartbeat runs until [`Lease::release`].
pub struct Lease {
    store: Arc<dyn ObjectStore>,
    lock: ObjectPath,
    key: String,
    heartbeat: Duration,
    state: Arc<tokio::sync::Mutex<LeaseState>>,
    task: Option<JoinHandle<()>>,
    _claim: Claim,
}

fn is_conflict(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. })
}

/// True when the key no longer is as the caller saw it: it exists while `expected` is
/// `None` (create), or its ETag is not `expected` (replace).
pub async fn key_changed(store: &dyn ObjectStore, key: &ObjectPath, expected: Option<&str>) -> Result<bool, object_store::Error> {
    match store.head(key).await {
        Ok(meta) => Ok(expected.is_none() || meta.e_tag.as_deref() != expected),
        Err(object_store::Error::NotFound { .. }) => Ok(expected.is_some()),
        Err(e) => Err(e),
    }
}

/// Waits for the lease on `key` (`claim_name` identifies the key in this process: the
/// object's URI). `expected` is the key's ETag as the caller saw it (`None`: absent).
/// Returns [`Acquired::KeyChanged`] as soon as the key changes; a caller holding the
/// lease must still check the key itself (it may have changed just before the lease
/// was won).
pub async fn acquire(
    store: Arc<dyn ObjectStore>,
    key: &ObjectPath,
    claim_name: String,
    expected: Option<&str>,
    ttl: Duration,
) -> Result<Acquired, object_store::Error> {
    let claim = Claim::take(claim_name).await;
    let lock = lock_path(key.as_ref());
    let heartbeat = ttl / 6;
    let held = |e_tag: Option<String>, claim: Claim| {
        Acquired::Held(Lease::start(store.clone(), lock.clone(), key.to_string(), heartbeat, e_tag, claim))
    };
    // The lock's ETag as first seen, and when (our clock).
    let mut seen: Option<(Option<String>, Instant)> = None;
    let mut pause = Duration::from_millis(100);
    loop {
        let create = PutOptions { mode: PutMode::Create, ..Default::default() };
        match store.put_opts(&lock, lock_body(key.as_ref(), heartbeat, 0), create).await {
            Ok(put) => return Ok(held(put.e_tag, claim)),
            Err(e) if is_conflict(&e) => {}
            Err(e) => return Err(e),
        }
        if key_changed(store.as_ref(), key, expected).await? {
            return Ok(Acquired::KeyChanged);
        }
        let (e_tag, owner) = match store.get(&lock).await {
            Ok(got) => {
                let e_tag = got.meta.e_tag.clone();
                (e_tag, parse_owner(&got.bytes().await?))
            }
            // Released in between: try to create it again at once.
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let expired = match &seen {
            Some((tag, since)) if *tag == e_tag => since.elapsed() >= ttl.max(owner.heartbeat * 4),
            _ => {
                seen = Some((e_tag.clone(), Instant::now()));
                pause = Duration::from_millis(100);
                false
            }
        };
        if e_tag.is_some() && (expired || holder_is_gone(&owner)) {
            let take = PutOptions {
                mode: PutMode::Update(UpdateVersion { e_tag: e_tag.clone(), version: None }),
                ..Default::default()
            };
            match store.put_opts(&lock, lock_body(key.as_ref(), heartbeat, 0), take).await {
                Ok(put) => return Ok(held(put.e_tag, claim)),
                // Another waiter took it over first, or it was released: look again.
                Err(e) if is_conflict(&e) || matches!(e, object_store::Error::NotFound { .. }) => {
                    seen = None;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

impl Lease {
    fn start(
        store: Arc<dyn ObjectStore>,
        lock: ObjectPath,
        key: String,
        heartbeat: Duration,
        e_tag: Option<String>,
        claim: Claim,
    ) -> Lease {
        let state = Arc::new(tokio::sync::Mutex::new(LeaseState { e_tag, seq: 0, lost: false, stopped: false }));
        let mut lease = Lease { store, lock, key, heartbeat, state, task: None, _claim: claim };
        let (store, lock, key, state) = (lease.store.clone(), lease.lock.clone(), lease.key.clone(), lease.state.clone());
        lease.task = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(heartbeat).await;
                let mut st = state.lock().await;
                if st.stopped || st.lost {
                    return;
                }
                // A transient failure is ignored here; `confirm` decides before completing.
                let _ = renew(store.as_ref(), &lock, &key, heartbeat, &mut st).await;
            }
        }));
        lease
    }

    /// Renews the lease now and fails if it was taken over: called right before the
    /// completion, so the completion happens well within the TTL of a live lease.
    pub async fn confirm(&self) -> Result<(), object_store::Error> {
        let mut st = self.state.lock().await;
        if !st.lost {
            renew(self.store.as_ref(), &self.lock, &self.key, self.heartbeat, &mut st).await?;
        }
        if st.lost {
            return Err(object_store::Error::Precondition {
                path: self.key.clone(),
                source: "the upload lock was taken over (this uploader was presumed dead); not completed".into(),
            });
        }
        Ok(())
    }

    /// Stops the heartbeat and deletes the lock if it is still ours (best effort: a
    /// lock left behind is taken over by the next uploader of the key).
    pub async fn release(mut self) {
        let e_tag = {
            let mut st = self.state.lock().await;
            st.stopped = true;
            (!st.lost).then(|| st.e_tag.clone()).flatten()
        };
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(e_tag) = e_tag {
            if let Ok(meta) = self.store.head(&self.lock).await {
                if meta.e_tag.as_deref() == Some(e_tag.as_str()) {
                    let _ = self.store.delete(&self.lock).await;
                }
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn renew(
    store: &dyn ObjectStore,
    lock: &ObjectPath,
    key: &str,
    heartbeat: Duration,
    st: &mut LeaseState,
) -> Result<(), object_store::Error> {
    st.seq += 1;
    let options = PutOptions {
        mode: PutMode::Update(UpdateVersion { e_tag: st.e_tag.clone(), version: None }),
        ..Default::default()
    };
    match store.put_opts(lock, lock_body(key, heartbeat, st.seq), options).await {
        Ok(put) => {
            st.e_tag = put.e_tag;
            Ok(())
        }
        Err(e) if is_conflict(&e) || matches!(e, object_store::Error::NotFound { .. }) => {
            st.lost = true;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_have_a_fixed_length() {
        let long = "a/".repeat(500);
        assert_eq!(lock_path(&long).as_ref().len(), lock_path("k").as_ref().len());
        assert_ne!(lock_path("a"), lock_path("b"));
        assert!(lock_path("x").as_ref().starts_with(LOCK_PREFIX));
    }

    #[test]
    fn own_body_parses_back() {
        let body = lock_body("valid-data/x=1/a.csv", Duration::from_secs(10), 3);
        let bytes: Vec<u8> = body.iter().flat_map(|b| b.to_vec()).collect();
        let owner = parse_owner(&bytes);
        assert_eq!(owner.process.as_deref(), Some(identity().process.as_str()));
        assert_eq!(owner.heartbeat, Duration::from_secs(10));
        // This process's own lock, examined while it holds the claim: a leftover.
        assert!(holder_is_gone(&owner));
    }

    #[test]
    fn foreign_and_dead_holders() {
        let me = identity();
        let foreign = Owner { machine: Some("elsewhere".into()), pid: Some("1".into()), ..Owner::default() };
        assert!(!holder_is_gone(&foreign), "another machine: wait for the TTL");
        if me.machine.is_some() {
            // PID 1 runs (on this machine); a huge PID does not.
            let alive = Owner { machine: me.machine.clone(), pid: Some("1".into()), ..Owner::default() };
            assert!(!holder_is_gone(&alive));
            let dead = Owner { machine: me.machine.clone(), pid: Some("4194304999".into()), ..Owner::default() };
            assert!(holder_is_gone(&dead));
            let reused = Owner {
                machine: me.machine.clone(),
                pid: Some(me.pid.to_string()),
                pid_start: Some("0".into()),
                process: Some("another".into()),
                ..Owner::default()
            };
            assert!(holder_is_gone(&reused), "same PID, other start time: the PID was reused");
        }
    }
}
