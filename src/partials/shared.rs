//! Partial states shared by replicas through Redis, and invalidations by pub/sub.
//!
//! Redis is a help, never a dependency: every call has a deadline; a failure is counted,
//! logged once until Redis answers again, and the query goes on as if nothing were cached.
//! The connection is made again on the next call after a failure (at most once a second).

use std::{
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use super::{
    PartialCache, PartialKey, PartialState, encoding,
    key::redis_pattern,
    resp::{Connection, RedisUrl, Reply, command},
};
use crate::config::SharedCacheConfig;

/// The pub/sub channel of invalidations; the message is the table, or `*` for all.
const CHANNEL: &str = "vastgate:partials:invalidate";
/// Least time between two connection attempts after a failure.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// The Redis side of the partial cache.
#[derive(Debug)]
pub(crate) struct SharedPartials {
    url: RedisUrl,
    connection: tokio::sync::Mutex<Option<Connection>>,
    last_attempt: Mutex<Option<Instant>>,
    ttl: Duration,
    timeout: Duration,
    errors: AtomicU64,
    hits: AtomicU64,
    /// Set after a failure was logged, cleared when Redis answers again.
    failing: AtomicBool,
}

impl SharedPartials {
    pub(crate) fn new(config: &SharedCacheConfig) -> Result<Arc<Self>, String> {
        let url = RedisUrl::parse(&config.redis_url)
            .map_err(|e| format!("cache.shared.redis_url: {e}"))?;
        Ok(Arc::new(Self {
            url,
            connection: tokio::sync::Mutex::new(None),
            last_attempt: Mutex::new(None),
            ttl: config.ttl,
            timeout: config.timeout,
            errors: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        }))
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Relaxed)
    }

    fn failed(&self, what: &str, err: &str) {
        self.errors.fetch_add(1, Relaxed);
        if !self.failing.swap(true, Relaxed) {
            tracing::warn!(
                err,
                "Redis {what} failed; answering without the shared cache until it is back"
            );
        }
    }

    fn answered(&self) {
        if self.failing.swap(false, Relaxed) {
            tracing::info!("Redis answers again; sharing partial states");
        }
    }

    /// Sends `commands` (pipelined) within the deadline and returns their replies; None
    /// (counted, logged) on any failure, after which the connection is made again.
    async fn run(&self, what: &str, commands: &[Vec<u8>]) -> Option<Vec<Reply>> {
        let attempt = async {
            let mut slot = self.connection.lock().await;
            if slot.is_none() {
                {
                    let mut last = self.last_attempt.lock().unwrap_or_else(|p| p.into_inner());
                    if last.is_some_and(|t| t.elapsed() < RECONNECT_EVERY) {
                        return Err("not connected (waiting to connect again)".to_owned());
                    }
                    *last = Some(Instant::now());
                }
                let connection = Connection::open(&self.url, self.timeout)
                    .await
                    .map_err(|e| format!("connecting to {}: {e}", self.url.address))?;
                *slot = Some(connection);
            }
            let connection = slot.as_mut().ok_or("not connected")?;
            let replies = connection.pipeline(commands).await;
            if replies.is_err() {
                *slot = None;
            }
            replies.map_err(|e| e.to_string())
        };
        let err = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(replies)) => {
                self.answered();
                return Some(replies);
            }
            Ok(Err(err)) => err,
            Err(_) => {
                // The connection may be mid-reply: start over.
                *self.connection.lock().await = None;
                format!("no answer within {:?}", self.timeout)
            }
        };
        self.failed(what, &err);
        None
    }

    /// The states Redis holds of `buckets` under `key` that decode as that key's; the rest
    /// (absent, or unreadable: ignored and computed again) are not returned.
    pub(crate) async fn get_many(
        &self,
        key: &PartialKey,
        buckets: &[i64],
    ) -> Vec<(i64, PartialState)> {
        let keys: Vec<String> = buckets.iter().map(|&b| key.redis_key(b)).collect();
        let mut args: Vec<&[u8]> = vec![b"MGET"];
        args.extend(keys.iter().map(|k| k.as_bytes()));
        let Some(mut replies) = self.run("read", &[command(&args)]).await else {
            return Vec::new();
        };
        let Some(Reply::Array(values)) = replies.pop() else {
            self.failed("read", "MGET answered something other than a list");
            return Vec::new();
        };
        let mut found = Vec::new();
        for (&bucket, value) in buckets.iter().zip(values) {
            let Reply::Bulk(bytes) = value else { continue };
            match encoding::decode(&key.text(bucket), &bytes) {
                Ok(state) => found.push((bucket, state)),
                Err(err) => tracing::debug!(%err, bucket, "ignoring a partial state in Redis"),
            }
        }
        self.hits.fetch_add(found.len() as u64, Relaxed);
        found
    }

    /// Writes `states` in the background (a query never waits for Redis to store).
    pub(crate) fn put_many(
        self: &Arc<Self>,
        key: &PartialKey,
        states: Vec<(i64, Arc<PartialState>)>,
    ) {
        let ttl = self.ttl.as_secs().max(1).to_string();
        let mut commands = Vec::with_capacity(states.len());
        for (bucket, state) in &states {
            match encoding::encode(&key.text(*bucket), state) {
                Ok(bytes) => commands.push(command(&[
                    b"SET",
                    key.redis_key(*bucket).as_bytes(),
                    &bytes,
                    b"EX",
                    ttl.as_bytes(),
                ])),
                Err(err) => tracing::warn!(%err, "encoding a partial state"),
            }
        }
        if commands.is_empty() {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            this.run("write", &commands).await;
        });
    }

    /// Deletes the states of `table` (all when `None`) from Redis and tells every replica to
    /// drop theirs.
    pub(crate) async fn invalidate(&self, table: Option<&str>) {
        let pattern = redis_pattern(table);
        let mut cursor = "0".to_owned();
        loop {
            let scan = command(&[
                b"SCAN",
                cursor.as_bytes(),
                b"MATCH",
                pattern.as_bytes(),
                b"COUNT",
                b"1000",
            ]);
            let Some(mut replies) = self.run("invalidate", &[scan]).await else {
                break;
            };
            let Some(Reply::Array(mut parts)) = replies.pop() else {
                break;
            };
            let (Some(Reply::Array(keys)), Some(Reply::Bulk(next))) = (parts.pop(), parts.pop())
            else {
                break;
            };
            let keys: Vec<Vec<u8>> = keys
                .into_iter()
                .filter_map(|k| match k {
                    Reply::Bulk(k) => Some(k),
                    _ => None,
                })
                .collect();
            if !keys.is_empty() {
                let mut args: Vec<&[u8]> = vec![b"DEL"];
                args.extend(keys.iter().map(Vec::as_slice));
                self.run("invalidate", &[command(&args)]).await;
            }
            cursor = String::from_utf8_lossy(&next).into_owned();
            if cursor == "0" {
                break;
            }
        }
        let message = table.unwrap_or("*");
        let publish = command(&[b"PUBLISH", CHANNEL.as_bytes(), message.as_bytes()]);
        self.run("publish", &[publish]).await;
    }

    /// Listens for invalidations (this replica's and the others') for as long as `cache`
    /// lives, subscribing again whenever the subscription breaks.
    pub(crate) fn listen_for_invalidations(&self, cache: Weak<PartialCache>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime to listen for partial-state invalidations on");
            return;
        };
        let (url, timeout) = (self.url.clone(), self.timeout);
        runtime.spawn(async move {
            while cache.strong_count() > 0 {
                if let Err(err) = listen(&url, timeout, &cache).await {
                    tracing::debug!(%err, "partial-state invalidations: subscribing again");
                }
                tokio::time::sleep(RECONNECT_EVERY).await;
            }
        });
    }
}

/// One subscription: drops the tables named on the channel until the connection breaks.
async fn listen(
    url: &RedisUrl,
    timeout: Duration,
    cache: &Weak<PartialCache>,
) -> std::io::Result<()> {
    let mut connection = Connection::open(url, timeout).await?;
    connection.call(&[b"SUBSCRIBE", CHANNEL.as_bytes()]).await?;
    loop {
        let Reply::Array(parts) = connection.read().await? else {
            continue;
        };
        let [Reply::Bulk(kind), _, Reply::Bulk(payload)] = parts.as_slice() else {
            continue;
        };
        if kind.as_slice() != b"message" {
            continue;
        }
        let Some(cache) = cache.upgrade() else {
            return Ok(());
        };
        let table = String::from_utf8_lossy(payload);
        cache.drop_local((table != "*").then_some(table.as_ref()));
    }
}
